"""HTTP route of the what-if (``POST /api/reports/what-if``, ADR 0030): a proposed change of a buyer's budget, the
approver list or the approval policy, replayed on a past period's orders. Thin: request → use case → response.
Nothing is stored and nothing is sent: the route reads the what-if's projection and approval's view of the company."""

# No `from __future__ import annotations` here: FastAPI resolves the dependencies declared in closures.

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, StringConstraints

from approval.adapters.inbound.callers import Callers
from approval.adapters.inbound.people import PersonOut
from approval.adapters.inbound.policy_http import PolicyIn
from approval.adapters.outbound.what_if_facts import WhatIfStore
from approval.application.orders import Orders
from approval.application.what_if import (
    CHANGES_MAX,
    SAMPLE_MAX,
    ApproversChange,
    BudgetChange,
    Outcome,
    PolicyChange,
    Routing,
    Tally,
    WhatIfs,
    outcome,
    policy_object,
    replay,
)
from approval.domain.budget import Budget, PeriodBudget
from approval.domain.members import Member, Names
from approval.domain.tiers import TIER_APPROVERS_MAX
from kc_runtime.auth import Caller
from kc_runtime.eventstore import WorkerPool
from kc_runtime.models import Strict

Moment = Annotated[str, StringConstraints(max_length=40, strip_whitespace=True)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}


class MoneyIn(Strict):
    amount: Decimal = Field(ge=0, le=Decimal("1000000000000"), max_digits=18, decimal_places=4, allow_inf_nan=False)
    currency: Currency


class PeriodBudgetIn(Strict):
    period: Literal["month", "quarter", "year"]
    max_value: MoneyIn
    max_total_quantity: int | None = Field(default=None, ge=0, le=1_000_000_000, description="null: unlimited")


class BudgetIn(Strict):
    """As users' budget: per-order limits (null or absent: unlimited) and a period budget — absent keeps the period
    budget each order was judged on, null removes it."""

    max_total_quantity: int | None = Field(default=None, ge=0, le=1_000_000_000)
    max_order_value: MoneyIn | None = None
    period_budget: PeriodBudgetIn | None = None


class BudgetChangeIn(Strict):
    """What if this user's budget had been this one."""

    kind: Literal["budget"]
    user_id: UUID
    budget: BudgetIn

    def to_domain(self) -> BudgetChange:
        b, v, p = self.budget, self.budget.max_order_value, self.budget.period_budget
        period = PeriodBudget(p.period, p.max_value.amount, p.max_value.currency, p.max_total_quantity) if p else None
        return BudgetChange(
            self.user_id,
            Budget(b.max_total_quantity, v.amount if v else None, v.currency if v else None, period),
            keeps_period="period_budget" not in b.model_fields_set,
        )


class ApproversChangeIn(Strict):
    """What if the company's approver list had been this one (empty: none — the main contact decides)."""

    kind: Literal["approvers"]
    approvers: list[UUID] = Field(max_length=TIER_APPROVERS_MAX, json_schema_extra={"uniqueItems": True})

    def to_domain(self) -> ApproversChange:
        return ApproversChange(tuple(dict.fromkeys(self.approvers)))


class PolicyChangeIn(PolicyIn):
    """What if the company's approval policy had been this one (ADR 0025; no tiers: the approver list decides)."""

    kind: Literal["policy"]

    def to_change(self) -> PolicyChange:
        return PolicyChange(tuple(self.to_domain()), self.currency, self.escalation)


Change = Annotated[BudgetChangeIn | ApproversChangeIn | PolicyChangeIn, Field(discriminator="kind")]


class WhatIfIn(Strict):
    from_: Moment | None = Field(
        default=None, alias="from", description="A date (midnight, Europe/Berlin) or a date-time with an offset; "
        "default: the start of the current month"
    )  # fmt: skip
    until: Moment | None = Field(default=None, description="Exclusive; default: the end of the current month")
    changes: list[Change] = Field(min_length=1, max_length=CHANGES_MAX)

    model_config = {"populate_by_name": True, "extra": "forbid"}


class Money(BaseModel):
    amount: Decimal = Field(description="A decimal string, exact")
    currency: str


class Person(PersonOut):
    """A person (``PersonOut``'s shape)."""


class PeriodOut(BaseModel):
    from_: datetime = Field(alias="from", description="Inclusive")
    until: datetime = Field(description="Exclusive")

    model_config = {"populate_by_name": True}


class CountOut(BaseModel):
    currency: str
    orders: int
    value: Money


class SideOut(BaseModel):
    needing_approval: list[CountOut] = Field(description="Per currency")
    within_budget: list[CountOut] = Field(description="Per currency: released without an approval")


class LoadOut(BaseModel):
    approver: Person
    actual_orders: int = Field(description="Orders routed to this person")
    proposed_orders: int
    difference: int
    actual_value: list[Money]
    proposed_value: list[Money]


class RoutingOut(BaseModel):
    needs_approval: bool
    limits: list[str] = Field(description="The limits exceeded: max_quantity, max_value, period_value, period_quantity")
    approvers: list[Person]
    tier: int | None = Field(description="Under a tiered policy: the tier it starts at")


class ChangedOrderOut(BaseModel):
    order_id: UUID
    buyer: Person
    submitted_at: datetime
    value: Money
    actual: RoutingOut
    proposed: RoutingOut


class ChangesOut(BaseModel):
    orders: int = Field(description="Orders whose routing changes")
    more_approval: int = Field(description="Now needing approval, before not")
    less_approval: int = Field(description="Before needing approval, now not")
    rerouted: int = Field(description="Needing approval either way, by other people")
    value: list[Money] = Field(description="The value of the orders whose routing changes, per currency")
    sample: list[ChangedOrderOut] = Field(description=f"The first of them by submission (at most {SAMPLE_MAX})")


class WhatIfOut(BaseModel):
    """The period's orders of the caller's company as routed, and as they would have been routed under the proposal."""

    period: PeriodOut
    orders: int = Field(description="The orders submitted in the period")
    actual: SideOut
    proposed: SideOut
    difference: list[CountOut] = Field(description="Per currency: orders needing approval, proposed minus actual")
    load: list[LoadOut] = Field(description="Per approver: the orders routed to them (an order routed to several "
                                "people counts for each)")  # fmt: skip
    changes: ChangesOut


def _side(t: Tally) -> SideOut:
    def counts(held: bool) -> list[CountOut]:
        return [
            CountOut(currency=c, orders=v[0], value=Money(amount=v[1], currency=c))
            for (c, h), v in sorted(t.orders.items())
            if h is held and v[0]
        ]

    return SideOut(needing_approval=counts(True), within_budget=counts(False))


def build(out: Outcome, names: Names) -> WhatIfOut:
    def person(i: UUID) -> Person:
        return Person.of(i, names)

    def routing(r: Routing) -> RoutingOut:
        return RoutingOut(
            needs_approval=r.held, limits=list(r.limits), approvers=[person(a) for a in r.approvers], tier=r.tier
        )

    currencies = sorted({c for c, _ in out.actual.orders} | {c for c, _ in out.proposed.orders})
    difference = []
    for c in currencies:
        a = out.actual.orders.get((c, True), [0, Decimal(0)])
        p = out.proposed.orders.get((c, True), [0, Decimal(0)])
        difference.append(CountOut(currency=c, orders=p[0] - a[0], value=Money(amount=p[1] - a[1], currency=c)))
    approvers = sorted({a for a, _ in out.actual.load} | {a for a, _ in out.proposed.load})
    load = []
    for who in approvers:
        mine_a = {c: v for (x, c), v in out.actual.load.items() if x == who and v[0]}
        mine_p = {c: v for (x, c), v in out.proposed.load.items() if x == who and v[0]}
        if not (mine_a or mine_p):
            continue
        n_a, n_p = sum(v[0] for v in mine_a.values()), sum(v[0] for v in mine_p.values())
        load.append(
            LoadOut(
                approver=person(who), actual_orders=n_a, proposed_orders=n_p, difference=n_p - n_a,
                actual_value=[Money(amount=v[1], currency=c) for c, v in sorted(mine_a.items())],
                proposed_value=[Money(amount=v[1], currency=c) for c, v in sorted(mine_p.items())],
            )
        )  # fmt: skip
    load.sort(key=lambda x: (-abs(x.difference), -x.proposed_orders, str(x.approver.id)))
    value: dict[str, Decimal] = {}
    for ch in out.changed:
        value[ch.fact.currency] = value.get(ch.fact.currency, Decimal(0)) + ch.fact.value
    orders = sum(v[0] for v in out.actual.orders.values())
    return WhatIfOut(
        period=PeriodOut.model_validate({"from": out.start, "until": out.end}),
        orders=orders,
        actual=_side(out.actual),
        proposed=_side(out.proposed),
        difference=difference,
        load=load,
        changes=ChangesOut(
            orders=len(out.changed),
            more_approval=sum(1 for ch in out.changed if ch.proposed.held and not ch.actual.held),
            less_approval=sum(1 for ch in out.changed if ch.actual.held and not ch.proposed.held),
            rerouted=sum(1 for ch in out.changed if ch.actual.held and ch.proposed.held),
            value=[Money(amount=v, currency=c) for c, v in sorted(value.items())],
            sample=[
                ChangedOrderOut(
                    order_id=ch.fact.order_id,
                    buyer=person(ch.fact.buyer_id),
                    submitted_at=ch.fact.submitted_at,
                    value=Money(amount=ch.fact.value, currency=ch.fact.currency),
                    actual=routing(ch.actual),
                    proposed=routing(ch.proposed),
                )
                for ch in out.changed[:SAMPLE_MAX]
            ],
        ),
    )


async def answer(
    body: WhatIfIn, caller: Callable[[], Member], what_ifs: WhatIfs, store: WhatIfStore, blocking: WorkerPool
) -> WhatIfOut:
    """The route's work once the caller is known (``caller``: resolves them, in the worker pool): the proposal
    checked, the projection's snapshot read, the replay, the answer."""
    budgets = [c.to_domain() for c in body.changes if isinstance(c, BudgetChangeIn)]
    approvers = [c.to_domain() for c in body.changes if isinstance(c, ApproversChangeIn)]
    policies = [c.to_change() for c in body.changes if isinstance(c, PolicyChangeIn)]

    def ask() -> tuple[Any, Any, Any]:
        me = caller()
        proposal = what_ifs.proposal(me, body.from_, body.until, budgets, approvers, policies, datetime.now(UTC))
        return proposal, what_ifs.history(me.company_id), what_ifs.people(me.company_id)

    proposal, history, people = await blocking.run(ask)
    actual, facts = await store.read(
        proposal.company_id, proposal.start, proposal.end, proposal.since(), proposal.reroutes,
        proposal.replays_ledger,
    )  # fmt: skip

    def compute() -> Outcome:
        policy = None
        if proposal.policy is not None:
            p = proposal.policy
            policy = policy_object(proposal.company_id, p.tiers, p.currency, p.escalation, proposal.start)
        return outcome(proposal, actual, replay(proposal, facts, history, people, policy))

    result = await blocking.run(compute)
    shown = {a for a, _ in result.actual.load} | {a for a, _ in result.proposed.load}
    for ch in result.changed[:SAMPLE_MAX]:
        shown |= {ch.fact.buyer_id, *ch.actual.approvers, *ch.proposed.approvers}
    names = await blocking.run(what_ifs.orders.names, shown) if shown else Names()
    return build(result, names)


def what_if_router(orders: Orders, store: WhatIfStore, blocking: WorkerPool, callers: Callers) -> APIRouter:
    """``callers``: who is calling (the token verified, behind the users topics' fence, ADR 0012), so a permission
    taken away is in force once users answered."""
    router = APIRouter(tags=["reports"])
    what_ifs = WhatIfs(orders)

    @router.post(
        "/api/reports/what-if",
        response_model=WhatIfOut,
        summary="What if: a proposed budget, approver list or approval policy replayed on a past period's orders",
        description="The main contact — or who could make the change: `manage_budgets` for budgets, `manage_users` "
        "for the approver list and the policy — proposes changes (`budget` of a user, `approvers` of the company, "
        "`policy` with tiers; each at most once, at least one) and gets, for the orders of their own company "
        "submitted in [`from`, `until`) (at most two years), how many would have needed approval and with what "
        "value, the load per approver, and the orders whose routing changes — replayed from the orders' first "
        "judgements with the service's own budget and routing rules. Nothing is stored or sent. Anyone else: 403 "
        "`not_allowed` (also a controller with `view_reports` only). A person of another company is 404 "
        "`not_found`, like one that does not exist. 422: `invalid_period`, `period_too_long`, `no_changes`, "
        "`duplicate_change`, `invalid_request`, and the policy's own codes (`limits_not_ascending`, "
        "`not_an_approver`, …). Computed from a projection of the order events, eventually consistent.",
        responses={403: {"content": _ERROR}, 404: {"content": _ERROR}, 422: {"content": _ERROR}},
    )
    async def what_if(body: WhatIfIn, who: Annotated[Caller, Depends(callers.fenced)]) -> WhatIfOut:
        return await answer(body, lambda: callers.resolve(who), what_ifs, store, blocking)

    return router
