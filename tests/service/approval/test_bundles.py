"""Bundles (issue 17 item 6; ADR 0034) on the in-memory store: an approver approves several waiting orders together
and they go to the ERP as one sales order whose lines name their orders; the ERP's answer to the bundle becomes every
member's; all or nothing — an order that cannot be approved (or would not be released by it), or that differs in what
a sales order has once, leaves every order as it was."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from approval.adapters.outbound.translator import make_translator
from approval.application.explanations import Explanations
from approval.application.orders import Orders
from approval.domain.budget import Budget, PeriodBudget
from approval.domain.bundles import BundleMismatch, BundleRefused, OrderBundle
from approval.domain.credit import CompanyCredit, CreditFigures
from approval.domain.ledger import RESERVED, BudgetLedger
from approval.domain.model import (
    Address,
    InvalidOrder,
    NotAllowed,
    Order,
    OrderLine,
    OrderNotFound,
    OrderStatus,
    SelfApproval,
    WrongState,
)
from approval.domain.pricing import OrderRequest, PriceChanged
from contracts.approval import v1 as wire
from tests.service.approval.test_orders_application import BUDGET, order
from tests.support.approval import Company
from tests.unit.approval.test_order import content

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def team(orders, company):
    """Two buyers and a named approver, whose over-budget orders go to the approver."""
    anna = company.member("anna", ["place_orders"], BUDGET)
    ben = company.member("ben", ["place_orders"], BUDGET)
    approver = company.member("approver", ["approve_orders"])
    company.approvers(approver)
    return anna, ben, approver


def stored(orders: Orders, order_id) -> Order:
    return orders.repository.get(order_id)


def versions(orders: Orders, *ids) -> list[int]:
    return [orders.repository.get(i).version for i in ids]


def elsewhere(quantity: int) -> OrderRequest:
    """An order of ``quantity`` A-1 to another delivery address."""
    c = content(OrderLine("A-1", "Schraube", quantity, Decimal("10.00")))
    return OrderRequest.of(replace(c, delivery_address=Address("Lager Nord", "Hafenweg 1", "20457", "Hamburg", "DE")))


def released_messages(orders: Orders, *ids) -> list:
    translate = make_translator(lambda i, v: orders.repository.get(i, version=v))
    return [m.message for i in ids for e in orders.events.get(i) for m in translate(e)
            if isinstance(m.message, wire.OrderReleased)]  # fmt: skip


def test_the_orders_are_approved_together_and_go_to_the_erp_as_one_order_whose_lines_name_them(orders, team):
    anna, ben, approver = team
    first = orders.submit(anna, order(20))
    second = orders.submit(ben, OrderRequest.of(content(
        OrderLine("A-1", "Schraube", 12, Decimal("10.00")), OrderLine("A-100", "Mutter", 3, Decimal("9.90")),
    )))  # fmt: skip
    assert (first.status, second.status) == (OrderStatus.PENDING_APPROVAL, OrderStatus.PENDING_APPROVAL)

    bundle = orders.bundle(approver, [first.id, second.id], "Zusammen bestellen")

    assert bundle.order_ids == (first.id, second.id)
    for placed in (first, second):
        member = stored(orders, placed.id)
        assert (member.status, member.decided_by, member.bundle_id) == (OrderStatus.RELEASED, approver.id, bundle.id)
        assert member.conversation[-1].text == "Zusammen bestellen"
    # the members send nothing to the ERP themselves; the bundle sends one order with every line traced
    assert released_messages(orders, first.id, second.id) == []
    (sent,) = released_messages(orders, bundle.id)
    assert (sent.order_id, sent.bundled_orders, sent.approved_by) == (bundle.id, [first.id, second.id], approver.id)
    traced = [(ln.sku, ln.quantity, ln.origin.order_id, ln.origin.line_no, ln.origin.buyer_id) for ln in sent.lines]
    assert traced == [("A-1", 20, first.id, 1, anna.id), ("A-1", 12, second.id, 1, ben.id),
                      ("A-100", 3, second.id, 2, ben.id)]  # fmt: skip
    assert sent.total.amount == Decimal("349.70") and sent.total_quantity == 35


def test_the_erps_answer_to_the_bundle_is_every_members_answer(orders, team):
    anna, ben, approver = team
    placed = [orders.submit(anna, order(20)), orders.submit(ben, order(30))]
    bundle = orders.bundle(approver, [o.id for o in placed])

    orders.save(*orders.erp_transmitted(bundle.id))
    assert {stored(orders, o.id).status for o in placed} == {OrderStatus.TRANSMITTED}
    orders.save(*orders.erp_confirmed(bundle.id, "SO-900001"))
    assert orders.repository.get(bundle.id).status == "confirmed"
    for o in placed:
        member = stored(orders, o.id)
        assert (member.status, member.erp_order_number) == (OrderStatus.CONFIRMED, "SO-900001")
    assert orders.erp_confirmed(bundle.id, "SO-900001") == []  # a repeated answer changes nothing


def test_the_erps_refusal_of_the_bundle_refuses_every_member(orders, team):
    anna, ben, approver = team
    placed = [orders.submit(anna, order(20)), orders.submit(ben, order(30))]
    bundle = orders.bundle(approver, [o.id for o in placed])
    orders.save(*orders.erp_rejected(bundle.id, "Artikel gesperrt"))
    for o in placed:
        member = stored(orders, o.id)
        assert (member.status, member.erp_rejection_reason) == (OrderStatus.ERP_REJECTED, "Artikel gesperrt")


def test_orders_to_different_delivery_addresses_are_not_bundled_and_nothing_is_stored(orders, team):
    anna, ben, approver = team
    first, second = orders.submit(anna, order(20)), orders.submit(ben, elsewhere(20))
    before = versions(orders, first.id, second.id)
    with pytest.raises(BundleMismatch) as refused:
        orders.bundle(approver, [first.id, second.id])
    assert refused.value.details == [{"order_id": str(second.id), "field": "delivery_address"}]
    assert versions(orders, first.id, second.id) == before
    assert {stored(orders, o).status for o in (first.id, second.id)} == {OrderStatus.PENDING_APPROVAL}


def test_an_approver_cannot_put_their_own_order_in_a_bundle(orders, company, team):
    anna, _, approver = team
    other_approver = company.member("other", ["approve_orders", "place_orders"], BUDGET)
    company.approvers(approver, other_approver)
    own = orders.submit(other_approver, order(20))
    theirs = orders.submit(anna, order(20))
    with pytest.raises(SelfApproval) as refused:
        orders.bundle(other_approver, [theirs.id, own.id])
    assert refused.value.details == [{"order_id": str(own.id)}]  # type: ignore[attr-defined]
    assert stored(orders, theirs.id).status is OrderStatus.PENDING_APPROVAL  # not approved either


def test_a_buyer_cannot_bundle_their_own_orders_through(orders, team):
    anna, _, _ = team
    mine = [orders.submit(anna, order(20)) for _ in range(2)]
    with pytest.raises(NotAllowed):  # self_approval: they are not an approver of their own orders either
        orders.bundle(anna, [o.id for o in mine])
    assert {stored(orders, o.id).status for o in mine} == {OrderStatus.PENDING_APPROVAL}


def test_another_companys_order_is_not_found_and_nothing_is_stored(orders, company, team):
    anna, _, approver = team
    other = Company(orders)
    foreign_buyer = other.member("buyer", ["place_orders"], BUDGET)
    foreign_approver = other.member("approver", ["approve_orders"])
    other.approvers(foreign_approver)
    theirs = orders.submit(foreign_buyer, order(20))
    mine = orders.submit(anna, order(20))
    with pytest.raises(OrderNotFound):
        orders.bundle(approver, [mine.id, theirs.id])
    assert stored(orders, mine.id).status is OrderStatus.PENDING_APPROVAL
    assert stored(orders, theirs.id).status is OrderStatus.PENDING_APPROVAL


def test_bundling_again_approves_nothing_twice(orders, team):
    anna, ben, approver = team
    placed = [orders.submit(anna, order(20)), orders.submit(ben, order(20))]
    orders.bundle(approver, [o.id for o in placed])
    before = versions(orders, *(o.id for o in placed))
    with pytest.raises(WrongState):
        orders.bundle(approver, [o.id for o in placed])  # the shop retries after a timeout
    assert versions(orders, *(o.id for o in placed)) == before


@pytest.mark.parametrize("ids", [[], ["one"], ["same", "same"], ["many"] * 51])
def test_a_bundle_takes_two_to_fifty_different_orders(orders, team, ids):
    _, _, approver = team
    named = {n: uuid4() for n in set(ids)}
    with pytest.raises(InvalidOrder):
        orders.bundle(approver, [named[n] if n != "many" else uuid4() for n in ids])


def test_a_member_that_would_wait_for_credit_refuses_the_bundle_and_both_fit_in_one_credit_change(orders, company,
                                                                                                   team):  # fmt: skip
    anna, ben, approver = team
    f = CreditFigures("EUR", Decimal("450"), Decimal("0"), Decimal("0"), False, T0)
    orders.save(*orders.credit.figures_changed(company.id, f))
    small, big = orders.submit(anna, order(20)), orders.submit(ben, order(30))  # 200 + 300 > 450
    with pytest.raises(BundleRefused) as refused:
        orders.bundle(approver, [small.id, big.id])
    assert refused.value.details == [{"order_id": str(big.id), "reason": "credit_hold"}]
    assert {stored(orders, o.id).status for o in (small, big)} == {OrderStatus.PENDING_APPROVAL}

    f = CreditFigures("EUR", Decimal("600"), Decimal("0"), Decimal("0"), False, T0 + timedelta(minutes=1))
    orders.save(*orders.credit.figures_changed(company.id, f))
    orders.bundle(approver, [small.id, big.id])
    credit = orders.repository.get(CompanyCredit.create_id(company.id))
    assert credit.stand().released_unconfirmed == Decimal("500.00")  # both parts, taken from one copy


def test_two_orders_of_one_buyer_are_granted_on_their_one_period_ledger(orders, company):
    monthly = Budget(max_quantity=8, period=PeriodBudget("month", Decimal("1000.00"), "EUR", 25))
    anna = company.member("anna", ["place_orders"], monthly)
    approver = company.member("approver", ["approve_orders"])
    company.approvers(approver)
    placed = [orders.submit(anna, order(10)) for _ in range(2)]  # over the per-order quantity: both wait
    assert {o.status for o in placed} == {OrderStatus.PENDING_APPROVAL}
    orders.bundle(approver, [o.id for o in placed])
    ledger = orders.repository.get(stored(orders, placed[0].id).ledger_id)
    assert isinstance(ledger, BudgetLedger)
    assert {i: (e.value, e.state) for i, e in ledger.entries.items()} == {
        o.id: (Decimal("100.00"), RESERVED) for o in placed
    }  # both granted, on one copy of the ledger saved once


def test_who_may_see_a_bundle(orders, company, team):
    anna, ben, approver = team
    placed = [orders.submit(anna, order(20)), orders.submit(ben, order(30))]
    bundle = orders.bundle(approver, [o.id for o in placed])
    seen, visible = orders.bundle_of(anna, bundle.id)
    assert (seen.id, [o.id for o in visible]) == (bundle.id, [placed[0].id])  # only her own order
    assert [o.id for o in orders.bundle_of(approver, bundle.id)[1]] == [o.id for o in placed]
    outsider = Company(orders).member("main", ["approve_orders", "view_company_orders"])
    with pytest.raises(OrderNotFound):
        orders.bundle_of(outsider, bundle.id)
    with pytest.raises(OrderNotFound):
        orders.bundle_of(anna, placed[0].id)  # an order is not a bundle
    assert isinstance(orders.repository.get(bundle.id), OrderBundle)


def test_a_price_changed_since_names_the_order_and_its_current_prices_and_nothing_is_stored(orders, company, team):
    anna, ben, approver = team
    first, second = orders.submit(anna, order(20)), orders.submit(ben, order(30))
    company.price("A-1", "11.00")  # the ERP's price changed since the orders were priced
    with pytest.raises(PriceChanged) as refused:
        orders.bundle(approver, [first.id, second.id])
    named, *prices = refused.value.details
    assert named == {"order_id": str(first.id)}
    assert [p["unit_price"]["amount"] for p in prices if "unit_price" in p] == ["11.00"]  # and the new total
    assert {stored(orders, o.id).status for o in (first, second)} == {OrderStatus.PENDING_APPROVAL}


def test_the_explanation_of_a_bundled_order_names_its_bundle(orders, team):
    anna, ben, approver = team
    placed = [orders.submit(anna, order(20)), orders.submit(ben, order(30))]
    bundle = orders.bundle(approver, [o.id for o in placed], "zusammen")
    steps = Explanations(orders).explain(anna, placed[0].id).steps
    (released,) = [s for s in steps if s.event == "Released"]
    assert (released.by, released.detail) == (approver.id, {"bundle_id": bundle.id})
    (approved,) = [s for s in steps if s.event == "Approved"]
    assert (approved.by, approved.comment) == (approver.id, "zusammen")
