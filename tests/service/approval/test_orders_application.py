"""The approval use cases on the in-memory event store: members from users' events, budgets, routing, decisions."""

from decimal import Decimal

import pytest

from approval.application.orders import CallerInactive, OrderingBlocked, UnknownCaller
from approval.domain.budget import Budget
from approval.domain.model import NotAllowed, OrderLine, OrderNotFound, OrderStatus, SelfApproval, WrongState
from approval.domain.pricing import OrderRequest
from tests.support.approval import Company
from tests.support.users import signed_in
from tests.unit.approval.test_order import content


def order(quantity: int, price: str = "10.00"):
    return OrderRequest.of(content(OrderLine("A-1", "Schraube", quantity, Decimal(price))))


BUDGET = Budget(max_quantity=10, max_value=Decimal("100.00"), currency="EUR")


def test_an_order_within_budget_is_released(orders, company):
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    assert orders.submit(buyer, order(5)).status is OrderStatus.RELEASED


def test_an_order_over_budget_waits_for_the_named_approvers(orders, company):
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    approver = company.member("approver", ["approve_orders"])
    company.approvers(approver)
    held = orders.submit(buyer, order(20))
    assert held.status is OrderStatus.PENDING_APPROVAL
    assert held.approvers == (approver.id,)


def test_with_no_approvers_the_main_contact_decides(orders, company):
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    held = orders.submit(buyer, order(20))
    assert held.approvers == (company.main.id,)
    assert orders.approve(company.main, held.id).status is OrderStatus.RELEASED


def test_the_budget_at_submission_is_pinned(orders, company):
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    held = orders.submit(buyer, order(20))
    orders.save(*orders.member_changed(buyer.id, budget=Budget()))
    assert orders.get_order(company.main, held.id).budget == BUDGET
    assert orders.get_order(company.main, held.id).status is OrderStatus.PENDING_APPROVAL


def test_a_budget_change_applies_to_the_next_order(orders, company):
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    orders.save(*orders.member_changed(buyer.id, budget=Budget(max_quantity=100)))
    assert orders.submit(orders.caller(signed_in(buyer.email)), order(20)).status is OrderStatus.RELEASED


def test_a_deactivated_user_is_refused_at_once(orders, company):
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    orders.save(*orders.member_changed(buyer.id, active=False))
    with pytest.raises(CallerInactive):
        orders.caller(signed_in(buyer.email))


def test_an_unknown_email_is_refused(orders):
    with pytest.raises(UnknownCaller):
        orders.caller(signed_in("nobody@example.com"))


def test_a_changed_email_identifies_the_user_and_the_old_one_no_longer(orders, company):
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    orders.save(*orders.member_changed(buyer.id, email="new-" + buyer.email))
    assert orders.caller(signed_in("NEW-" + buyer.email)).id == buyer.id
    with pytest.raises(UnknownCaller):
        orders.caller(signed_in(buyer.email))


def test_a_service_technician_cannot_order(orders, company):
    tech = company.member("tech", ["view_data_sheets"])
    with pytest.raises(NotAllowed):
        orders.submit(tech, order(1))


def test_a_buyer_who_is_the_only_approver_cannot_approve_their_own_order(orders, company):
    buyer = company.member("buyer", ["place_orders", "approve_orders"], BUDGET)
    company.approvers(buyer)
    held = orders.submit(buyer, order(20))
    assert held.approvers == (company.main.id,)
    with pytest.raises(SelfApproval):
        orders.approve(buyer, held.id)


def test_another_companys_order_does_not_exist_for_me(orders, company):
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    placed = orders.submit(buyer, order(1))
    other = Company(orders)
    with pytest.raises(OrderNotFound):
        orders.get_order(other.main, placed.id)


def test_a_colleague_without_the_right_cannot_see_my_order(orders, company):
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    colleague = company.member("colleague", ["place_orders"], BUDGET)
    placed = orders.submit(buyer, order(1))
    with pytest.raises(OrderNotFound):
        orders.get_order(colleague, placed.id)


def test_rejected_then_resubmitted_with_a_lower_quantity_is_released(orders, company):
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    held = orders.submit(buyer, order(20))
    orders.reject(company.main, held.id, "Zu viel")
    again = orders.resubmit(buyer, held.id, "Nur 8", order(8))
    assert again.status is OrderStatus.RELEASED
    assert again.round == 2


def test_a_deactivated_approvers_pending_orders_move_to_the_remaining_approvers(orders, company):
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    a, b = company.member("a", ["approve_orders"]), company.member("b", ["approve_orders"])
    company.approvers(a, b)
    held = orders.submit(buyer, order(20))
    orders.save(*orders.approvers_changed(company.id, (b.id,), [held.id]))
    assert orders.get_order(company.main, held.id).approvers == (b.id,)
    with pytest.raises(OrderNotFound):  # no longer involved: the order is not a's business any more
        orders.approve(a, held.id)


def test_a_company_blocked_by_the_erp_cannot_order(orders, company):
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    orders.save(*orders.ordering_allowed_changed(company.id, False))
    with pytest.raises(OrderingBlocked):
        orders.submit(buyer, order(1))


def test_a_cancelled_order_cannot_be_approved(orders, company):
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    held = orders.submit(buyer, order(20))
    orders.cancel(buyer, held.id)
    with pytest.raises(WrongState):
        orders.approve(company.main, held.id)


def test_a_renamed_member_is_shown_by_the_new_name_at_once(orders, company):
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    assert orders.names([buyer.id]) == {buyer.id: buyer.name}
    orders.save(*orders.member_changed(buyer.id, first_name="Erika"))
    assert orders.names([buyer.id]) == {buyer.id: "Erika Muster"}


def test_a_company_blocked_after_its_buyer_was_seen_cannot_order(orders, company):
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    orders.submit(orders.caller(signed_in(buyer.email)), order(5))
    orders.save(*orders.ordering_allowed_changed(company.id, False))
    with pytest.raises(OrderingBlocked):
        orders.submit(orders.caller(signed_in(buyer.email)), order(5))
