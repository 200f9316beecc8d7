"""HTTP route of an order's explanation (``GET /api/orders/{id}/explanation``, ADR 0028). Thin: request → use case →
response; the reconstruction is :mod:`approval.application.explanations`."""

# No `from __future__ import annotations` here: FastAPI resolves the dependencies declared in closures.

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from pydantic_core import to_jsonable_python

from approval.adapters.inbound.callers import Callers
from approval.adapters.inbound.http import (
    BudgetOut,
    ChangeOut,
    LimitOut,
    LineOut,
    MoneyOut,
    PeriodFiguresOut,
    PersonOut,
    _budget,
    _figures,
    _limit,
    _lines,
)
from approval.application.explanations import (
    POLICY,
    Action,
    BudgetSource,
    Capacity,
    Decider,
    Decision,
    Explanation,
    Explanations,
    FiguresSource,
    Judgement,
    Outcome,
    Policy,
    Routing,
    Rule,
    Step,
    Substitution,
    Verdict,
    Waiting,
)
from approval.domain.model import OrderContent
from kc_runtime.auth import Caller
from kc_runtime.eventstore import WorkerPool

_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}


class ExplainedContentOut(BaseModel):
    """The order's lines as they were at this step, priced by approval from the ERP's customer prices."""

    lines: list[LineOut] = Field(
        description="`price` names the ERP's price record used (list price, quantity break, validity, when the ERP "
        "set it); null on orders priced before approval recorded it"
    )
    total: MoneyOut = Field(description="Computed from the lines, never taken from the caller")
    total_quantity: int
    reference: str | None = Field(description="The customer's order reference or cost centre")
    price_source: Literal["erp", "not_recorded"] = Field(
        description="`erp`: every line's price is the ERP's, recorded on the order; `not_recorded`: an order from "
        "before approval recorded which price it used"
    )


class ExplainedJudgementOut(BaseModel):
    """What the order was judged on at this step, and the verdict."""

    budget: BudgetOut = Field(description="The buyer's budget per order and per period, as it was at this step")
    budget_source: BudgetSource = Field(
        description="`recorded`: pinned on the order's event; `members_view`: an order from before budgets were "
        "pinned, the buyer's budget as approval knew it at that moment"
    )
    period_budget: PeriodFiguresOut | None = Field(
        description="Where the buyer's period budget stood, apart from this order (null: no period budget)"
    )
    period_budget_source: FiguresSource | None = Field(
        description="`recorded` on the order's event; `ledger_history`: an order from before the figures were "
        "recorded, the period budget's ledger as it stood at that moment"
    )
    within_budget: bool
    exceeded_limits: list[LimitOut] = Field(description="Why it needed approval (empty: within budget)")
    outcome: Outcome
    budget_before: BudgetOut | None = Field(default=None, description="A re-evaluation: the budget judged before")
    exceeded_limits_before: list[LimitOut] | None = Field(
        default=None, description="A re-evaluation: the limits exceeded before"
    )


class ExplainedSubstitutionOut(BaseModel):
    """An absence in force: the substitute decides for the absent approver."""

    absence_id: UUID
    substitute: PersonOut
    on_behalf_of: PersonOut = Field(description="The absent approver")
    starts_at: datetime = Field(alias="from")
    ends_at: datetime = Field(alias="until", description="Exclusive; as known at this step")
    recorded_by: PersonOut


class ExplainedTierOut(BaseModel):
    """A tier of the approval policy's version the order was judged on."""

    tier: int = Field(description="1, 2, …; one above the policy's last tier: the main contact")
    limit: MoneyOut | None = Field(description="An approval here releases orders up to this value (null: any value)")
    policy_version: int
    escalation: str | None = Field(description="`climb` tier by tier, or `direct` to the tier whose limit covers it")
    approvers_named: list[PersonOut] = Field(description="The people the tier names (its role's holders besides)")
    role_id: str | None = Field(description="Whoever holds this role decides at the tier too")


class ExplainedRoutingOut(BaseModel):
    """Why the order went to whom: the company's approvers and main contact as they were at this step."""

    policy: Policy = Field(
        description=f"`{POLICY}`: any one of the approvers routed to decides (or the substitute of an absent one); "
        "`tiers`: a tiered approval policy's tier decides (`tier`)"
    )
    approvers: list[PersonOut] = Field(description="Routed to, as the order recorded it")
    rule: Rule = Field(
        description="`approvers_named`: the company's approvers (never the buyer); `main_contact_fallback`: no "
        "approver named, so the main contact; `nobody_yet`: none named and the main contact is the buyer — held "
        "until the company names one; `tier`: the approvers of a tiered policy's tier (`tier`); `as_recorded`: the "
        "routing recorded does not follow from the company's list as known then"
    )
    approvers_named: list[PersonOut] = Field(description="The company's approver list at this step")
    main_contact: PersonOut | None = Field(description="The company's main contact at this step")
    buyer_left_out: bool = Field(description="The buyer is a named approver and was left out (four eyes)")
    substitutes: list[ExplainedSubstitutionOut] = Field(
        description="Absences of the routed approvers in force at this step: their substitutes were offered the order"
    )
    tier: ExplainedTierOut | None = Field(
        default=None, description="Under a tiered approval policy (ADR 0025): the tier the order waited at"
    )


class ExplainedDeciderOut(BaseModel):
    person: PersonOut
    capacity: Capacity = Field(
        description="`approver` routed to; `main_contact` routed to as the fallback; `substitute` of an absent "
        "approver (`on_behalf_of`)"
    )
    on_behalf_of: PersonOut | None
    since: datetime = Field(alias="from")
    until: datetime | None = Field(description="null: they still can (the order still waits)")


class ExplainedWaitingOut(BaseModel):
    """The wait this step began: until when, and who could have decided meanwhile."""

    since: datetime = Field(alias="from")
    until: datetime | None = Field(description="null: still waiting")
    ended_by: str | None = Field(description="The kind of the step that ended the wait (`approved`, `reassigned`, …)")
    could_decide: list[ExplainedDeciderOut] = Field(
        description="The approvers routed to (in their own right, while active) and the substitutes of absent ones "
        "for the part of the wait their absence was known and in force (judged at the wait's start and at the "
        "absence's recording: active, may approve)"
    )


class ExplainedDecisionOut(BaseModel):
    decision: Verdict = Field(
        description="`escalated`: approved at a tier whose limit does not cover the order, which climbs to the next"
    )
    capacity: Capacity = Field(description="In which capacity the decider decided")
    on_behalf_of: PersonOut | None = Field(description="A substitute's decision: the absent approver")
    absence: ExplainedSubstitutionOut | None = Field(description="A substitute's decision: the absence in force")
    could: list[Action] = Field(
        description="What the decider could do: approve as it was, approve with changes (quantities, lines, "
        "addresses, methods; never prices), reject with a comment"
    )
    could_have_decided: list[ExplainedDeciderOut] = Field(
        description="Everybody who could decide at that moment, the decider included"
    )


class ExplainedOfferOut(BaseModel):
    substitute: PersonOut
    on_behalf_of: PersonOut
    until: datetime = Field(description="The absence's end, as recorded when offered")


class ExplainedStepOut(BaseModel):
    """One event of the order, explained. Which sections are set depends on the kind."""

    n: int = Field(description="1, 2, … in the order of the events")
    version: int = Field(description="The order's version this event made")
    kind: str = Field(
        description="`submitted`, `approval_requested`, `offered_to_substitute`, `reassigned`, `re_evaluated`, "
        "`modified`, `approved`, `escalated` (approved below the order's value at a tier: it climbs), `rejected`, "
        "`released` (`detail.bundle_id`: it went to the ERP in that bundle, ADR 0034), `credit_held` (waiting for the company's credit at the ERP: `detail.hold` with the credit "
        "figures judged on), `transmitted`, `confirmed_by_erp`, `rejected_by_erp`, `resubmitted`, `cancelled`, "
        "`commented`; a kind not listed is an event added later (its fields in `detail`)"
    )
    event: str = Field(description="The event's name, as in the order's timeline")
    at: datetime
    round: int = Field(description="1 for the submission, +1 for each resubmission")
    by: PersonOut | None = Field(
        description="Who did it: the buyer, the decider, who asked for a re-evaluation, the substitute offered, the "
        "approver who released (null: within budget or the ERP)"
    )
    on_behalf_of: PersonOut | None = None
    comment: str | None = None
    content: ExplainedContentOut | None = Field(
        default=None, description="`submitted`, `resubmitted`, `modified`, `released`: the lines with their prices"
    )
    judgement: ExplainedJudgementOut | None = Field(
        default=None, description="`submitted`, `resubmitted`, `re_evaluated`"
    )
    routing: ExplainedRoutingOut | None = Field(
        default=None, description="`approval_requested`, `reassigned`, `escalated`"
    )
    waiting: ExplainedWaitingOut | None = Field(
        default=None, description="`approval_requested`, `reassigned`, `escalated`"
    )
    decision: ExplainedDecisionOut | None = Field(default=None, description="`approved`, `escalated`, `rejected`")
    changes: list[ChangeOut] = Field(
        default_factory=list, description="`modified`, `resubmitted`; `released`: all modifications of the round"
    )
    offer: ExplainedOfferOut | None = Field(default=None, description="`offered_to_substitute`")
    erp_order_number: str | None = Field(default=None, description="`confirmed_by_erp`")
    erp_rejection_reason: str | None = Field(default=None, description="`rejected_by_erp`")
    detail: dict[str, Any] = Field(
        default_factory=dict, description="`credit_held`: the hold; an event of a kind not listed: its fields"
    )


class ExplanationOut(BaseModel):
    """Why the order went where it went: every step reconstructed from the order's events and from the company's
    approvers, main contact, members and absences as they were at that step — never from today's state. Names are
    the people's names as the customer center knows them now."""

    order_id: UUID
    company_id: UUID
    version: int = Field(description="The order's version explained (all its events up to it)")
    status: str = Field(description="The order's status now")
    round: int
    buyer: PersonOut
    submitted_at: datetime
    decided_by: PersonOut | None = Field(description="Who decided the current round (null: nobody yet, or nobody)")
    decided_on_behalf_of: PersonOut | None
    steps: list[ExplainedStepOut]


def explanation_out(x: Explanation) -> ExplanationOut:
    names = x.names

    def person(i: UUID | None) -> PersonOut | None:
        return PersonOut.of(i, names) if i is not None else None

    def someone(i: UUID) -> PersonOut:
        return PersonOut.of(i, names)

    def content(c: OrderContent) -> ExplainedContentOut:
        recorded = all(ln.price_changed_at is not None for ln in c.lines)
        return ExplainedContentOut(
            lines=_lines(c), total=MoneyOut(amount=c.total_value, currency=c.currency),
            total_quantity=c.total_quantity, reference=c.reference, price_source="erp" if recorded else "not_recorded",
        )  # fmt: skip

    def judgement(j: Judgement, buyer: UUID) -> ExplainedJudgementOut:
        return ExplainedJudgementOut(
            budget=_budget(j.budget), budget_source=j.budget_source,
            period_budget=_figures(buyer, j.period_budget) if j.period_budget else None,
            period_budget_source=j.period_budget_source,
            within_budget=not j.exceeded, exceeded_limits=[_limit(e) for e in j.exceeded],
            outcome=j.outcome,
            budget_before=_budget(j.budget_before) if j.budget_before else None,
            exceeded_limits_before=[_limit(e) for e in j.exceeded_before] if j.exceeded_before is not None else None,
        )  # fmt: skip

    def substitution(s: Substitution) -> ExplainedSubstitutionOut:
        return ExplainedSubstitutionOut.model_validate(
            {"absence_id": s.absence_id, "substitute": someone(s.substitute), "on_behalf_of": someone(s.on_behalf_of),
             "from": s.starts_at, "until": s.ends_at, "recorded_by": someone(s.recorded_by)}
        )  # fmt: skip

    def routing(r: Routing) -> ExplainedRoutingOut:
        return ExplainedRoutingOut(
            policy=r.policy,
            approvers=[someone(a) for a in r.approvers], rule=r.rule,
            approvers_named=[someone(a) for a in r.named], main_contact=person(r.main_contact),
            buyer_left_out=r.buyer_left_out, substitutes=[substitution(s) for s in r.substitutes],
            tier=tier(r) if r.tier is not None else None,
        )  # fmt: skip

    def tier(r: Routing) -> ExplainedTierOut:
        t, d = r.tier, r.tier_definition
        assert t is not None
        limit = MoneyOut(amount=t.limit, currency=t.currency or "EUR") if t.limit is not None else None
        return ExplainedTierOut(
            tier=t.tier, limit=limit, policy_version=t.policy_version, escalation=r.escalation,
            approvers_named=[someone(a) for a in d.approver_ids] if d else [], role_id=d.role_id if d else None,
        )  # fmt: skip

    def decider(d: Decider) -> ExplainedDeciderOut:
        return ExplainedDeciderOut.model_validate(
            {"person": someone(d.person), "capacity": d.capacity, "on_behalf_of": person(d.on_behalf_of),
             "from": d.since, "until": d.until}
        )  # fmt: skip

    def waiting(w: Waiting) -> ExplainedWaitingOut:
        return ExplainedWaitingOut.model_validate(
            {"from": w.since, "until": w.until, "ended_by": w.ended_by,
             "could_decide": [decider(d) for d in w.could_decide]}
        )  # fmt: skip

    def decision(d: Decision) -> ExplainedDecisionOut:
        return ExplainedDecisionOut(
            decision=d.decision, capacity=d.capacity,
            on_behalf_of=person(d.on_behalf_of), absence=substitution(d.absence) if d.absence else None,
            could=list(d.could), could_have_decided=[decider(c) for c in d.could_have_decided],
        )  # fmt: skip

    def step(s: Step) -> ExplainedStepOut:
        return ExplainedStepOut(
            n=s.n, version=s.version, kind=s.kind, event=s.event, at=s.at, round=s.round, by=person(s.by),
            on_behalf_of=person(s.on_behalf_of), comment=None if s.by in names.erased else s.comment,
            content=content(s.content) if s.content else None,
            judgement=judgement(s.judgement, x.order.buyer_id) if s.judgement else None,
            routing=routing(s.routing) if s.routing else None, waiting=waiting(s.waiting) if s.waiting else None,
            decision=decision(s.decision) if s.decision else None,
            changes=[ChangeOut(field=c.field, before=c.before, after=c.after) for c in s.changes],
            offer=ExplainedOfferOut(substitute=someone(s.offer.substitute), on_behalf_of=someone(s.offer.on_behalf_of),
                                    until=s.offer.until) if s.offer else None,
            erp_order_number=s.erp_order_number, erp_rejection_reason=s.erp_rejection_reason,
            detail=to_jsonable_python(s.detail),
        )  # fmt: skip

    o = x.order
    return ExplanationOut(
        order_id=o.id, company_id=o.company_id, version=o.version, status=o.status.value, round=o.round,
        buyer=someone(o.buyer_id), submitted_at=o.submitted_at, decided_by=person(o.decided_by),
        decided_on_behalf_of=person(o.decided_on_behalf_of), steps=[step(s) for s in x.steps],
    )  # fmt: skip


def explanations_router(explanations: Explanations, blocking: WorkerPool, callers: Callers) -> APIRouter:
    router = APIRouter(tags=["orders"])

    @router.get(
        "/api/orders/{order_id}/explanation",
        response_model=ExplanationOut,
        response_model_by_alias=True,
        summary="Why the order went where it went: budget, prices, routing, substitutes and decisions at every step, "
        "as they were then",
        description="Reconstructed from the order's own events and from the company's approvers, main contact, "
        "members and absences as they were at each step (ADR 0028) — a budget or an approver list changed since "
        "does not change it. Read by the order's buyer, anyone who was a decider of it (routed to, offered as a "
        "substitute, decided it, or may decide it now), the main contact and who reads the company's figures "
        "(`view_reports`). Another user who may see the order (`GET /api/orders/{id}`) gets 403 `not_allowed`; "
        "for anybody else, and for another company's order, it does not exist (404 `not_found`).",
        responses={
            403: {"description": "`not_allowed`", "content": _ERROR},
            404: {"description": "`not_found`", "content": _ERROR},
        },
    )
    async def explain(order_id: UUID, who: Annotated[Caller, Depends(callers.fenced)]) -> ExplanationOut:
        def run() -> ExplanationOut:
            return explanation_out(explanations.explain(callers.resolve(who), order_id))

        return await blocking.run(run)

    return router
