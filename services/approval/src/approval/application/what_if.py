"""What-if (issue 18 item 3; ADR 0030): how the orders of a past period would have been routed under a proposed change
of a buyer's budget, the company's approver list or its approval policy — computed by replaying each order's first
judgement with the domain's own rules (:func:`approval.domain.budget.evaluate`, the period budget's
:func:`approval.domain.ledger.judge_period`, :func:`approval.domain.routing.route`, the tiers'
:func:`approval.domain.tiers.first_step`) on the facts a projection keeps (the order as first submitted, the budget it
was judged on, its routing, the moments that moved its period budget). Nothing is stored, nothing is sent.

What is replayed: an order's first judgement (its submission), not later rounds. Decisions stay as they were: an order
that the proposal would have held although it went through counts as approved when it was released, at the same
moment and value (that is what moves a period budget's ledger); one that no longer needs approval counts as released
at its submission.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from approval.application.orders import MANAGE_BUDGETS, Orders
from approval.application.reports import MAX_PERIOD, InvalidPeriod, PeriodTooLong, _moment
from approval.domain.absences import MANAGE_USERS, may_approve
from approval.domain.budget import Budget, Period, PeriodBudget, evaluate
from approval.domain.ledger import CONSUMED, RESERVED, Figures, judge_period
from approval.domain.members import CompanyView, Member
from approval.domain.model import InvalidOrder, NotAllowed
from approval.domain.routing import route
from approval.domain.tiers import ApprovalPolicy, NotAnApprover, People, Tier, check_tiers, first_step

CHANGES_MAX = 20
"""At most this many changes in one proposal."""
SAMPLE_MAX = 50
"""At most this many orders whose routing changes are listed one by one."""


class NoChanges(InvalidOrder):
    code = "no_changes"


class DuplicateChange(InvalidOrder):
    code = "duplicate_change"


# ---- what a proposal is -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BudgetChange:
    """``user_id``'s budget replaced by ``budget``; ``keeps_period``: the period budget each order was judged on stays
    (the proposal names per-order limits only)."""

    user_id: UUID
    budget: Budget
    keeps_period: bool = False


@dataclass(frozen=True)
class ApproversChange:
    """The company's approver list replaced by ``approver_ids`` (empty: none — the main contact decides)."""

    approver_ids: tuple[UUID, ...]


@dataclass(frozen=True)
class PolicyChange:
    """The company's approval policy replaced by these tiers (none: the approver list decides, ADR 0025)."""

    tiers: tuple[Tier, ...]
    currency: str | None
    escalation: str = "climb"


@dataclass(frozen=True)
class Proposal:
    company_id: UUID
    start: datetime
    end: datetime
    budgets: dict[UUID, BudgetChange]
    approvers: ApproversChange | None = None
    policy: PolicyChange | None = None

    @property
    def replays_ledger(self) -> bool:
        """Whether a period budget is proposed (its replay needs the moments that moved the ledger)."""
        return any(c.budget.period is not None and not c.keeps_period for c in self.budgets.values())

    @property
    def reroutes(self) -> bool:
        """Whether the proposal changes who decides (not only whether an order needs a decision)."""
        return self.approvers is not None or self.policy is not None

    def since(self) -> dict[UUID, datetime]:
        """From when each changed buyer's orders are replayed: the period's start, or the start of the calendar period
        it falls into when a period budget is proposed (what the ledger held before the period counts)."""
        out = {}
        for user_id, change in self.budgets.items():
            p = change.budget.period
            out[user_id] = self.start if change.keeps_period or p is None else Period.of(p.period, self.start).start
        return out


def wanted(proposal: Proposal, f: Fact, since: dict[UUID, datetime]) -> bool:
    """Whether the replay needs ``f`` (what :meth:`WhatIfStore.read` selects in SQL): an order of a buyer whose budget
    changes, from ``since`` on, and — when the proposal reroutes — every order of the period held for approval."""
    if f.submitted_at >= proposal.end:
        return False
    if f.buyer_id in since and f.submitted_at >= since[f.buyer_id]:
        return True
    return proposal.reroutes and f.held and f.submitted_at >= proposal.start


# ---- the facts and the tally ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Fact:
    """One order as the replay reads it: as first submitted, its first routing, and the moments that moved its period
    budget's ledger. (Slots, not frozen: a replay makes a hundred thousand of them; nobody changes one.)"""

    order_id: UUID
    buyer_id: UUID
    submitted_at: datetime
    currency: str
    value: Decimal
    quantity: int
    held: bool
    limits: tuple[str, ...]
    approvers: tuple[UUID, ...]
    tier: int | None
    approved: bool
    released_at: datetime | None
    released_value: Decimal | None
    released_quantity: int | None
    ended_at: datetime | None
    confirmed_at: datetime | None

    # (evaluable by approval.domain.budget.evaluate)
    @property
    def total_value(self) -> Decimal:
        return self.value

    @property
    def total_quantity(self) -> int:
        return self.quantity


@dataclass(frozen=True)
class Routing:
    """How one order is (or would be) routed: held for approval or not, the limits exceeded, its approvers, tier."""

    held: bool
    limits: tuple[str, ...] = ()
    approvers: tuple[UUID, ...] = ()
    tier: int | None = None

    @classmethod
    def of(cls, f: Fact) -> Routing:
        return cls(f.held, f.limits, f.approvers if f.held else (), f.tier if f.held else None)


@dataclass
class Tally:
    """Orders and values by currency and held/not held, and per approver by currency."""

    orders: dict[tuple[str, bool], list[Any]] = field(default_factory=dict)
    load: dict[tuple[UUID, str], list[Any]] = field(default_factory=dict)

    @classmethod
    def empty(cls) -> Tally:
        return cls()

    def add_orders(self, currency: str, held: bool, n: int, value: Decimal) -> None:
        entry = self.orders.setdefault((currency, held), [0, Decimal(0)])
        entry[0] += n
        entry[1] += value

    def add_load(self, approver_id: UUID, currency: str, n: int, value: Decimal) -> None:
        entry = self.load.setdefault((approver_id, currency), [0, Decimal(0)])
        entry[0] += n
        entry[1] += value

    def add(self, f: Fact, r: Routing, sign: int = 1) -> None:
        value = f.value if sign == 1 else -f.value
        self.add_orders(f.currency, r.held, sign, value)
        if r.held:
            for a in r.approvers if len(r.approvers) < 2 else dict.fromkeys(r.approvers):
                self.add_load(a, f.currency, sign, value)

    def copy(self) -> Tally:
        return Tally({k: list(v) for k, v in self.orders.items()}, {k: list(v) for k, v in self.load.items()})

    @classmethod
    def of(cls, facts: Iterable[Fact]) -> Tally:
        """The tally of orders as they were routed (what the store's SQL sums; the tests compare both)."""
        out = cls()
        for f in facts:
            out.add(f, Routing.of(f))
        return out


# ---- the company's routing over time ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Stand:
    """Who routed the company's orders from ``at`` on: its approver list, main contact and approval policy."""

    at: datetime
    approver_ids: tuple[UUID, ...]
    main_contact_id: UUID | None
    policy: ApprovalPolicy | None


class History:
    """The company's stands, oldest first (from approval's own events of the company and of its policy)."""

    def __init__(self, stands: Sequence[Stand]) -> None:
        self.stands = sorted(stands, key=lambda s: s.at)
        self._ats = [s.at for s in self.stands]

    @property
    def stands_tiered(self) -> bool:
        """Whether a tiered policy was ever in force (its first step depends on the order's value)."""
        return any(s.policy is not None and s.policy.tiered for s in self.stands)

    def index(self, moment: datetime) -> int:
        """Which stand was in force at ``moment`` (0: none yet, or the first)."""
        return bisect_right(self._ats, moment)

    def at(self, moment: datetime) -> Stand:
        n = bisect_right(self._ats, moment)
        if n == 0:
            return self.stands[0] if self.stands else Stand(moment, (), None, None)
        return self.stands[n - 1]


def policy_object(company_id: UUID, tiers: Sequence[Tier], currency: str | None, escalation: str, at: datetime) -> Any:
    """An approval policy as the tiers' routing reads it — in memory, never saved."""
    return ApprovalPolicy.define_first(company_id, tiers, currency, escalation, company_id, at)


# ---- the replay -------------------------------------------------------------------------------------------------


class _Ledger:
    """What a period budget's ledger would hold during the replay: the orders' parts of one period, with the sums the
    ledger's :meth:`~approval.domain.ledger.BudgetLedger.figures` gives (kept as running sums: one buyer's history
    of a hundred thousand orders must not be summed again for every order)."""

    def __init__(self, period: Period, budget: PeriodBudget) -> None:
        self.period, self.budget = period, budget
        self.entries: dict[UUID, tuple[Decimal, int, str, str]] = {}
        self.values = {RESERVED: Decimal(0), CONSUMED: Decimal(0)}
        self.quantities = {RESERVED: 0, CONSUMED: 0}

    def _count(self, entry: tuple[Decimal, int, str, str], sign: int) -> None:
        value, quantity, currency, state = entry
        self.values[state] += sign * (value if currency == self.budget.currency else Decimal(0))
        self.quantities[state] += sign * quantity

    def figures(self) -> Figures:
        v, q = self.values, self.quantities
        return Figures(self.period, self.budget, v[RESERVED], v[CONSUMED], q[RESERVED], q[CONSUMED])

    def set(self, order_id: UUID, value: Decimal, quantity: int, currency: str, state: str = RESERVED) -> None:
        self.drop(order_id)
        entry = (value, quantity, currency, state)
        self.entries[order_id] = entry
        self._count(entry, 1)

    def drop(self, order_id: UUID) -> None:
        old = self.entries.pop(order_id, None)
        if old is not None:
            self._count(old, -1)

    def consume(self, order_id: UUID) -> None:
        e = self.entries.get(order_id)
        if e is not None and e[3] == RESERVED:
            self.set(order_id, e[0], e[1], e[2], CONSUMED)


def period_verdicts(facts: Sequence[Fact], budget: PeriodBudget) -> dict[UUID, tuple[str, ...]]:
    """The period limits each of one buyer's orders (in submission order) would have exceeded under ``budget``: the
    orders' submissions,
    releases, ends and confirmations in time order, each judged (at its submission) on what the period's ledger held
    then, with the ledger's own rule. An order that fits takes its part at its submission; one that does not, at its
    release (an approver's, or — where it went through — its own at submission); an approver's release sets its part
    to the value released; a rejection, cancellation or the ERP's refusal frees it; the ERP's confirmation spends it."""
    periods: list[Period] = []
    current: Period | None = None
    for f in facts:  # (facts come in submission order: the calendar period is computed once per period)
        if current is None or not current.start <= f.submitted_at < current.end:
            current = Period.of(budget.period, f.submitted_at)
        periods.append(current)
    moments: list[tuple[float, int, int]] = []  # (seconds since the epoch: compared far faster than aware datetimes)
    for n, f in enumerate(facts):
        moments.append((f.submitted_at.timestamp(), n, 0))
        if f.released_at is not None:
            moments.append((f.released_at.timestamp(), n, 1))
        if f.ended_at is not None:
            moments.append((f.ended_at.timestamp(), n, 2))
        if f.confirmed_at is not None:
            moments.append((f.confirmed_at.timestamp(), n, 3))
    moments.sort()
    ledgers: dict[str, _Ledger] = {}
    fits: dict[UUID, bool] = {}
    out: dict[UUID, tuple[str, ...]] = {}
    for _at, n, step in moments:
        f, period = facts[n], periods[n]  # the ledger of the order's submission, all its life
        ledger = ledgers.get(period.key)
        if ledger is None:
            ledger = ledgers[period.key] = _Ledger(period, budget)
        if step == 0:
            exceeded = judge_period(ledger.figures(), f.value, f.quantity, f.currency)
            out[f.order_id] = tuple(x.limit for x in exceeded)
            fits[f.order_id] = not exceeded
            if not exceeded:
                ledger.set(f.order_id, f.value, f.quantity, f.currency)
        elif step == 1:
            if f.approved or not fits[f.order_id]:
                assert f.released_value is not None and f.released_quantity is not None
                ledger.set(f.order_id, f.released_value, f.released_quantity, f.currency)
        elif step == 3:
            ledger.consume(f.order_id)
        else:
            e = ledger.entries.get(f.order_id)
            if e is not None and e[3] == RESERVED:
                ledger.drop(f.order_id)
    return out


_PERIOD_LIMITS = ("period_value", "period_quantity")


def replay(
    proposal: Proposal, facts: Sequence[Fact], history: History, people: People, policy: Any = None
) -> dict[UUID, tuple[Fact, Routing]]:
    """The orders of the period that the proposal may change, each with its routing under the proposal. ``policy``:
    the proposed policy as an object (:func:`policy_object`), when the proposal names one.

    The rules are pure, so each is asked once per distinct question (the same value, quantity and currency against
    the same budget; the same buyer routed with the company as it stood at the same time): a long history repeats
    its questions, and the answers are the same objects."""
    in_period = [f for f in facts if proposal.start <= f.submitted_at < proposal.end]
    judged: dict[UUID, tuple[str, ...]] = {}
    for user_id, change in proposal.budgets.items():
        mine = sorted(
            (f for f in facts if f.buyer_id == user_id), key=lambda f: (f.submitted_at.timestamp(), f.order_id)
        )
        p = change.budget.period
        period = period_verdicts(mine, p) if (p is not None and not change.keeps_period) else {}
        evaluated: dict[tuple[Decimal, int, str], tuple[str, ...]] = {}
        for f in mine:
            if f.submitted_at < proposal.start:
                continue
            question = (f.value, f.quantity, f.currency)
            limits = evaluated.get(question)
            if limits is None:
                limits = evaluated[question] = tuple(x.limit for x in evaluate(f, change.budget))
            if change.keeps_period:
                if f.limits:
                    limits += tuple(x for x in f.limits if x in _PERIOD_LIMITS)
            else:
                limits += period.get(f.order_id, ())
            judged[f.order_id] = limits
    out: dict[UUID, tuple[Fact, Routing]] = {}
    routings: dict[tuple[Any, ...], Routing] = {}
    routes: dict[tuple[Any, ...], tuple[tuple[UUID, ...], int | None]] = {}
    by_value = (proposal.policy is not None and policy is not None and policy.tiered) or (
        proposal.policy is None and history.stands_tiered
    )  # (a tier's first step depends on the order's value)
    for f in in_period:
        if f.order_id in judged:
            limits = judged[f.order_id]
        elif f.held and proposal.reroutes:
            limits = f.limits
        else:
            continue
        if not limits:
            key: tuple[Any, ...] = ()
        elif f.held and proposal.policy is None and (proposal.approvers is None or f.tier is not None):
            key = (limits, f.approvers, f.tier)  # routed as it was
        else:
            stand = history.index(f.submitted_at)
            asked = (f.buyer_id, stand, f.value, f.currency) if by_value else (f.buyer_id, stand)
            found = routes.get(asked)
            if found is None:
                found = routes[asked] = _route(f, proposal, history, people, policy)
            key = (limits, *found)
        routing = routings.get(key)
        if routing is None:
            routing = routings[key] = Routing(True, *key) if key else Routing(False)
        out[f.order_id] = (f, routing)
    return out


def _route(
    f: Fact, proposal: Proposal, history: History, people: People, proposed_policy: Any
) -> tuple[tuple[UUID, ...], int | None]:
    """Who an order held under the proposal would have gone to, with the company as it stood at the order's
    submission and the proposal applied: a tiered policy's first step, else the approver list, else the main
    contact."""
    stand = history.at(f.submitted_at)
    policy = proposed_policy if proposal.policy is not None else stand.policy
    if policy is not None and policy.tiered:
        at_then = People(stand.main_contact_id, people.may_approve, people.holders)
        step = first_step(policy, f.value, f.currency, f.buyer_id, at_then)
        return step.approvers, step.tier
    approvers = proposal.approvers.approver_ids if proposal.approvers is not None else stand.approver_ids
    return route(f.buyer_id, approvers, stand.main_contact_id), None


# ---- the outcome ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Changed:
    fact: Fact
    actual: Routing
    proposed: Routing


@dataclass(frozen=True)
class Outcome:
    start: datetime
    end: datetime
    actual: Tally
    proposed: Tally
    changed: list[Changed]
    """every order whose routing changes, oldest first"""


def outcome(proposal: Proposal, actual: Tally, replayed: dict[UUID, tuple[Fact, Routing]]) -> Outcome:
    """The proposal's tally: the actual one with each replayed order's part taken out and its proposed part put in
    (summed per kind of change first: a hundred thousand orders make a handful of kinds)."""
    changed: list[Changed] = []
    moves: dict[tuple[str, Routing, Routing], list[Any]] = {}
    befores: dict[tuple[bool, tuple[str, ...], tuple[UUID, ...], int | None], Routing] = {}
    for f, routing in replayed.values():
        if f.held:
            if routing.held and (f.approvers == routing.approvers or set(f.approvers) == set(routing.approvers)):
                continue
            key = (True, f.limits, f.approvers, f.tier)
        elif not routing.held:
            continue
        else:
            key = (False, (), (), None)
        before = befores.get(key)
        if before is None:
            before = befores[key] = Routing(*key)
        move = moves.setdefault((f.currency, before, routing), [0, Decimal(0)])
        move[0] += 1
        move[1] += f.value
        changed.append(Changed(f, before, routing))
    proposed = actual.copy()
    for (currency, before, routing), (n, value) in moves.items():
        for r, sign in ((before, -1), (routing, 1)):
            proposed.add_orders(currency, r.held, sign * n, sign * value)
            if r.held:
                for a in dict.fromkeys(r.approvers):
                    proposed.add_load(a, currency, sign * n, sign * value)
    changed.sort(key=lambda c: (c.fact.submitted_at, c.fact.order_id))
    return Outcome(proposal.start, proposal.end, actual, proposed, changed)


# ---- the use case: who may propose what -------------------------------------------------------------------------


def may_propose(member: Member, budgets: bool, routing: bool) -> bool:
    """The main contact; otherwise who could make the change: budgets — who manages budgets; the approver list or the
    policy — who manages users (who names approvers and defines the policy)."""
    if not member.active:
        return False
    if member.is_main_contact:
        return True
    return (not budgets or member.can(MANAGE_BUDGETS)) and (not routing or member.can(MANAGE_USERS))


class WhatIfs:
    """The what-if's questions to approval's application (run in the worker pool): who asks, for what, and how the
    company's routing stood over time."""

    def __init__(self, orders: Orders) -> None:
        self.orders = orders

    def proposal(
        self,
        member: Member,
        start: str | None,
        end: str | None,
        budgets: Sequence[BudgetChange],
        approvers: Sequence[ApproversChange],
        policies: Sequence[PolicyChange],
        now: datetime,
    ) -> Proposal:
        """The caller's proposal checked: they may propose it, the period is valid (at most two years), every person
        named is of their company (another company's is not found, like one that does not exist)."""
        if not may_propose(member, bool(budgets), bool(approvers or policies)):
            raise NotAllowed(
                "Only the main contact, or who could make the change (manage_budgets, manage_users), asks what if."
            )
        if not (budgets or approvers or policies):
            raise NoChanges("Name at least one change.")
        if len(budgets) + len(approvers) + len(policies) > CHANGES_MAX:
            raise InvalidOrder(f"At most {CHANGES_MAX} changes.")
        if len(approvers) > 1 or len(policies) > 1 or len({b.user_id for b in budgets}) != len(budgets):
            raise DuplicateChange("Name each user's budget, the approver list and the policy once at most.")
        month = Period.of("month", now)
        begin = _moment(start, "from") if start else month.start
        finish = _moment(end, "until") if end else month.end
        if finish <= begin:
            raise InvalidPeriod("`until` must be after `from`.")
        if finish - begin > MAX_PERIOD:
            raise PeriodTooLong("A what-if covers at most two years.")
        company = self.orders._company_to_read(member.company_id)
        for b in budgets:
            self.orders._colleague(member, b.user_id)
        for a in approvers:
            for person in a.approver_ids:
                self.orders._colleague(member, person)
        policy = policies[0] if policies else None
        if policy is not None:
            currency = policy.currency or company.currency
            people = [self.orders._colleague(member, p) for t in policy.tiers for p in t.approver_ids]
            if policy.tiers:
                check_tiers(policy.tiers, currency or "", company.currency)
            for colleague in people:
                if not may_approve(colleague, company):
                    raise NotAnApprover(f"{colleague.label} may not approve orders.")
            policy = replace(policy, currency=currency)
        return Proposal(
            member.company_id, begin, finish, {b.user_id: b for b in budgets},
            approvers[0] if approvers else None, policy,
        )  # fmt: skip

    def history(self, company_id: UUID) -> History:
        """How the company's orders were routed over time: its approver list and main contact (from approval's own
        view of the company, each change at the moment approval learnt it) and its approval policy's versions."""
        stands: list[Stand] = []
        approvers: tuple[UUID, ...] = ()
        main: UUID | None = None
        for e in self.orders.events.get(company_id):
            if isinstance(e, CompanyView.Opened):
                main = e.main_contact_id
            elif isinstance(e, CompanyView.ApproversChanged):
                approvers = tuple(e.approver_ids)
            elif isinstance(e, CompanyView.MainContactChanged):
                main = e.main_contact_id
            else:
                continue
            stands.append(Stand(e.timestamp, approvers, main, None))
        policy = self.orders._policy(company_id)
        if policy is not None:
            for rev in policy.revisions:
                version = policy_object(company_id, rev.tiers, rev.currency, rev.escalation, rev.at)
                before = [s for s in stands if s.at <= rev.at]
                last = before[-1] if before else Stand(rev.at, (), None, None)
                stands.append(Stand(rev.at, last.approver_ids, last.main_contact_id, version))
        stands.sort(key=lambda s: s.at)
        # each stand carries the latest policy before it and the latest list before it
        merged: list[Stand] = []
        current_policy = None
        current_list: tuple[UUID, ...] = ()
        current_main: UUID | None = None
        for s in stands:
            if s.policy is not None:
                current_policy = s.policy
            else:
                current_list, current_main = s.approver_ids, s.main_contact_id
            merged.append(Stand(s.at, current_list, current_main, current_policy))
        return History(merged)

    def people(self, company_id: UUID) -> People:
        """Who may approve now and who holds which role (a tier's people; their past is not kept)."""
        company = self.orders._company_to_read(company_id)
        return self.orders._people(company)
