"""Deadlines of waiting orders (issue 17 item 2, ADR 0033) on the in-memory store: the main contact sets them; the
timer's question — take what is due for this order — reminds, escalates (to the next tier, else to the main
contact) and expires, each once per wait, only the furthest when several are due, never for a decided order."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from approval.adapters.outbound.translator import make_translator
from approval.application.orders import Orders
from approval.domain.budget import Budget, PeriodBudget
from approval.domain.deadlines import Deadlines, InvalidDeadlines
from approval.domain.model import NotAllowed, Order, OrderStatus
from approval.domain.tiers import Tier
from contracts.approval import v1 as wire
from tests.service.approval.test_orders_application import order

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
BUDGET = Budget(max_value=Decimal("50.00"), currency="EUR")
"""Every order over 50 EUR waits for approval (A-1 costs 10 EUR)."""
HOURS = Deadlines.of(timedelta(hours=4), timedelta(hours=8), timedelta(days=3))


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def orders() -> Orders:
    app = Orders(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    app.clock = Clock()
    return app


@pytest.fixture
def team(orders, company):
    bea = company.member("bea", ["place_orders"], BUDGET)
    clara = company.member("clara", ["approve_orders"])
    company.approvers(clara)
    orders.set_deadlines(company.main, HOURS)
    return bea, clara


def later(orders, **delta) -> None:
    orders.clock.now = NOW + timedelta(**delta)


def names(orders, order_id) -> list[str]:
    return [type(e).__name__ for e in orders.events.get(order_id)]


def test_only_the_main_contact_sets_and_sees_the_deadlines(orders, company, team):
    bea, clara = team
    assert orders.deadlines(company.main).deadlines == HOURS
    for someone in (bea, clara):  # an approver would like more time; a buyer, less
        with pytest.raises(NotAllowed):
            orders.set_deadlines(someone, Deadlines.of(None, None, timedelta(days=300)))
        with pytest.raises(NotAllowed):
            orders.deadlines(someone)
    assert orders.deadlines(company.main).deadlines == HOURS


@pytest.mark.parametrize(
    "deadlines",
    [
        Deadlines.of(timedelta(minutes=30), None, None),  # shorter than the service allows
        Deadlines.of(timedelta(hours=8), timedelta(hours=4), None),  # escalated before reminded
        Deadlines.of(None, timedelta(days=3), timedelta(days=3)),  # expired as it is escalated
        Deadlines.of(None, None, timedelta(days=400)),
    ],
)
def test_deadlines_out_of_order_or_out_of_bounds_are_refused(orders, company, deadlines):
    with pytest.raises(InvalidDeadlines):
        orders.set_deadlines(company.main, deadlines)
    assert orders.deadlines(company.main) is None


def test_an_order_is_reminded_then_escalated_to_the_main_contact_then_expires_each_once(orders, company, team):
    bea, clara = team
    held = orders.submit(bea, order(6))
    assert orders.take_deadline(held.id) is None  # nothing due yet
    later(orders, hours=4)
    assert orders.take_deadline(held.id) == "remind"
    assert orders.take_deadline(held.id) is None  # once
    later(orders, hours=8)
    assert orders.take_deadline(held.id) == "escalate"
    escalated = orders.get_order(company.main, held.id)
    assert escalated.approvers == (clara.id, company.main.id)
    assert orders.take_deadline(held.id) is None
    later(orders, days=3)
    assert orders.take_deadline(held.id) == "expire"
    assert orders.take_deadline(held.id) is None
    assert names(orders, held.id)[-3:] == ["Reminded", "EscalatedOnDeadline", "Expired"]
    assert orders.get_order(bea, held.id).status is OrderStatus.EXPIRED


def test_after_a_long_outage_only_the_furthest_step_due_is_taken(orders, team):
    bea, _clara = team
    held = orders.submit(bea, order(6))
    later(orders, days=4)
    assert orders.take_deadline(held.id) == "expire"
    assert "Reminded" not in names(orders, held.id)


def test_a_decided_or_cancelled_order_takes_no_deadline(orders, team):
    bea, clara = team
    approved, cancelled = orders.submit(bea, order(6)), orders.submit(bea, order(7))
    orders.approve(clara, approved.id)
    orders.cancel(bea, cancelled.id)
    later(orders, days=4)
    assert orders.take_deadline(approved.id) is None
    assert orders.take_deadline(cancelled.id) is None


def test_the_buyer_may_send_an_expired_order_again(orders, team):
    bea, _clara = team
    held = orders.submit(bea, order(6))
    later(orders, days=3)
    orders.take_deadline(held.id)
    again = orders.resubmit(bea, held.id, "Bitte jetzt freigeben", order(6))
    assert (again.status, again.round, again.deadline_stage) == (OrderStatus.PENDING_APPROVAL, 2, 0)
    assert again.waiting_since == NOW + timedelta(days=3)  # its deadlines count afresh
    assert orders.take_deadline(held.id) is None


def test_an_expired_order_frees_its_part_of_the_period_budget(orders, company):
    monthly = Budget(max_quantity=5, period=PeriodBudget("month", Decimal("1000.00"), "EUR", 100))
    bea = company.member("bea", ["place_orders"], monthly)
    orders.set_deadlines(company.main, Deadlines.of(None, None, timedelta(days=1)))
    held = orders.submit(bea, order(6))  # over 5 per order, fits the period: held, reserved
    assert orders.period_budget(bea)[1].reserved_value == Decimal("60.00")
    later(orders, days=1)
    assert orders.take_deadline(held.id) == "expire"
    assert orders.period_budget(bea)[1].reserved_value == Decimal("0")


def test_under_tiers_an_order_is_escalated_to_the_next_tier(orders, company):
    bea = company.member("bea", ["place_orders"], BUDGET)
    anna, bert = company.member("anna", ["approve_orders"]), company.member("bert", ["approve_orders"])
    orders.define_approval_policy(
        company.main, [Tier(Decimal("150"), (anna.id,)), Tier(Decimal("500"), (bert.id,))], "EUR"
    )
    orders.set_deadlines(company.main, Deadlines.of(None, timedelta(hours=8), None))
    held = orders.submit(bea, order(10))  # 100 EUR: anna's tier
    assert (held.approvers, held.position.tier) == ((anna.id,), 1)
    later(orders, hours=8)
    assert orders.take_deadline(held.id) == "escalate"
    escalated = orders.get_order(company.main, held.id)
    assert (escalated.approvers, escalated.position.tier) == ((bert.id,), 2)
    assert orders.approve(bert, held.id).status is OrderStatus.RELEASED


def test_a_step_a_decision_beat_is_not_taken(orders, team, monkeypatch):
    bea, clara = team
    held = orders.submit(bea, order(6))
    later(orders, hours=4)
    found = orders._find
    raced: list[bool] = []

    def find_then_decided(aggregate_id):  # the approver decides between the timer's read and its save
        got = found(aggregate_id)
        if aggregate_id == held.id and not raced:
            raced.append(True)
            orders.approve(clara, held.id)
        return got

    monkeypatch.setattr(orders, "_find", find_then_decided)
    assert orders.take_deadline(held.id) is None
    monkeypatch.undo()
    assert "Reminded" not in names(orders, held.id)
    assert orders.get_order(bea, held.id).status is OrderStatus.RELEASED


def test_each_step_is_told_on_the_orders_topic(orders, company, team):
    bea, clara = team
    held = orders.submit(bea, order(6))
    for hours in (4, 8, 72):
        later(orders, hours=hours)
        orders.take_deadline(held.id)
    translate = make_translator(lambda oid, version: orders.repository.get(oid, version=version))
    steps = [
        e
        for e in orders.events.get(held.id)
        if isinstance(e, Order.Reminded | Order.EscalatedOnDeadline | Order.Expired)
    ]
    reminder, escalation, expiry = [m.message for e in steps for m in translate(e)]
    assert isinstance(reminder, wire.OrderApprovalReminded)
    assert (reminder.approver_ids, reminder.waiting_since, reminder.version) == (
        [clara.id],
        NOW,
        steps[0].originator_version,
    )
    assert isinstance(escalation, wire.OrderApprovalRequested)
    assert escalation.approver_ids == [company.main.id]  # asked as the first were: only who the escalation adds
    assert isinstance(expiry, wire.OrderExpired)
    assert (expiry.buyer_id, expiry.expired_at) == (bea.id, NOW + timedelta(hours=72))
