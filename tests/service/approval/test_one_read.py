"""A request's use case and its response as one read (``Orders.one_read``): the versions it needs asked for together,
the response's timeline from the events just loaded and saved — and nothing judged on an older state for it."""

from decimal import Decimal

import pytest

from approval.application.orders import CallerInactive, Orders
from approval.domain.budget import Budget
from approval.domain.model import OrderLine, OrderStatus
from approval.domain.pricing import OrderRequest
from tests.support.users import signed_in
from tests.unit.approval.test_order import content

BUDGET = Budget(max_quantity=10, max_value=Decimal("100.00"), currency="EUR")


def order(quantity: int) -> OrderRequest:
    return OrderRequest.of(content(OrderLine("A-1", "Schraube", quantity, Decimal("10.00"))))


class CountingOrders(Orders):
    """Counts the version queries and the order reads that reach the store."""

    def __init__(self) -> None:
        super().__init__(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
        self.version_queries: list[list] = []

    def _query_versions(self, ids):
        self.version_queries.append(list(ids))
        return super()._query_versions(ids)


@pytest.fixture
def orders() -> CountingOrders:
    return CountingOrders()


def test_a_submission_asks_for_the_versions_it_needs_in_one_query(orders, company):
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    approver = company.member("approver", ["approve_orders"])
    company.approvers(approver)
    orders.submit(buyer, order(1))  # the company is known to the process from now on
    orders.version_queries.clear()
    with orders.one_read():
        held = orders.submit(buyer, order(20))
        names = orders.names([held.buyer_id, *held.approvers])
    assert len(orders.version_queries) == 1
    assert {company.id, buyer.id, approver.id} <= set(orders.version_queries[0])
    assert set(names) == {buyer.id, approver.id}


def test_the_timeline_of_a_submission_is_what_was_saved(orders, company):
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    with orders.one_read():
        held = orders.submit(buyer, order(20))
        answered = orders.timeline(held)
    stored = list(orders.events.get(held.id))
    assert [(type(e), e.originator_version) for e in answered] == [(type(e), e.originator_version) for e in stored]


def test_the_timeline_of_a_decision_goes_on_from_the_events_loaded(orders, company):
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    held = orders.submit(buyer, order(20))
    with orders.one_read():
        approved = orders.approve(company.main, held.id, "ok")
        answered = orders.timeline(approved)
    assert approved.status is OrderStatus.RELEASED
    stored = list(orders.events.get(held.id))
    assert [(type(e), e.originator_version) for e in answered] == [(type(e), e.originator_version) for e in stored]


def test_approvers_named_before_the_request_count_though_the_process_knew_others(orders, company):
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    first = company.member("first", ["approve_orders"])
    second = company.member("second", ["approve_orders"])
    company.approvers(first)
    orders.submit(buyer, order(1))  # the process now holds the company with the first approver
    company.approvers(second)
    with orders.one_read():
        held = orders.submit(buyer, order(20))
        names = orders.names(held.approvers)
    assert held.approvers == (second.id,)
    assert set(names) == {second.id}


def test_each_request_starts_a_new_read(orders, company):
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    orders.submit(buyer, order(1))
    with orders.one_read():
        orders.company(company.id)
    orders.save(*orders.approvers_changed(company.id, (), ()))
    orders.version_queries.clear()
    with orders.one_read():
        orders.company(company.id)
    assert orders.version_queries, "the second request asked for the company's version again"


def test_a_known_caller_and_their_submission_cost_one_version_query(orders, company):
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    approver = company.member("approver", ["approve_orders"])
    company.approvers(approver)
    orders.submit(buyer, order(1))
    who = signed_in(buyer.email)
    orders.caller(who)  # the process knows the caller's index and member from now on
    orders.version_queries.clear()
    with orders.one_read():
        orders.prefetch(who, order(20))
        held = orders.submit(orders.caller(who), order(20))
        orders.names([held.buyer_id, *held.approvers])
    assert held.approvers == (approver.id,)
    assert len(orders.version_queries) == 1


def test_a_deactivation_saved_before_the_request_refuses_the_caller_inside_it(orders, company):
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    who = signed_in(buyer.email)
    orders.caller(who)
    orders.save(*orders.member_changed(buyer.id, active=False))
    with orders.one_read(), pytest.raises(CallerInactive):
        orders.prefetch(who, order(1))
        orders.caller(who)
