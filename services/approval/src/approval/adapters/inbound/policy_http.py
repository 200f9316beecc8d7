"""HTTP routes of the company's approval policy — tiers and approver limits (``/api/approvals/policy``; ADR 0025).
Thin: request → use case → response.

Added to the orders' router (:func:`approval.adapters.inbound.http.orders_router`): the same caller, fence and worker
pool. Under ``/api/approvals``, which the gateway routes to approval already."""

# No `from __future__ import annotations` here: FastAPI resolves the dependencies declared in closures.

from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, StringConstraints, field_validator
from pydantic_core import PydanticCustomError

from approval.adapters.inbound.people import PersonOut
from approval.application.orders import Orders
from approval.domain.members import Member, Names
from approval.domain.model import Order
from approval.domain.tiers import TIER_APPROVERS_MAX, TIERS_MAX, ApprovalPolicy, Revision, Tier
from kc_runtime.eventstore import WorkerPool
from kc_runtime.models import Strict

_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}

RoleId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class TierIn(Strict):
    """One tier: who decides here — the people named and/or whoever holds a role — and up to which order value."""

    max_value: Decimal = Field(
        gt=0,
        le=Decimal("1000000000"),
        max_digits=14,
        decimal_places=2,
        description="The order value (inclusive, in the policy's currency) up to which an approval at this tier "
        "releases the order; above it, the approval lifts the order to the next tier",
    )
    approver_ids: list[UUID] = Field(
        default_factory=list,
        max_length=TIER_APPROVERS_MAX,
        json_schema_extra={"uniqueItems": True},
        description="Users of the company who may approve orders (a named approver, the approve permission, or the "
        "main contact)",
    )
    role_id: RoleId | None = Field(
        default=None, description="A role (e.g. `approver`, or a custom role's id): whoever holds it decides here too"
    )

    @field_validator("approver_ids")
    @classmethod
    def _each_once(cls, value: list[UUID]) -> list[UUID]:
        if len(set(value)) != len(value):
            raise PydanticCustomError("duplicate_approver_ids", "Each person may be named once per tier")
        return value


class PolicyIn(Strict):
    """A new version of the policy. No tiers: the default — the company's approver list, else the main contact."""

    tiers: list[TierIn] = Field(
        max_length=TIERS_MAX,
        description=f"In ascending limits (at most {TIERS_MAX}); above the last, the main contact decides without limit",
    )
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = Field(
        default=None, description="The limits' currency: the company's (default)"
    )
    escalation: Literal["climb", "direct"] = Field(
        default="climb",
        description="`climb`: an order over budget starts at the first tier and climbs tier by tier until an "
        "approval at a tier whose limit covers it; `direct`: it starts at the lowest tier whose limit covers it",
    )

    def to_domain(self) -> list[Tier]:
        return [Tier(t.max_value, tuple(t.approver_ids), t.role_id) for t in self.tiers]


class MoneyOut(BaseModel):
    amount: Decimal
    currency: str


class TierOut(BaseModel):
    tier: int = Field(description="1 for the first")
    max_value: MoneyOut
    approvers: list[PersonOut] = Field(description="The people named")
    role_id: str | None = None


class RevisionOut(BaseModel):
    version: int
    tiers: int = Field(description="How many tiers (0: the default)")
    escalation: str
    defined_by: PersonOut
    defined_at: datetime


class PolicyOut(BaseModel):
    version: int | None = Field(description="The policy's version, which each order routed by it records (null: never "
                                "defined — the default)")  # fmt: skip
    default: bool = Field(description="True: no tiers — the approver list decides, else the main contact")
    escalation: str
    currency: str | None
    tiers: list[TierOut]
    top: str = Field(default="main_contact", description="Who decides above the last tier: the main contact")
    defined_by: PersonOut | None
    defined_at: datetime | None
    revisions: list[RevisionOut] = Field(description="Every version, oldest first: who defined it when (the audit)")


def policy_out(policy: ApprovalPolicy | None, names: Names) -> PolicyOut:
    def person(i: UUID) -> PersonOut:
        return PersonOut.of(i, names)

    if policy is None:
        return PolicyOut(
            version=None, default=True, escalation="climb", currency=None, tiers=[], defined_by=None, defined_at=None,
            revisions=[],
        )  # fmt: skip
    cur = policy.currency or "EUR"
    return PolicyOut(
        version=policy.version,
        default=not policy.tiered,
        escalation=policy.escalation,
        currency=policy.currency,
        tiers=[
            TierOut(
                tier=n,
                max_value=MoneyOut(amount=t.max_value, currency=cur),
                approvers=[person(a) for a in t.approver_ids],
                role_id=t.role_id,
            )
            for n, t in enumerate(policy.tiers, start=1)
        ],
        defined_by=person(policy.defined_by),
        defined_at=policy.defined_at,
        revisions=[_revision(r, person) for r in policy.revisions],
    )


def _revision(r: Revision, person: Callable[[UUID], PersonOut]) -> RevisionOut:
    return RevisionOut(version=r.version, tiers=len(r.tiers), escalation=r.escalation, defined_by=person(r.by),
                       defined_at=r.at)  # fmt: skip


def _people(policy: ApprovalPolicy | None) -> set[UUID]:
    if policy is None:
        return set()
    return {a for t in policy.tiers for a in t.approver_ids} | {r.by for r in policy.revisions}


class TierApprovalOut(BaseModel):
    tier: int
    by: PersonOut
    on_behalf_of: PersonOut | None = None
    at: datetime


class ApprovalTierOut(BaseModel):
    """Where an order over budget waits under the company's tiered approval policy (ADR 0025)."""

    tier: int = Field(description="1 for the first; one above the policy's last tier: the main contact")
    max_value: MoneyOut | None = Field(
        description="An approval here releases the order up to this value; above it, the order climbs (null: the "
        "main contact, without limit)"
    )
    policy_version: int = Field(description="The version of the approval policy the order was judged on")
    approved_below: list[TierApprovalOut] = Field(description="This round's approvals at the tiers below")


def approval_tier_out(order: Order, names: Names) -> ApprovalTierOut | None:
    p = order.position
    if p is None:
        return None

    def person(i: UUID) -> PersonOut:
        return PersonOut.of(i, names)

    limit = MoneyOut(amount=p.limit, currency=p.currency or order.content.currency) if p.limit is not None else None
    return ApprovalTierOut(
        tier=p.tier, max_value=limit, policy_version=p.policy_version,
        approved_below=[
            TierApprovalOut(tier=a.tier, by=person(a.approver_id),
                            on_behalf_of=person(a.on_behalf_of) if a.on_behalf_of else None, at=a.at)
            for a in order.tier_approvals
        ],
    )  # fmt: skip


def order_people(order: Order) -> set[UUID]:
    """Whom :func:`approval_tier_out` names."""
    return {i for a in order.tier_approvals for i in (a.approver_id, a.on_behalf_of) if i}


WHO = (
    "The main contact and who manages users (`manage_users`) define the policy; they and whoever may approve orders "
    "see it (others: 403 `not_allowed`). Always the caller's own company's."
)


def add_policy_routes(
    router: APIRouter, orders: Orders, blocking: WorkerPool, member: Callable[..., Awaitable[Member]]
) -> None:
    """The routes of the approval policy on ``router``; ``member``: the dependency that yields the calling member."""
    Me = Annotated[Member, Depends(member)]

    def respond(policy: ApprovalPolicy | None) -> PolicyOut:
        return policy_out(policy, orders.names(_people(policy)))

    @router.get(
        "/api/approvals/policy",
        response_model=PolicyOut,
        tags=["approval policy"],
        summary="The company's approval policy: tiers with their approvers and limits (or the default)",
        description=WHO,
        responses={403: {"description": "`not_allowed`", "content": _ERROR}},
    )
    async def get_policy(me: Me) -> PolicyOut:
        return await blocking.run(lambda: respond(orders.approval_policy(me)))

    @router.put(
        "/api/approvals/policy",
        response_model=PolicyOut,
        tags=["approval policy"],
        summary="Define the company's approval policy (a new version): tiers in ascending limits, each with its "
        "approvers (people and/or a role); no tiers — the default",
        description=WHO
        + " An order over budget waits at one tier at a time: an approval at a tier whose limit covers the order "
        "releases it, one below lifts it to the next tier (the next tier's approvers get the approval request by "
        "e-mail), up to the main contact, who decides without limit. The buyer never decides their own order, and "
        "nobody approves one order at two tiers (tiers with nobody else are passed over). Orders already waiting keep "
        "the version they were judged on until a re-evaluation (`POST /api/orders/re-evaluations`). Refused with "
        "422: `limits_not_ascending`, `no_tier_approvers` (a tier names nobody), `currency_mismatch` (not the "
        "company's currency), `not_an_approver` (a person named may not approve orders), `invalid_policy`; a person "
        "of another company, like an unknown id, is 404 `not_found`.",
        responses={
            403: {"description": "`not_allowed`", "content": _ERROR},
            404: {"description": "`not_found`: a person named", "content": _ERROR},
        },
    )
    async def put_policy(body: PolicyIn, me: Me) -> PolicyOut:
        def run() -> Any:
            return respond(orders.define_approval_policy(me, body.to_domain(), body.currency, body.escalation))

        return await blocking.run(run)
