"""Bulk decisions (issue 17 item 3): several orders approved or rejected at once, one comment for all, a result per
order — each order decided by the single decision's use case, in a transaction of its own."""

from decimal import Decimal
from uuid import uuid4

import pytest

from approval.application.orders import DECISIONS_MAX, DuplicateOrders, Orders, TooManyOrders
from approval.domain.budget import Budget, PeriodBudget
from approval.domain.ledger import RESERVED
from approval.domain.model import InvalidOrder, OrderLine, OrderStatus
from approval.domain.pricing import OrderRequest
from tests.service.approval.test_orders_application import BUDGET, order
from tests.support.approval import Company
from tests.unit.approval.test_order import content


def order_of(sku: str, quantity: int) -> OrderRequest:
    return OrderRequest.of(content(OrderLine(sku, "Artikel", quantity, Decimal("9.90"))))


def codes(results) -> list[str | None]:
    return [r.error.code if r.error else None for r in results]


def events_of(orders: Orders, order_id) -> list:
    return list(orders.events.get(order_id))


@pytest.fixture
def team(orders, company):
    """A buyer and a named approver, whose over-budget orders go to the approver."""
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    approver = company.member("approver", ["approve_orders"])
    company.approvers(approver)
    return buyer, approver


def test_every_order_is_approved_with_the_one_comment(orders, team):
    buyer, approver = team
    held = [orders.submit(buyer, order(20 + i)) for i in range(3)]
    results = orders.decide(approver, "approve", [o.id for o in held], "Passt, alle drei")
    assert [r.order_id for r in results] == [o.id for o in held]
    assert codes(results) == [None, None, None]
    for o in held:
        stored = orders.get_order(approver, o.id)
        assert (stored.status, stored.decided_by) == (OrderStatus.RELEASED, approver.id)
        assert stored.conversation[-1].text == "Passt, alle drei"


def test_every_order_is_rejected_with_the_one_comment(orders, team):
    buyer, approver = team
    held = [orders.submit(buyer, order(20)) for _ in range(2)]
    results = orders.decide(approver, "reject", [o.id for o in held], "Bitte bündeln")
    assert codes(results) == [None, None]
    assert {r.order.status for r in results} == {OrderStatus.REJECTED}
    assert [orders.get_order(buyer, o.id).conversation[-1].kind for o in held] == ["rejection", "rejection"]


def test_mixed_outcomes_one_result_per_order_and_the_failures_undo_nothing(orders, company, team):
    buyer, approver = team
    company.approvers(approver, company.main)  # the main contact decides as well
    first, decided_meanwhile, third = (orders.submit(buyer, order(20)) for _ in range(3))
    orders.reject(company.main, decided_meanwhile.id, "Nicht jetzt")  # the main contact, a moment earlier
    missing = uuid4()
    results = orders.decide(approver, "approve", [first.id, decided_meanwhile.id, missing, third.id], "ok")
    assert [r.order_id for r in results] == [first.id, decided_meanwhile.id, missing, third.id]
    assert codes(results) == [None, "wrong_state", "not_found", None]
    late = results[1]
    assert (late.order.status, late.order.decided_by) == (OrderStatus.REJECTED, company.main.id)
    assert results[2].order is None
    assert orders.get_order(approver, first.id).status is OrderStatus.RELEASED
    assert orders.get_order(approver, third.id).status is OrderStatus.RELEASED
    assert orders.get_order(approver, decided_meanwhile.id).status is OrderStatus.REJECTED


def test_nobody_decides_their_own_order_in_a_bulk_decision(orders, company):
    buyer = company.member("buyer", ["place_orders", "approve_orders"], BUDGET)
    colleague = company.member("colleague", ["place_orders"], BUDGET)
    other = company.member("other", ["approve_orders"])
    company.approvers(buyer, other)
    mine = orders.submit(buyer, order(20))  # routed to the other approver only
    theirs = orders.submit(colleague, order(20))  # routed to both
    results = orders.decide(buyer, "approve", [mine.id, theirs.id], "ok")
    assert codes(results) == ["self_approval", None]
    assert orders.get_order(other, mine.id).status is OrderStatus.PENDING_APPROVAL
    assert orders.get_order(other, theirs.id).decided_by == buyer.id


def test_an_order_not_routed_to_the_caller_is_not_allowed(orders, company, team):
    buyer, _ = team
    onlooker = company.member("onlooker", ["approve_orders", "view_company_orders"])  # sees it, does not decide
    held = orders.submit(buyer, order(20))
    (result,) = orders.decide(onlooker, "approve", [held.id], "ok")
    assert codes([result]) == ["not_allowed"]
    assert result.order.status is OrderStatus.PENDING_APPROVAL


def test_another_companys_order_is_reported_exactly_like_a_missing_one(orders, company, team):
    buyer, _ = team
    theirs = orders.submit(buyer, order(20))
    before = len(events_of(orders, theirs.id))
    stranger = Company(orders).main  # every permission, in another company
    on_theirs, on_nothing = orders.decide(stranger, "approve", [theirs.id, uuid4()])
    assert (on_theirs.order, on_theirs.error.code, str(on_theirs.error)) == (
        on_nothing.order, on_nothing.error.code, str(on_nothing.error),
    )  # fmt: skip
    assert on_theirs.error.code == "not_found"
    assert len(events_of(orders, theirs.id)) == before


def test_deciding_again_reports_the_state_and_stores_no_second_event(orders, team):
    buyer, approver = team
    held = [orders.submit(buyer, order(20)) for _ in range(2)]
    ids = [o.id for o in held]
    orders.decide(approver, "approve", ids, "ok")
    stored = {i: len(events_of(orders, i)) for i in ids}
    again = orders.decide(approver, "approve", ids, "ok")  # the client's retry
    assert codes(again) == ["wrong_state", "wrong_state"]
    assert [(r.order.status, r.order.decided_by) for r in again] == [(OrderStatus.RELEASED, approver.id)] * 2
    assert {i: len(events_of(orders, i)) for i in ids} == stored


def test_a_decision_that_loses_a_race_is_a_conflict_and_the_others_go_through(orders, company, team):
    buyer, approver = team
    company.approvers(approver, company.main)
    raced, calm = orders.submit(buyer, order(20)), orders.submit(buyer, order(20))
    save, raced_once = orders.save, []

    def save_after_a_rival(*objs, **kwargs):
        # the main contact's rejection lands between this decision's read of the order and its save
        if not raced_once and any(getattr(o, "id", None) == raced.id for o in objs):
            raced_once.append(True)
            orders.reject(company.main, raced.id, "Schneller")
        return save(*objs, **kwargs)

    orders.save = save_after_a_rival  # type: ignore[method-assign]
    results = orders.decide(approver, "approve", [raced.id, calm.id], "ok")
    assert codes(results) == ["conflict", None]
    assert (results[0].order.status, results[0].order.decided_by) == (OrderStatus.REJECTED, company.main.id)
    assert [type(e).__name__ for e in events_of(orders, raced.id)].count("Approved") == 0
    assert orders.get_order(approver, calm.id).status is OrderStatus.RELEASED


def test_a_changed_price_holds_back_only_that_order(orders, company, team):
    buyer, approver = team
    cheap = orders.submit(buyer, order(20))
    pricey = orders.submit(buyer, order_of("A-100", 20))
    company.price("A-100", "12.00")
    results = orders.decide(approver, "approve", [cheap.id, pricey.id])
    assert codes(results) == [None, "price_changed"]
    assert results[1].error.details[-1]["total"] == {"amount": "240.00", "currency": "EUR"}
    assert orders.get_order(approver, pricey.id).status is OrderStatus.PENDING_APPROVAL


def test_several_orders_of_one_buyer_each_take_their_part_of_the_period_budget(orders, company):
    monthly = Budget(max_quantity=8, period=PeriodBudget("month", Decimal("1000.00"), "EUR", 100))
    buyer = company.member("buyer", ["place_orders"], monthly)
    held = [orders.submit(buyer, order(9)) for _ in range(3)]  # over 8 per order, fits the period: reserved
    results = orders.decide(company.main, "approve", [o.id for o in held])
    assert codes(results) == [None, None, None]
    _, figures = orders.period_budget(buyer)
    assert figures.reserved_value == Decimal("270.00")
    ledger = orders.repository.get(orders.repository.get(held[0].id).ledger_id)
    assert {ledger.entries[o.id].state for o in held} == {RESERVED}


def test_a_rejection_of_several_orders_needs_a_comment(orders, team):
    buyer, approver = team
    held = orders.submit(buyer, order(20))
    for comment in (None, "", "   "):
        with pytest.raises(InvalidOrder):
            orders.decide(approver, "reject", [held.id], comment)
    assert orders.get_order(approver, held.id).status is OrderStatus.PENDING_APPROVAL


def test_an_order_named_twice_refuses_the_whole_request(orders, team):
    buyer, approver = team
    held, other = orders.submit(buyer, order(20)), orders.submit(buyer, order(20))
    with pytest.raises(DuplicateOrders):
        orders.decide(approver, "approve", [held.id, other.id, held.id])
    assert {orders.get_order(approver, o.id).status for o in (held, other)} == {OrderStatus.PENDING_APPROVAL}


def test_at_most_the_limit_and_at_least_one_order(orders, team):
    _, approver = team
    with pytest.raises(TooManyOrders):
        orders.decide(approver, "approve", [uuid4() for _ in range(DECISIONS_MAX + 1)])
    with pytest.raises(InvalidOrder):
        orders.decide(approver, "approve", [])
    assert (
        codes(orders.decide(approver, "approve", [uuid4() for _ in range(DECISIONS_MAX)]))
        == ["not_found"] * DECISIONS_MAX
    )


def test_the_decision_is_approve_or_reject(orders, team):
    _, approver = team
    with pytest.raises(InvalidOrder):
        orders.decide(approver, "cancel", [uuid4()], "x")
