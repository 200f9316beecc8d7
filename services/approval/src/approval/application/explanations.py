"""Why an order went where it went (issue 18 item 2; ADR 0028): its steps reconstructed from its own stored events
and from the company's aggregates as they were at each step — never from today's state.

The order's events pin what it was judged on (budget, period-budget figures, limits exceeded, prices, approvers
routed to, decisions; ADR 0017, 0020, 0024). What they do not carry is read from the other aggregates' histories
as of each step: the company's approver list and main contact (why it went to whom), the absences known and in force
(who could decide on whose behalf), a member's standing (active, may approve) — and, for orders stored before their
events pinned it, the buyer's budget and the period budget's ledger. "As of a step" means the aggregate projected
from its events stored up to the order's event (event timestamps); absences are judged on the domain's own clock
(recorded by then, in force at the step's moment), as the decisions were.

Who reads it: the order's buyer, anyone who was a decider of it (routed to, offered as substitute, decided, or may
decide it now), the main contact and whoever reads the company's figures (``view_reports``). Anyone else who may see
the order is refused (``not_allowed``); to everybody else — another company's users included — it does not exist.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from approval.application.orders import Orders
from approval.application.reports import VIEW_REPORTS
from approval.domain.absences import Absence, Absences, may_approve
from approval.domain.budget import Budget, LimitExceeded
from approval.domain.ledger import BudgetLedger, Figures
from approval.domain.members import CompanyView, Member, Names
from approval.domain.model import (
    Change,
    NotAllowed,
    Order,
    OrderContent,
    OrderNotFound,
    OrderStatus,
    TierPosition,
)
from approval.domain.routing import deciders, route
from approval.domain.tiers import ApprovalPolicy, Tier
from kc_runtime.eventstore import replay, select_events_of

Policy = Literal["one_approval", "tiers"]
POLICY: Policy = "one_approval"
"""The approval policy of an order routed by the company's approver list: any one of the approvers it is routed to
decides it (or the substitute of an absent one, on their behalf). ``tiers``: routed by a tiered approval policy
(ADR 0025), the tier recorded with the routing."""

Action = Literal["approve", "approve_with_changes", "reject"]
ACTIONS: tuple[Action, ...] = ("approve", "approve_with_changes", "reject")
"""What a decider of a pending order may do (a rejection with a comment)."""

Rule = Literal["approvers_named", "main_contact_fallback", "nobody_yet", "tier", "as_recorded"]
Verdict = Literal["approved", "rejected", "escalated"]
Capacity = Literal["approver", "main_contact", "substitute"]
Outcome = Literal["released", "held_for_approval", "held_for_credit"]
BudgetSource = Literal["recorded", "members_view"]
FiguresSource = Literal["recorded", "ledger_history"]

_DECIDED = (
    Order.Approved, Order.Rejected, Order.Escalated, Order.Released, Order.CreditHeld, Order.Cancelled, Order.Expired
)
_ROUND_ENDS = (
    Order.Approved, Order.Rejected, Order.Cancelled, Order.Resubmitted, Order.ReEvaluated, Order.Expired
)


def routes(event: Any) -> bool:
    """Whether ``event`` routes the order to approvers (``ApprovalRequested``, ``Reassigned``, ``Escalated``, and any
    later event that carries the approvers it routes to)."""
    return isinstance(getattr(event, "approvers", None), tuple | list)


@dataclass(frozen=True)
class Substitution:
    """An absence in force: ``substitute`` decides for the absent ``on_behalf_of`` from ``starts_at`` to ``ends_at``
    (the end as known at the step: an earlier withdrawal counts only once it was made)."""

    absence_id: UUID
    substitute: UUID
    on_behalf_of: UUID
    starts_at: datetime
    ends_at: datetime
    recorded_by: UUID


@dataclass(frozen=True)
class Routing:
    """Why the order went to whom: the company's approver list and main contact as they were at the step."""

    approvers: tuple[UUID, ...]
    """routed to, as the order recorded it"""
    rule: Rule
    """``approvers_named`` (the company's approvers, the buyer left out), ``main_contact_fallback`` (none named: the
    main contact), ``nobody_yet`` (none named and the main contact is the buyer: held until the company names one),
    ``tier`` (a tiered approval policy's tier, ADR 0025), ``as_recorded`` (the routing recorded does not follow from the
    company's list as known then)"""
    named: tuple[UUID, ...]
    main_contact: UUID | None
    buyer_left_out: bool
    substitutes: tuple[Substitution, ...]
    """absences of the routed approvers in force at the step"""
    policy: Policy = POLICY
    tier: TierPosition | None = None
    """under a tiered policy: where the order waited (tier, its limit, the policy's version), as recorded"""
    tier_definition: Tier | None = None
    """that tier as the policy's version defined it (its people named, its role); None above the last tier (the
    main contact) or when that version is not known"""
    escalation: str | None = None
    """that version's escalation: ``climb`` or ``direct``"""


@dataclass(frozen=True)
class Decider:
    """Someone who could decide the order during a wait (or at a decision's moment), and in which capacity."""

    person: UUID
    capacity: Capacity
    """``approver``, ``main_contact`` (routed to as the fallback) or ``substitute`` (for ``on_behalf_of``)"""
    on_behalf_of: UUID | None
    since: datetime
    until: datetime | None
    """None: still can (the order still waits)"""


@dataclass(frozen=True)
class Waiting:
    since: datetime
    until: datetime | None
    """None: still waiting"""
    ended_by: str | None
    """the kind of the step that ended the wait"""
    could_decide: tuple[Decider, ...]


@dataclass(frozen=True)
class Judgement:
    """What a submission, resubmission or re-evaluation judged the order on, and what came of it."""

    budget: Budget
    budget_source: BudgetSource
    """``recorded`` (pinned on the order's event) or ``members_view`` (older orders: the buyer's budget as approval
    knew it at that moment)"""
    period_budget: Figures | None
    period_budget_source: FiguresSource | None
    """``recorded``, ``ledger_history`` (older orders: the ledger as it stood then), None: no period budget"""
    exceeded: tuple[LimitExceeded, ...]
    outcome: Outcome
    """``held_for_credit``: within budget (or re-evaluated so), but waiting for the company's credit (ADR 0026)"""
    budget_before: Budget | None = None
    exceeded_before: tuple[LimitExceeded, ...] | None = None


@dataclass(frozen=True)
class Decision:
    decision: Verdict
    """``escalated``: approved at a tier whose limit does not cover the order, which climbs to the next tier"""
    capacity: Capacity
    on_behalf_of: UUID | None
    absence: Substitution | None
    """a substitute's decision: the absence that made them one"""
    could: tuple[Action, ...]
    could_have_decided: tuple[Decider, ...]
    """everybody who could decide at that moment, the decider included"""


@dataclass(frozen=True)
class Offer:
    substitute: UUID
    on_behalf_of: UUID
    until: datetime


@dataclass
class Step:
    """One event of the order, explained."""

    n: int
    version: int
    kind: str
    event: str
    at: datetime
    round: int
    by: UUID | None = None
    on_behalf_of: UUID | None = None
    comment: str | None = None
    content: OrderContent | None = None
    judgement: Judgement | None = None
    routing: Routing | None = None
    waiting: Waiting | None = None
    decision: Decision | None = None
    changes: tuple[Change, ...] = ()
    offer: Offer | None = None
    erp_order_number: str | None = None
    erp_rejection_reason: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    """an event this explanation does not know (yet): its recorded fields"""


@dataclass(frozen=True)
class Explanation:
    order: Order
    """the order as its events make it now"""
    steps: list[Step]
    names: Names
    """the people's names as approval knows them now (the users service's members view)"""


def kind_of(event: Any) -> str:
    """``ApprovalRequested`` → ``approval_requested``: a step's label, not a dispatch — it names every event,
    also one added after this explanation (the API lists such a kind with its fields in ``detail``)."""
    name = type(event).__name__
    return "".join("_" + c.lower() if c.isupper() and i else c.lower() for i, c in enumerate(name))


def moment(event: Any) -> datetime:
    """When the step happened on the domain's clock (the one absences and decisions are judged by)."""
    for name in ("at", "submitted_at", "released_at"):
        value = getattr(event, name, None)
        if isinstance(value, datetime):
            return value
    said = getattr(event, "comment", None)
    when = getattr(said, "at", None)
    return when if isinstance(when, datetime) else event.timestamp


class _History:
    """The company's aggregates as stored at a given moment (event timestamps), each loaded once per explanation."""

    def __init__(self, orders: Orders) -> None:
        self.orders = orders
        self.events: dict[UUID, list[Any]] = {}

    def load(self, ids: Iterable[UUID]) -> None:
        """Read the events of those of ``ids`` not read yet, in one query (PostgreSQL)."""
        ids = [i for i in dict.fromkeys(ids) if i not in self.events]
        if not ids:
            return
        stored = select_events_of(self.orders.recorder, ids)
        if stored is None:  # not PostgreSQL: one read per aggregate
            found = {i: list(self.orders.events.get(i)) for i in ids}
        else:
            to_domain = self.orders.mapper.to_domain_event
            found = {i: [to_domain(s) for s in stored.get(i, ())] for i in ids}
        self.events.update(found)

    def as_of(self, aggregate_id: UUID, at: datetime) -> Any:
        """The aggregate projected from its events stored up to ``at`` (None: none yet)."""
        self.load([aggregate_id])
        events = [e for e in self.events[aggregate_id] if e.timestamp <= at]
        return replay(None, events) if events else None

    def first_as_of(self, aggregate_id: UUID, at: datetime) -> Any:
        """As :meth:`as_of`, or, when it was opened only later, as opened (an empty ledger)."""
        found = self.as_of(aggregate_id, at)
        if found is None and self.events[aggregate_id]:
            return replay(None, self.events[aggregate_id][:1])
        return found

    def stored_at(self, aggregate_id: UUID) -> dict[UUID, datetime]:
        """The absences' ids, each with when its recording was stored."""
        self.load([aggregate_id])
        return {e.absence_id: e.timestamp for e in self.events[aggregate_id] if isinstance(e, Absences.Recorded)}


class Explanations:
    """``GET /api/orders/{id}/explanation``: one order's steps, explained."""

    def __init__(self, orders: Orders) -> None:
        self.orders = orders

    def explain(self, member: Member, order_id: UUID) -> Explanation:
        orders = self.orders
        events = list(orders.events.get(order_id))
        if not events or not isinstance(events[0], Order.Submitted) or events[0].company_id != member.company_id:
            raise OrderNotFound("Not found.")
        order = replay(None, events)
        assert isinstance(order, Order)
        now = orders.clock()
        if not self._may_read(member, order, events, now):
            orders.get_order(member, order_id)  # hidden from them: not found, exactly as the order itself
            raise NotAllowed("Only the buyer, the order's deciders and who reads the company's figures see why.")
        steps = _Builder(orders, order, events, now).steps()
        return Explanation(order, steps, orders.names(_people(order, steps)))

    def _may_read(self, member: Member, order: Order, events: Sequence[Any], now: datetime) -> bool:
        if member.id == order.buyer_id or member.is_main_contact or member.can(VIEW_REPORTS):
            return True
        if member.id in _deciders_ever(events):
            return True
        return order.status is OrderStatus.PENDING_APPROVAL and member.id in self.orders.deciders(order, now)


def _deciders_ever(events: Iterable[Any]) -> set[UUID]:
    """Everyone the order was routed to, offered to as a substitute, or decided by (for someone)."""
    out: set[UUID] = set()
    for e in events:
        if routes(e):
            out.update(e.approvers)
        for name in ("substitute_id", "approver_id"):
            if isinstance(person := getattr(e, name, None), UUID):
                out.add(person)
    return out


def _people(order: Order, steps: Iterable[Step]) -> set[UUID]:
    out = {order.buyer_id}
    for s in steps:
        out.update(p for p in (s.by, s.on_behalf_of) if p)
        if s.routing:
            out.update((*s.routing.approvers, *s.routing.named))
            out.update(p for p in (s.routing.main_contact,) if p)
            out.update(p for x in s.routing.substitutes for p in (x.substitute, x.on_behalf_of, x.recorded_by))
            if s.routing.tier_definition:
                out.update(s.routing.tier_definition.approver_ids)
        could = (s.waiting.could_decide if s.waiting else ()) + (s.decision.could_have_decided if s.decision else ())
        out.update(p for d in could for p in (d.person, d.on_behalf_of) if p)
        if s.decision and s.decision.absence:
            out.add(s.decision.absence.recorded_by)
        if s.offer:
            out.update((s.offer.substitute, s.offer.on_behalf_of))
    return out


class _Builder:
    """Walks the order's events once, keeping the routing of the moment, and explains each."""

    def __init__(self, orders: Orders, order: Order, events: list[Any], now: datetime) -> None:
        self.order, self.events, self.now = order, events, now
        absences_id = Absences.create_id(order.company_id)
        ledgers = {i for e in events if (i := getattr(e, "ledger_id", None)) is not None}
        self.history = _History(orders)
        self.policy_id = ApprovalPolicy.create_id(order.company_id)
        self.history.load([order.company_id, absences_id, self.policy_id, *ledgers, order.buyer_id,
                           *_deciders_ever(events)])  # fmt: skip
        found = replay(None, self.history.events[absences_id])
        # every absence ever recorded, in its final state; which of them counted at a step is judged per step
        self.absences: list[Absence] = list(found.absences.values()) if isinstance(found, Absences) else []
        self.absence_stored = self.history.stored_at(absences_id)
        self.history.load(a.substitute_id for a in self.absences)
        self.routing: Routing | None = None

    # ---- the company at a step ------------------------------------------------------------------------------

    def _company(self, at: datetime) -> CompanyView | None:
        found = self.history.as_of(self.order.company_id, at)
        return found if isinstance(found, CompanyView) else None

    def _member(self, user_id: UUID, at: datetime) -> Member | None:
        found = self.history.as_of(user_id, at)
        return found if isinstance(found, Member) else None

    def _known(self, at: datetime) -> list[Absence]:
        """The absences known at ``at`` (recorded by then) and in force then."""
        return [a for a in self.absences if a.recorded_at <= at and a.in_force(at)]

    def _substitution(self, a: Absence, at: datetime) -> Substitution:
        # a withdrawal made after ``at`` was not known then: the absence ran to its planned end
        ends = a.ended_at if a.withdrawn_at is not None and a.withdrawn_at <= at else a.ends_at
        return Substitution(a.id, a.substitute_id, a.approver_id, a.starts_at, ends, a.recorded_by)

    def _may_substitute(self, user_id: UUID, stored_at: datetime) -> bool:
        member, company = self._member(user_id, stored_at), self._company(stored_at)
        return member is not None and company is not None and may_approve(member, company)

    # ---- the walk --------------------------------------------------------------------------------------------

    def steps(self) -> list[Step]:
        out: list[Step] = []
        round_ = 0
        for i, e in enumerate(self.events):
            if isinstance(e, Order.Submitted | Order.Resubmitted):
                round_ += 1
            step = Step(n=i + 1, version=e.originator_version, kind=kind_of(e), event=type(e).__name__, at=moment(e),
                        round=round_)  # fmt: skip
            self._explain(step, i, e)
            out.append(step)
        return out

    def _explain(self, s: Step, i: int, e: Any) -> None:
        match e:
            case Order.Submitted():
                s.by, s.content, s.comment = e.buyer_id, e.content, e.content.buyer_comment
                if e.budget is not None:
                    s.judgement = self._judgement(i, e, e.budget, "recorded")
                else:  # stored before budgets were pinned: the buyer's budget as approval knew it then
                    buyer = self._member(e.buyer_id, e.timestamp)
                    s.judgement = self._judgement(i, e, buyer.budget if buyer else Budget(), "members_view")
            case Order.Resubmitted():
                s.by, s.content, s.comment, s.changes = e.buyer_id, e.content, e.comment, tuple(e.changes)
                s.judgement = self._judgement(i, e, e.budget, "recorded")
                self.routing = None
            case Order.ReEvaluated():
                s.by = e.by
                figures, source = self._period_figures(e, e.budget)
                s.judgement = Judgement(e.budget, "recorded", figures, source, tuple(e.exceeded), self._outcome(i),
                                        e.previous_budget, tuple(e.before))  # fmt: skip
            case Order.ApprovalRequested() | Order.Reassigned():
                self._route(s, i, e)
            case Order.OfferedToSubstitute():
                s.by, s.on_behalf_of = e.substitute_id, e.on_behalf_of
                s.offer = Offer(e.substitute_id, e.on_behalf_of, e.until)
            case Order.Modified():
                s.by, s.content, s.changes = e.by, e.content, tuple(e.changes)
                decided = self.events[i + 1] if i + 1 < len(self.events) else None  # the decision that made the change
                s.on_behalf_of = getattr(decided, "on_behalf_of", None)
            case Order.Approved() | Order.Rejected():
                s.by, s.on_behalf_of, s.comment = e.approver_id, e.on_behalf_of, e.comment
                s.decision = self._decision(e)
            case Order.Escalated():  # approved below the order's value: decided at this tier, waits at the next
                s.by, s.on_behalf_of, s.comment = e.approver_id, e.on_behalf_of, e.comment
                s.decision = self._decision(e)
                self._route(s, i, e)
            case Order.Released():
                s.by, s.content, s.changes = e.approved_by, e.content, tuple(e.modifications)
                if getattr(e, "bundle_id", None) is not None:  # to the ERP as part of a bundle (ADR 0034)
                    s.detail = {"bundle_id": e.bundle_id}
            case Order.CreditHeld():  # released, but the company's credit at the ERP does not allow it now
                s.by, s.detail = e.approved_by, {"hold": e.hold}
            case Order.Cancelled():
                s.by, s.comment = e.by, e.comment
            case Order.Commented():
                s.by, s.comment = e.comment.author_id, e.comment.text
            case Order.ConfirmedByErp():
                s.erp_order_number = e.erp_order_number
            case Order.RejectedByErp():
                s.erp_rejection_reason = e.reason
            case Order.Transmitted():
                pass
            case _:  # an event added after this explanation: its fields, and its routing if it routes
                s.detail = {k: v for k, v in vars(e).items() if k not in ("originator_id", "originator_version",
                                                                          "timestamp")}  # fmt: skip
                s.by, s.on_behalf_of = getattr(e, "approver_id", None), getattr(e, "on_behalf_of", None)
                said = getattr(e, "comment", None)
                s.comment = said if isinstance(said, str) else None
                if routes(e):
                    self._route(s, i, e)

    def _route(self, s: Step, i: int, e: Any) -> None:
        s.routing = self.routing = self._routing(e)
        s.waiting = self._waiting(i, e, s.routing)

    def _judgement(self, i: int, e: Any, budget: Budget, budget_source: BudgetSource) -> Judgement:
        figures, source = self._period_figures(e, budget)
        held = self._next(i, lambda e: isinstance(e, Order.ApprovalRequested), stop=_ROUND_ENDS)
        exceeded = tuple(held.exceeded) if held is not None else ()
        return Judgement(budget, budget_source, figures, source, exceeded, self._outcome(i))

    def _outcome(self, i: int) -> Outcome:
        """What the judgement at event ``i`` led to: the order released at once (or held for the company's credit at
        the ERP, ADR 0026), or held for approval."""
        went_on = self._next(i, lambda e: isinstance(e, Order.Released | Order.CreditHeld),
                             stop=(*_ROUND_ENDS, Order.ApprovalRequested, Order.Reassigned))  # fmt: skip
        if isinstance(went_on, Order.CreditHeld):
            return "held_for_credit"
        return "released" if went_on is not None else "held_for_approval"

    def _period_figures(self, e: Any, budget: Budget) -> tuple[Figures | None, FiguresSource | None]:
        if e.period_figures is not None:
            return e.period_figures, "recorded"
        if budget.period is None or e.ledger_id is None:
            return None, None
        # judged before the figures were recorded: the ledger as it stood then, without this order
        ledger = self.history.first_as_of(e.ledger_id, e.timestamp)
        if not isinstance(ledger, BudgetLedger):
            return None, None
        return ledger.figures(budget.period, leaving_out=self.order.id), "ledger_history"

    def _next(self, i: int, found: Callable[[Any], bool], stop: tuple[type, ...]) -> Any:
        """The first event after ``i`` that is ``found``, unless an event of a ``stop`` kind comes first."""
        for e in self.events[i + 1 :]:
            if found(e):
                return e
            if isinstance(e, stop):
                return None
        return None

    def _routing(self, e: Any) -> Routing:
        company = self._company(e.timestamp)
        named = company.approver_ids if company else ()
        main = company.main_contact_id if company else None
        buyer = self.order.buyer_id
        subs = tuple(self._substitution(a, e.at) for a in self._known(e.at) if a.approver_id in e.approvers)
        position = getattr(e, "position", None)
        if isinstance(position, TierPosition):
            definition, escalation = self._tier(position)
            return Routing(tuple(e.approvers), "tier", tuple(named), main, False, subs, "tiers", position, definition,
                           escalation)  # fmt: skip
        expected = route(buyer, named, main)
        rule: Rule
        if tuple(e.approvers) != expected:
            rule = "as_recorded"
        elif not expected:
            rule = "nobody_yet"
        elif any(a != buyer for a in named):
            rule = "approvers_named"
        else:
            rule = "main_contact_fallback"
        return Routing(tuple(e.approvers), rule, tuple(named), main, buyer in named, subs)

    def _tier(self, position: TierPosition) -> tuple[Tier | None, str | None]:
        """The tier as the policy's version the order was judged on defined it (its revisions keep every version)."""
        events = self.history.events.get(self.policy_id) or []
        policy = replay(None, events) if events else None
        if not isinstance(policy, ApprovalPolicy) or not 0 < position.policy_version <= len(policy.revisions):
            return None, None
        revision = policy.revisions[position.policy_version - 1]
        tier = revision.tiers[position.tier - 1] if position.tier <= len(revision.tiers) else None
        return tier, revision.escalation

    @staticmethod
    def _capacity(person: UUID, routing: Routing) -> Capacity:
        above_the_tiers = routing.tier is not None and routing.tier.limit is None
        fallback = routing.rule == "main_contact_fallback" or above_the_tiers
        return "main_contact" if fallback and person == routing.main_contact else "approver"

    def _waiting(self, i: int, e: Any, routing: Routing) -> Waiting:
        end = self._next(i, lambda x: isinstance(x, _DECIDED) or routes(x), stop=())
        since, until = e.at, (moment(end) if end is not None else None)
        buyer = self.order.buyer_id
        could: list[Decider] = []
        for approver in routing.approvers:
            member = self._member(approver, e.timestamp)
            if approver != buyer and (member is None or member.active):
                could.append(Decider(approver, self._capacity(approver, routing), None, since, until))
        horizon = until if until is not None else self.now
        stored = self.absence_stored
        for approver in routing.approvers:
            for a in self.absences:
                if a.approver_id != approver or a.substitute_id == buyer or a.substitute_id in routing.approvers:
                    continue
                start = max(since, a.starts_at, a.recorded_at)
                stop = a.ended_at if until is None else min(until, a.ended_at)
                if start >= stop or start > horizon:
                    continue
                if not self._may_substitute(a.substitute_id, max(e.timestamp, stored.get(a.id, e.timestamp))):
                    continue
                could.append(Decider(a.substitute_id, "substitute", approver, start, stop))
        return Waiting(since, until, kind_of(end) if end is not None else None, tuple(could))

    def _decision(self, e: Order.Approved | Order.Rejected | Order.Escalated) -> Decision:
        routing = self.routing or Routing((), "as_recorded", (), None, False, ())
        known = self._known(e.at)
        absence = None
        capacity: Capacity
        if e.on_behalf_of is not None:
            capacity = "substitute"
            absence = next(
                (self._substitution(a, e.at) for a in known
                 if (a.approver_id, a.substitute_id) == (e.on_behalf_of, e.approver_id)),
                None,
            )  # fmt: skip
        else:
            capacity = self._capacity(e.approver_id, routing)
        could: list[Decider] = []
        for person, for_whom in deciders(routing.approvers, self.order.buyer_id, known).items():
            if for_whom is not None and not self._may_substitute(person, e.timestamp):
                continue
            role: Capacity = "substitute" if for_whom is not None else self._capacity(person, routing)
            could.append(Decider(person, role, for_whom, e.at, e.at))
        decision: Verdict = (
            "approved"
            if isinstance(e, Order.Approved)
            else "rejected"
            if isinstance(e, Order.Rejected)
            else "escalated"
        )
        return Decision(decision, capacity, e.on_behalf_of, absence, ACTIONS, tuple(could))
