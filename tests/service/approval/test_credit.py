"""The company's credit at the ERP on the in-memory store (ADR 0026): an order that would go to the ERP waits for
credit when it does not fit (or the customer is blocked), waiting orders go on by themselves in submission order when
the ERP's figures allow it, the main contact (or the buyer) cancels a waiting order, and nobody else moves one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from approval.application.orders import Orders
from approval.domain.budget import Budget
from approval.domain.credit import CompanyCredit, CreditFigures
from approval.domain.model import NotAllowed, Order, OrderNotFound, OrderStatus, WrongState
from tests.service.approval.test_orders_application import order
from tests.support.approval import Company

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
SMALL = Budget(max_quantity=5, max_value=Decimal("50.00"), currency="EUR")


def figures(orders: Orders, company: Company, limit: str, minutes: int, receivables: str = "0", **kw) -> list:
    f = CreditFigures(
        kw.pop("currency", "EUR"), Decimal(limit), Decimal(receivables), Decimal(kw.pop("open_orders", "0")),
        kw.pop("blocked", False), T0 + timedelta(minutes=minutes),
    )  # fmt: skip
    changed = orders.credit.figures_changed(company.id, f)
    orders.save(*changed)
    return [x for x in changed if isinstance(x, Order)]


def stored(orders: Orders, order_id) -> Order:
    return orders.repository.get(order_id)


def credit(orders: Orders, company: Company) -> CompanyCredit:
    return orders.repository.get(CompanyCredit.create_id(company.id))


def test_without_credit_figures_from_the_erp_orders_are_not_checked(orders, company):
    buyer = company.buyer()
    assert orders.submit(buyer, order(1_000_000)).status is OrderStatus.RELEASED


def test_an_order_that_does_not_fit_the_available_credit_waits_with_the_figures_pinned(orders, company):
    figures(orders, company, "100", 1, receivables="30", open_orders="20")
    buyer = company.buyer()
    held = orders.submit(buyer, order(6))  # 60.00 > 100 - 30 - 20
    assert held.status is OrderStatus.CREDIT_HOLD
    hold = stored(orders, held.id).credit_hold
    assert (hold.reason, hold.amount, hold.stand.available) == ("credit_limit", Decimal("60.00"), Decimal("50"))
    assert hold.main_contact_id == company.main.id
    assert [w.order_id for w in credit(orders, company).waiting] == [held.id]


def test_released_orders_count_until_the_erps_figures_include_them(orders, company):
    figures(orders, company, "100", 1)
    buyer = company.buyer()
    first = orders.submit(buyer, order(7))
    second = orders.submit(buyer, order(4))  # 40.00 > 100 - 70 released
    assert (first.status, second.status) == (OrderStatus.RELEASED, OrderStatus.CREDIT_HOLD)
    assert credit(orders, company).stand().released_unconfirmed == Decimal("70.00")

    orders.save(*orders.erp_confirmed(first.id, "SO-1", confirmed_at=T0 + timedelta(minutes=2, seconds=30)))
    assert figures(orders, company, "100", 1) == []  # not newer: nothing changes
    # taken before the ERP confirmed the first order: the ERP does not count it yet, approval still does
    assert figures(orders, company, "100", 2) == []
    assert credit(orders, company).stand().released_unconfirmed == Decimal("70.00")
    # taken after: the ERP's open orders include it, approval stops counting it; the second fits now and goes on
    went_on = figures(orders, company, "120", 3, open_orders="70.00")
    assert [o.id for o in went_on] == [second.id]
    assert stored(orders, second.id).status is OrderStatus.RELEASED
    stand = credit(orders, company).stand()
    assert (stand.released_unconfirmed, stand.available) == (Decimal("40.00"), Decimal("10.00"))


def test_a_blocked_customer_has_every_order_wait(orders, company):
    figures(orders, company, "1000000", 1, blocked=True)
    held = orders.submit(company.buyer(), order(1))
    assert held.status is OrderStatus.CREDIT_HOLD and held.credit_hold.reason == "credit_blocked"


def test_waiting_orders_go_on_oldest_first_and_one_that_does_not_fit_keeps_the_later_ones_waiting(orders, company):
    figures(orders, company, "0", 1)
    buyer = company.buyer()
    big, small, smaller = (orders.submit(buyer, order(q)) for q in (5, 1, 2))
    assert {o.status for o in (big, small, smaller)} == {OrderStatus.CREDIT_HOLD}
    assert (small.credit_hold.reason, smaller.credit_hold.reason) == ("credit_queue", "credit_queue")

    assert figures(orders, company, "40", 2) == []  # the oldest (50.00) does not fit: the small ones wait behind it
    went_on = figures(orders, company, "75", 3)
    assert [o.id for o in went_on] == [big.id, small.id]  # 50 + 10 fit, the third (20) does not any more
    assert stored(orders, smaller.id).status is OrderStatus.CREDIT_HOLD
    assert [w.order_id for w in credit(orders, company).waiting] == [smaller.id]


def test_a_new_order_waits_behind_older_waiting_ones_even_when_it_would_fit(orders, company):
    figures(orders, company, "30", 1)
    buyer = company.buyer()
    big = orders.submit(buyer, order(5))
    small = orders.submit(buyer, order(1))
    assert (big.status, small.status) == (OrderStatus.CREDIT_HOLD, OrderStatus.CREDIT_HOLD)
    assert small.credit_hold.reason == "credit_queue"


def test_an_approved_order_can_still_wait_for_credit_and_goes_on_as_approved(orders, company):
    figures(orders, company, "10", 1)
    buyer = company.member("buyer", ["place_orders"], SMALL)
    pending = orders.submit(buyer, order(8))
    assert pending.status is OrderStatus.PENDING_APPROVAL  # approval first, credit only when it would go on
    approved = orders.approve(company.main, pending.id)
    assert approved.status is OrderStatus.CREDIT_HOLD and approved.approved_by == company.main.id
    (went_on,) = figures(orders, company, "1000", 2)
    after = stored(orders, went_on.id)
    assert (after.status, after.approved_by) == (OrderStatus.RELEASED, company.main.id)
    released = [e for e in orders.events.get(after.id) if isinstance(e, Order.Released)]
    assert [e.approved_by for e in released] == [company.main.id]  # once, naming the approver for the ERP


def test_the_erps_refusal_frees_the_credit_for_waiting_orders(orders, company):
    figures(orders, company, "100", 1)
    buyer = company.buyer()
    first = orders.submit(buyer, order(8))
    second = orders.submit(buyer, order(5))
    assert second.status is OrderStatus.CREDIT_HOLD
    changed = orders.erp_rejected(first.id, "gesperrt")
    orders.save(*changed)
    assert stored(orders, second.id).status is OrderStatus.RELEASED


def test_the_main_contact_cancels_a_waiting_order_and_the_next_goes_on(orders, company):
    figures(orders, company, "60", 1)
    buyer = company.buyer()
    big = orders.submit(buyer, order(7))
    small = orders.submit(buyer, order(5))
    assert (big.status, small.status) == (OrderStatus.CREDIT_HOLD, OrderStatus.CREDIT_HOLD)
    cancelled = orders.cancel(company.main, big.id, "zu teuer")
    assert cancelled.status is OrderStatus.CANCELLED
    cancel_event = [e for e in orders.events.get(big.id) if isinstance(e, Order.Cancelled)][-1]
    assert cancel_event.by == company.main.id  # audited: who cancelled
    assert stored(orders, small.id).status is OrderStatus.RELEASED
    assert credit(orders, company).waiting == []


def test_the_buyer_may_cancel_their_own_waiting_order(orders, company):
    figures(orders, company, "0", 1)
    buyer = company.buyer()
    held = orders.submit(buyer, order(1))
    assert orders.cancel(buyer, held.id).status is OrderStatus.CANCELLED


def test_nobody_else_cancels_or_forces_through_a_waiting_order(orders, company):
    figures(orders, company, "0", 1)
    buyer = company.buyer()
    held = orders.submit(buyer, order(1))
    colleague = company.buyer()
    with pytest.raises(OrderNotFound):  # not theirs to see
        orders.cancel(colleague, held.id)
    viewer = company.member("viewer", ["place_orders", "view_company_orders", "approve_orders"])
    with pytest.raises(NotAllowed):
        orders.cancel(viewer, held.id)
    with pytest.raises(WrongState):  # approving is over: an approval cannot push it past the credit
        orders.approve(company.main, held.id)
    with pytest.raises(NotAllowed):
        orders.credit.view(buyer)
    assert orders.re_evaluate(company.main, [held.id]) == []  # not pending: the re-evaluation leaves it
    assert stored(orders, held.id).status is OrderStatus.CREDIT_HOLD


def test_figures_taken_before_the_last_ones_applied_change_nothing(orders, company):
    figures(orders, company, "0", 5)
    held = orders.submit(company.buyer(), order(1))
    assert figures(orders, company, "1000", 4) == []
    assert stored(orders, held.id).status is OrderStatus.CREDIT_HOLD
    assert credit(orders, company).figures.credit_limit == Decimal("0")


def test_figures_that_arrive_before_the_erps_confirmation_already_include_the_order(orders, company):
    figures(orders, company, "100", 1)
    first = orders.submit(company.buyer(), order(7))
    # the ERP confirmed at minute 2 and took its figures at minute 3: they reach approval before the confirmation
    figures(orders, company, "100", 3, open_orders="70.00")
    assert credit(orders, company).stand().available == Decimal("-40.00")  # counted twice for a moment, never zero
    orders.save(*orders.erp_confirmed(first.id, "SO-1", confirmed_at=T0 + timedelta(minutes=2)))
    stand = credit(orders, company).stand()
    assert (stand.released_unconfirmed, stand.available) == (Decimal("0"), Decimal("30.00"))
