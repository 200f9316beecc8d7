"""HTTP routes of the company's deadlines for waiting orders — remind, escalate, expire (``/api/approvals/deadlines``;
issue 17 item 2, ADR 0033). Thin: request → use case → response.

Added to the orders' router (:func:`approval.adapters.inbound.http.orders_router`): the same caller, fence and worker
pool. Under ``/api/approvals``, which the gateway routes to approval already."""

# No `from __future__ import annotations` here: FastAPI resolves the dependencies declared in closures.

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from approval.application.orders import Orders
from approval.domain.deadlines import CompanyDeadlines, Deadlines
from approval.domain.members import Member
from kc_runtime.eventstore import WorkerPool
from kc_runtime.models import Strict

_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}

_DURATION = (
    "An ISO 8601 duration (e.g. `PT4H`, `P2D`) counted from when the order began waiting at its current step, in "
    "calendar time (not business hours); null: this step is not taken"
)


class DeadlinesIn(Strict):
    """The company's deadlines; each later than the one before. At least the service's shortest deadline (1 hour
    unless configured otherwise) and at most 365 days each."""

    remind_after: timedelta | None = Field(default=None, description=f"Remind the approvers. {_DURATION}")
    escalate_after: timedelta | None = Field(
        default=None,
        description="Escalate: under approval tiers to the next tier up, else to the main contact, who is added to "
        f"the approvers. {_DURATION}",
    )
    expire_after: timedelta | None = Field(
        default=None, description=f"Expire the order: the buyer is told and may send it again. {_DURATION}"
    )

    def to_domain(self) -> Deadlines:
        return Deadlines.of(self.remind_after, self.escalate_after, self.expire_after)


class DeadlinesOut(BaseModel):
    remind_after: timedelta | None = Field(description="ISO 8601 duration; null: no reminder")
    escalate_after: timedelta | None = Field(description="ISO 8601 duration; null: no escalation")
    expire_after: timedelta | None = Field(description="ISO 8601 duration; null: orders do not expire")
    changed_by: UUID | None = Field(description="Who set them last (null: never set)")
    changed_at: datetime | None
    version: int | None = Field(description="null: never set")


def deadlines_out(kept: CompanyDeadlines | None) -> DeadlinesOut:
    d = kept.deadlines if kept is not None else Deadlines()

    def td(s: int | None) -> timedelta | None:
        return None if s is None else timedelta(seconds=s)

    return DeadlinesOut(
        remind_after=td(d.remind_after_s),
        escalate_after=td(d.escalate_after_s),
        expire_after=td(d.expire_after_s),
        changed_by=kept.changed_by if kept is not None else None,
        changed_at=kept.changed_at if kept is not None else None,
        version=kept.version if kept is not None else None,
    )


WHO = "The main contact's (others: 403 `not_allowed`). Always the caller's own company's."


def add_deadline_routes(
    router: APIRouter, orders: Orders, blocking: WorkerPool, member: Callable[..., Awaitable[Member]]
) -> None:
    """The routes of the deadlines on ``router``; ``member``: the dependency that yields the calling member."""
    Me = Annotated[Member, Depends(member)]

    @router.get(
        "/api/approvals/deadlines",
        response_model=DeadlinesOut,
        tags=["approval deadlines"],
        summary="The company's deadlines for orders waiting for approval: remind, escalate, expire",
        description=WHO,
        responses={403: {"description": "`not_allowed`", "content": _ERROR}},
    )
    async def get_deadlines(me: Me) -> DeadlinesOut:
        return await blocking.run(lambda: deadlines_out(orders.deadlines(me)))

    @router.put(
        "/api/approvals/deadlines",
        response_model=DeadlinesOut,
        tags=["approval deadlines"],
        summary="Set the company's deadlines for orders waiting for approval",
        description=WHO
        + " Orders waiting already are judged on them from now on, counted from when each began to wait; each step "
        "is taken once per wait, within the service's timer interval after its time (30 s unless configured). When "
        "several steps are due at once, only the furthest is taken. Refused with 422 `invalid_deadlines` (out of "
        "order, shorter than the service allows, longer than 365 days).",
        responses={403: {"description": "`not_allowed`", "content": _ERROR}},
    )
    async def put_deadlines(body: DeadlinesIn, me: Me) -> DeadlinesOut:
        return await blocking.run(lambda: deadlines_out(orders.set_deadlines(me, body.to_domain())))
