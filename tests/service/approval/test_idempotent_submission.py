"""A buyer's Idempotency-Key makes a submission once: the same key again returns that order (as it is now), also
when both arrive together; another buyer's same key is another order; the key with other lines is refused."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from approval.application.orders import Orders
from approval.domain.budget import Budget
from approval.domain.model import IdempotencyKeyReused, Order, OrderLine, OrderStatus
from approval.domain.pricing import OrderRequest
from tests.support.approval import Company
from tests.unit.approval.test_order import content

BUDGET = Budget(max_quantity=10, max_value=Decimal("1000.00"), currency="EUR")


def order(quantity: int):
    return OrderRequest.of(content(OrderLine("A-1", "Schraube", quantity, Decimal("10.00"))))


def stored_orders(orders: Orders) -> list:
    return [
        n for n in orders.recorder.select_notifications(start=1, limit=10_000) if n.topic.endswith("Order.Submitted")
    ]


def test_the_same_key_again_returns_the_order_made_the_first_time(orders):
    company = Company(orders)
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    first = orders.submit(buyer, order(2), idempotency_key="shop-order-4711")
    again = orders.submit(buyer, order(2), idempotency_key="shop-order-4711")
    assert again.id == first.id
    assert again.status == OrderStatus.RELEASED
    assert len(stored_orders(orders)) == 1


def test_the_key_returns_the_order_as_it_is_now(orders):
    company = Company(orders)
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    held = orders.submit(buyer, order(20), idempotency_key="k-held-0001")
    assert held.status == OrderStatus.PENDING_APPROVAL
    orders.approve(company.main, held.id)
    assert orders.submit(buyer, order(20), idempotency_key="k-held-0001").status == OrderStatus.RELEASED
    assert len(stored_orders(orders)) == 1


def test_without_a_key_or_with_new_keys_every_submission_is_an_order(orders):
    company = Company(orders)
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    ids = {orders.submit(buyer, order(2)).id for _ in range(2)}
    ids |= {orders.submit(buyer, order(2), idempotency_key=f"key-{n:04}").id for n in range(2)}
    assert len(ids) == 4


def test_another_buyers_same_key_is_another_order(orders):
    company = Company(orders)
    anna = company.member("anna", ["place_orders"], BUDGET)
    ben = company.member("ben", ["place_orders"], BUDGET)
    assert (
        orders.submit(anna, order(2), idempotency_key="k-0000001").id
        != orders.submit(ben, order(2), idempotency_key="k-0000001").id
    )


def test_the_key_with_other_lines_is_refused_and_changes_nothing(orders):
    company = Company(orders)
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    orders.submit(buyer, order(2), idempotency_key="k-0000002")
    with pytest.raises(IdempotencyKeyReused):
        orders.submit(buyer, order(3), idempotency_key="k-0000002")
    assert len(stored_orders(orders)) == 1


def test_the_same_key_sent_at_the_same_time_makes_one_order(orders):
    company = Company(orders)
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(lambda _: orders.submit(buyer, order(2), idempotency_key="k-race-001"), range(8)))
    assert len({o.id for o in made}) == 1
    assert len(stored_orders(orders)) == 1
    assert isinstance(orders.repository.get(made[0].id), Order)
