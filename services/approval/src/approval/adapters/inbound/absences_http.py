"""HTTP routes of absences and substitutes (``/api/absences``; ADR 0020). Thin: request → use case → response.

Added to the orders' router (:func:`approval.adapters.inbound.http.orders_router`): the same caller, fence and
worker pool."""

# No `from __future__ import annotations` here: FastAPI resolves the dependencies declared in closures.

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, status
from pydantic import AwareDatetime, BaseModel, Field, field_validator
from pydantic_core import PydanticCustomError

from approval.adapters.inbound.people import PersonOut
from approval.adapters.outbound.read_model import OrderSummaries
from approval.application.orders import OFFERED_WAITING_MAX, Orders
from approval.domain.absences import LONGEST, Absence, AbsenceState
from approval.domain.members import Member, Names
from kc_runtime.eventstore import WorkerPool
from kc_runtime.models import Strict

_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}


class AbsenceIn(Strict):
    """An absence to record: who is away (default: the caller), when, and who decides for them meanwhile."""

    approver_id: UUID | None = Field(
        default=None,
        description="Who is away (default: the caller). Another person's absence is recorded by the main contact "
        "or by who manages users",
    )
    substitute_id: UUID = Field(description="Who decides for them meanwhile: an active user who may approve orders")
    starts_at: AwareDatetime = Field(alias="from", description="Start (inclusive), ISO 8601 with a time zone offset")
    ends_at: AwareDatetime = Field(
        alias="until",
        description=f"End (exclusive), after `from` and in the future; at most {LONGEST.days} days after `from`",
    )

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _in_utc(cls, value: datetime) -> datetime:
        try:
            return value.astimezone(UTC)
        except (OverflowError, ValueError) as exc:
            raise PydanticCustomError("invalid_period", "Not a moment this service can keep") from exc


class AbsenceOut(BaseModel):
    """An absence with its audit: who recorded it when, and who withdrew it when."""

    id: UUID
    approver: PersonOut = Field(description="Who is away")
    substitute: PersonOut = Field(description="Who decides for them meanwhile")
    starts_at: datetime = Field(alias="from")
    ends_at: datetime = Field(alias="until", description="Exclusive")
    state: AbsenceState = Field(
        description="Now: not begun, in force (the absent approver's orders are offered to the substitute), ended, "
        "or withdrawn before its end"
    )
    recorded_by: PersonOut
    recorded_at: datetime
    withdrawn_by: PersonOut | None = None
    withdrawn_at: datetime | None = None


class AbsencesOut(BaseModel):
    items: list[AbsenceOut]


def absence_out(a: Absence, names: Names, now: datetime) -> AbsenceOut:
    def person(i: UUID) -> PersonOut:
        return PersonOut.of(i, names)

    return AbsenceOut.model_validate(
        {
            "id": a.id, "approver": person(a.approver_id), "substitute": person(a.substitute_id),
            "from": a.starts_at, "until": a.ends_at, "state": a.state(now), "recorded_by": person(a.recorded_by),
            "recorded_at": a.recorded_at, "withdrawn_by": person(a.withdrawn_by) if a.withdrawn_by else None,
            "withdrawn_at": a.withdrawn_at,
        }
    )  # fmt: skip


def _people(absences: list[Absence]) -> set[UUID]:
    return {i for a in absences for i in (a.approver_id, a.substitute_id, a.recorded_by, a.withdrawn_by) if i}


WHO_SEES = (
    "An absence is seen by the absent person, their substitute, the main contact and who manages users; to anyone "
    "else, and for another company's, it is not found (404)."
)


def add_absence_routes(
    router: APIRouter,
    orders: Orders,
    summaries: OrderSummaries,
    blocking: WorkerPool,
    member: Callable[..., Awaitable[Member]],
) -> None:
    """The routes of absences on ``router``; ``member``: the dependency that yields the calling member (verified,
    fenced)."""
    Me = Annotated[Member, Depends(member)]

    def respond(run: Callable[[], list[Absence]]) -> list[AbsenceOut]:
        found = run()
        names = orders.names(_people(found))
        now = orders.clock()
        return [absence_out(a, names, now) for a in found]

    def one(run: Callable[[], Absence]) -> AbsenceOut:
        (out,) = respond(lambda: [run()])
        return out

    @router.post(
        "/api/absences",
        status_code=status.HTTP_201_CREATED,
        response_model=AbsenceOut,
        response_model_by_alias=True,
        tags=["absences"],
        summary="Record an absence: while it is in force, the absent approver's orders are also offered to the "
        "substitute",
        description="The caller records their own absence if they may approve orders (a named approver, the approve "
        "permission, or the main contact); the main contact and who manages users record anyone's (else 403 "
        "`not_allowed`). Absent person and substitute are users of the caller's company (another company's are 404 "
        "`not_found`, like ids that do not exist). Refused with 422: `invalid_period` (`until` not after `from`), "
        f"`period_too_long` (over {LONGEST.days} days), `period_over` (`until` has passed), `not_an_approver` (the "
        "absent person decides no orders), `invalid_substitute` (the absent person themselves, inactive, or may not "
        "approve). While the absence is in force — judged at each request — the orders routed to the absent approver "
        "are in the substitute's inbox and theirs to decide on the approver's behalf, except their own orders (four "
        "eyes); the absent approver still decides them too. Orders waiting at the moment an absence in force is "
        "recorded, and orders routed during it, are mailed to the substitute.",
        responses={
            403: {"description": "`not_allowed`", "content": _ERROR},
            404: {"description": "`not_found`: the absent person or the substitute", "content": _ERROR},
        },
    )
    async def record(body: AbsenceIn, me: Me) -> AbsenceOut:
        waiting = await summaries.pending_routed_to(me.company_id, body.approver_id or me.id, OFFERED_WAITING_MAX)

        def run() -> Absence:
            return orders.record_absence(
                me, body.substitute_id, body.starts_at, body.ends_at, body.approver_id, waiting
            )

        return await blocking.run(lambda: one(run))

    @router.get(
        "/api/absences",
        response_model=AbsencesOut,
        response_model_by_alias=True,
        tags=["absences"],
        summary="The absences the caller may see, by start: upcoming and in force (with `include_past`, also ended "
        "and withdrawn ones)",
        description=WHO_SEES,
    )
    async def list_absences(me: Me, include_past: Annotated[bool, Query()] = False) -> AbsencesOut:
        return AbsencesOut(items=await blocking.run(lambda: respond(lambda: orders.absences(me, include_past))))

    @router.get(
        "/api/absences/{absence_id}",
        response_model=AbsenceOut,
        response_model_by_alias=True,
        tags=["absences"],
        summary="One absence with who recorded and withdrew it, when",
        description=WHO_SEES,
    )
    async def get_absence(absence_id: UUID, me: Me) -> AbsenceOut:
        return await blocking.run(lambda: one(lambda: orders.absence(me, absence_id)))

    @router.delete(
        "/api/absences/{absence_id}",
        response_model=AbsenceOut,
        response_model_by_alias=True,
        tags=["absences"],
        summary="Withdraw an absence: it ends now (or never begins); the substitute is no longer offered the orders",
        description="The absent person, the main contact or who manages users (the substitute: 403 `not_allowed`). "
        + WHO_SEES
        + " An absence withdrawn or ended already: 409 `wrong_state`. The absence stays in the list (`include_past`) "
        "with who withdrew it, when.",
    )
    async def withdraw(absence_id: UUID, me: Me) -> AbsenceOut:
        return await blocking.run(lambda: one(lambda: orders.withdraw_absence(me, absence_id)))
