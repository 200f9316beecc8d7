"""What-if (ADR 0030) on the in-memory store: orders submitted through approval's use cases, their events folded into
the what-if's facts as the projection does, and a proposal replayed on them — a budget lowered or raised, a period
budget (checked against a twin buyer who really had it), another approver list, a tiered policy; who may ask; and that
nothing is stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from approval.adapters.outbound.what_if_facts import fact, fold
from approval.application.orders import Orders
from approval.application.reports import PeriodTooLong
from approval.application.what_if import (
    ApproversChange,
    BudgetChange,
    NoChanges,
    Outcome,
    PolicyChange,
    Tally,
    WhatIfs,
    outcome,
    policy_object,
    replay,
    wanted,
)
from approval.domain.budget import Budget, PeriodBudget
from approval.domain.model import NotAllowed, Order, OrderNotFound, OrderStatus
from approval.domain.tiers import Tier
from tests.service.approval.test_orders_application import order
from tests.support.approval import Company

PER_ORDER = Budget(max_value=Decimal("100.00"), currency="EUR")


def facts(orders: Orders) -> list[Any]:
    """Every order's row, folded from the stored events as the projector folds them."""
    rows: dict[Any, Any] = {}
    for _n, event, _meta in orders.notifications(0, 1_000_000):
        if isinstance(event, Order.Event):
            row = fold(rows.get(event.originator_id), event)
            if row is not None:
                rows[event.originator_id] = row
    return [fact(r) for r in rows.values()]


def ask(orders: Orders, member, *, budgets=(), approvers=(), policies=(), start=None, end=None) -> Outcome:
    """What the route does, with the store's selection done in memory (the integration test checks the SQL)."""
    now = datetime.now(UTC)
    w = WhatIfs(orders)
    begin = (start or now - timedelta(days=1)).isoformat()
    finish = (end or now + timedelta(days=1)).isoformat()
    proposal = w.proposal(member, begin, finish, list(budgets), list(approvers), list(policies), now)
    everything = [f for f in facts(orders) if f.order_id in company_orders(orders, member.company_id)]
    since = proposal.since()
    actual = Tally.of(f for f in everything if proposal.start <= f.submitted_at < proposal.end)
    chosen = [f for f in everything if wanted(proposal, f, since)]
    policy = None
    if proposal.policy is not None:
        p = proposal.policy
        policy = policy_object(proposal.company_id, p.tiers, p.currency, p.escalation, proposal.start)
    return outcome(proposal, actual, replay(proposal, chosen, w.history(member.company_id), w.people(member.company_id),
                                            policy))  # fmt: skip


def company_orders(orders: Orders, company_id) -> set[Any]:
    out = set()
    for _n, event, _meta in orders.notifications(0, 1_000_000):
        if isinstance(event, Order.Submitted) and event.company_id == company_id:
            out.add(event.originator_id)
    return out


def held(t: Tally, currency: str = "EUR") -> tuple[int, Decimal]:
    n, v = t.orders.get((currency, True), [0, Decimal(0)])
    return n, Decimal(v)


def within(t: Tally, currency: str = "EUR") -> tuple[int, Decimal]:
    n, v = t.orders.get((currency, False), [0, Decimal(0)])
    return n, Decimal(v)


def load(t: Tally, who) -> int:
    return sum(v[0] for (a, _c), v in t.load.items() if a == who.id)


def test_a_lowered_budget_holds_more_orders_exactly_those_over_it(orders, company):
    anna = company.member("anna", ["approve_orders"])
    company.approvers(anna)
    bea = company.member("bea", ["place_orders"], PER_ORDER)
    placed = [orders.submit(bea, order(q)) for q in (5, 8, 12, 3)]  # 50, 80, 120 (held), 30
    out = ask(orders, company.main, budgets=[BudgetChange(bea.id, Budget(max_value=Decimal("60"), currency="EUR"))])
    assert held(out.actual) == (1, Decimal("120.00"))
    assert within(out.actual) == (3, Decimal("160.00"))
    assert held(out.proposed) == (2, Decimal("200.00"))
    assert within(out.proposed) == (2, Decimal("80.00"))
    assert [c.fact.order_id for c in out.changed] == [placed[1].id]
    change = out.changed[0]
    assert (change.actual.held, change.proposed.held, change.proposed.limits) == (False, True, ("max_value",))
    assert change.proposed.approvers == (anna.id,)
    assert (load(out.actual, anna), load(out.proposed, anna)) == (1, 2)


def test_a_raised_budget_lets_the_held_orders_through(orders, company):
    anna = company.member("anna", ["approve_orders"])
    company.approvers(anna)
    bea = company.member("bea", ["place_orders"], PER_ORDER)
    for q in (5, 12, 15):  # 50, 120 (held), 150 (held)
        orders.submit(bea, order(q))
    out = ask(orders, company.main, budgets=[BudgetChange(bea.id, Budget(max_value=Decimal("130"), currency="EUR"))])
    assert (held(out.actual), held(out.proposed)) == ((2, Decimal("270.00")), (1, Decimal("150.00")))
    assert (load(out.actual, anna), load(out.proposed, anna)) == (2, 1)
    assert [(c.actual.held, c.proposed.held, c.proposed.approvers) for c in out.changed] == [(True, False, ())]


def test_another_approver_list_moves_the_load(orders, company):
    anna = company.member("anna", ["approve_orders"])
    bert = company.member("bert", ["approve_orders"])
    company.approvers(anna)
    bea = company.member("bea", ["place_orders"], PER_ORDER)
    for q in (12, 15, 3):  # two held
        orders.submit(bea, order(q))
    out = ask(orders, company.main, approvers=[ApproversChange((bert.id,))])
    assert (load(out.actual, anna), load(out.actual, bert)) == (2, 0)
    assert (load(out.proposed, anna), load(out.proposed, bert)) == (0, 2)
    assert held(out.actual) == held(out.proposed) == (2, Decimal("270.00"))
    assert [(c.actual.approvers, c.proposed.approvers) for c in out.changed] == [((anna.id,), (bert.id,))] * 2


def test_a_buyer_named_approver_never_gets_their_own_order(orders, company):
    anna = company.member("anna", ["approve_orders", "place_orders"], PER_ORDER)
    company.approvers(anna)
    bea = company.member("bea", ["place_orders"], PER_ORDER)
    orders.submit(bea, order(12))
    orders.submit(anna, order(12))  # anna's own order went to the main contact already
    out = ask(orders, company.main, approvers=[ApproversChange((anna.id, bea.id))])
    routed = {c.fact.buyer_id: (c.actual.approvers, c.proposed.approvers) for c in out.changed}
    assert routed == {anna.id: ((company.main.id,), (bea.id,))}  # bea's own: still anna's alone, unchanged


def test_a_proposed_period_budget_routes_as_a_buyer_who_had_it_was_routed(orders, company):
    """The twin really had the monthly budget: the replay of the same orders under it for bea gives what the twin's
    orders got from the live use cases — order by order."""
    anna = company.member("anna", ["approve_orders"])
    company.approvers(anna)
    monthly = Budget(max_value=Decimal("100.00"), currency="EUR", period=PeriodBudget("month", Decimal("150"), "EUR"))
    bea = company.member("bea", ["place_orders"], PER_ORDER)
    twin = company.member("twin", ["place_orders"], monthly)
    steps = [(6, None), (12, "reject"), (5, "confirm"), (9, None), (3, None), (11, "cancel"), (2, "erp_reject"),
             (4, None)]  # fmt: skip
    pairs = []
    for quantity, then in steps:
        mine, theirs = orders.submit(bea, order(quantity)), orders.submit(twin, order(quantity))
        pairs.append((mine.id, theirs.id))
        if mine.status is OrderStatus.RELEASED and theirs.status is OrderStatus.PENDING_APPROVAL:
            orders.approve(anna, theirs.id)  # decisions stay as they were: bea's went through, so does the twin's
        if then in ("reject", "cancel"):
            assert mine.status is theirs.status is OrderStatus.PENDING_APPROVAL
            for o, who in ((mine, bea), (theirs, twin)):
                orders.reject(anna, o.id, "zu viel") if then == "reject" else orders.cancel(who, o.id)
        elif then == "confirm":
            for o in (mine, theirs):
                orders.save(*orders.erp_confirmed(o.id, "SO-1"))
        elif then == "erp_reject":
            for o in (mine, theirs):
                orders.save(*orders.erp_rejected(o.id, "gesperrt"))
    out = ask(orders, company.main, budgets=[BudgetChange(bea.id, monthly)])
    proposed = {c.fact.order_id: c.proposed for c in out.changed}
    every = {f.order_id: f for f in facts(orders)}
    checked = 0
    for mine, theirs in pairs:
        twin_routing = every[theirs]
        mine_now = proposed.get(mine)
        needs = mine_now.held if mine_now is not None else every[mine].held
        assert needs == twin_routing.held, (mine, theirs)
        if mine_now is not None and mine_now.held:
            assert set(mine_now.limits) == set(twin_routing.limits)
        checked += 1
    assert checked == len(steps)
    assert any("period_value" in c.proposed.limits for c in out.changed), "the period budget changed nothing"
    assert any("period_value" in f.limits for f in every.values() if f.buyer_id == twin.id), "no period limit hit"


def test_a_proposed_tiered_policy_routes_held_orders_to_the_first_tier(orders, company):
    anna = company.member("anna", ["approve_orders"])
    bert = company.member("bert", ["approve_orders"])
    company.approvers(anna)
    bea = company.member("bea", ["place_orders"], PER_ORDER)
    for q in (12, 40):  # 120, 400: both held
        orders.submit(bea, order(q))
    tiers = (Tier(Decimal("200"), (bert.id,)), Tier(Decimal("1000"), (anna.id,)))
    direct = ask(orders, company.main, policies=[PolicyChange(tiers, None, "direct")])
    assert sorted((c.fact.value, c.proposed.approvers, c.proposed.tier) for c in direct.changed) == [
        (Decimal("120.00"), (bert.id,), 1)
    ]  # 400 starts at tier 2 (anna), as it was routed: unchanged
    climb = ask(orders, company.main, policies=[PolicyChange(tiers, None, "climb")])
    assert (load(climb.proposed, bert), load(climb.proposed, anna)) == (2, 0)


def test_orders_outside_the_period_and_of_another_company_are_not_counted(orders, company):
    anna = company.member("anna", ["approve_orders"])
    company.approvers(anna)
    bea = company.member("bea", ["place_orders"], PER_ORDER)
    orders.submit(bea, order(12))
    other = Company(orders)
    other_buyer = other.member("bea", ["place_orders"], PER_ORDER)
    orders.submit(other_buyer, order(12))
    later = datetime.now(UTC) + timedelta(days=2)
    out = ask(orders, company.main, approvers=[ApproversChange(())], start=later, end=later + timedelta(days=3))
    assert (out.actual.orders, out.changed) == ({}, [])
    out = ask(orders, company.main, approvers=[ApproversChange(())])
    assert held(out.actual) == (1, Decimal("120.00"))


def test_nothing_is_stored(orders, company):
    anna = company.member("anna", ["approve_orders"])
    company.approvers(anna)
    bea = company.member("bea", ["place_orders"], PER_ORDER)
    orders.submit(bea, order(12))
    before = orders.recorder.max_notification_id()
    ask(orders, company.main, budgets=[BudgetChange(bea.id, Budget())], approvers=[ApproversChange(())])
    assert orders.recorder.max_notification_id() == before


# ---- who may ask, and for what ----------------------------------------------------------------------------------


def propose(orders, member, **kw):
    now = datetime.now(UTC)
    kw.setdefault("budgets", [])
    kw.setdefault("approvers", [])
    kw.setdefault("policies", [])
    return WhatIfs(orders).proposal(member, kw.pop("start", None), kw.pop("end", None), kw["budgets"], kw["approvers"],
                                    kw["policies"], now)  # fmt: skip


def test_a_buyer_and_a_controller_may_not_ask(orders, company):
    bea = company.member("bea", ["place_orders"], PER_ORDER)
    controller = company.member("carl", ["view_reports"])
    for who in (bea, controller):
        with pytest.raises(NotAllowed):
            propose(orders, who, budgets=[BudgetChange(bea.id, Budget())])


def test_who_manages_budgets_proposes_budgets_but_not_approvers(orders, company):
    bea = company.member("bea", ["place_orders"], PER_ORDER)
    budgets = company.member("bob", ["manage_budgets"])
    assert propose(orders, budgets, budgets=[BudgetChange(bea.id, Budget())]).budgets
    with pytest.raises(NotAllowed):
        propose(orders, budgets, approvers=[ApproversChange(())])
    users = company.member("ulla", ["manage_users"])
    assert propose(orders, users, approvers=[ApproversChange(())]).approvers is not None
    with pytest.raises(NotAllowed):
        propose(orders, users, budgets=[BudgetChange(bea.id, Budget())])


def test_another_companys_user_is_not_found(orders, company):
    other = Company(orders)
    stranger = other.member("bea", ["place_orders"], PER_ORDER)
    with pytest.raises(OrderNotFound):
        propose(orders, company.main, budgets=[BudgetChange(stranger.id, Budget())])
    with pytest.raises(OrderNotFound):
        propose(orders, company.main, approvers=[ApproversChange((stranger.id,))])
    with pytest.raises(OrderNotFound):
        propose(orders, company.main, policies=[PolicyChange((Tier(Decimal("10"), (stranger.id,)),), None)])


def test_no_changes_and_a_period_over_two_years_are_refused(orders, company):
    with pytest.raises(NoChanges):
        propose(orders, company.main)
    with pytest.raises(PeriodTooLong):
        propose(orders, company.main, approvers=[ApproversChange(())], start="2024-01-01", end="2026-01-03")
