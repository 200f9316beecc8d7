"""approval's business metrics on PostgreSQL: orders by status, pending approvals and the oldest one's age
follow the orders' use cases (counted from the read model a refresh at a time)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from uuid import uuid4

import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr

from approval.adapters.outbound.metrics import BusinessMetrics
from approval.adapters.outbound.read_model import OrderSummaries
from approval.application.orders import Orders
from approval.domain.budget import Budget
from approval.domain.model import OrderLine
from approval.domain.pricing import OrderRequest
from approval.settings import ApprovalSettings
from tests.conftest import eventually
from tests.support.approval import Company
from tests.unit.approval.test_order import content

pytestmark = pytest.mark.integration

BUDGET = Budget(max_quantity=10, max_value=Decimal("100.00"), currency="EUR")


def order(quantity: int):
    return OrderRequest.of(content(OrderLine("A-1", "Schraube", quantity, Decimal("10.00"))))


@pytest.fixture
async def world(database) -> AsyncIterator[tuple[Orders, OrderSummaries, BusinessMetrics]]:
    dsn = await database("approval")
    orders = Orders(env=ApprovalSettings(database_url=SecretStr(dsn)).eventsourcing_env())
    summaries = OrderSummaries(dsn)
    await summaries.pool()
    metrics = BusinessMetrics(f"approval-{uuid4().hex[:8]}", summaries.pool, interval_s=0.2, leads=lambda: True)
    yield orders, summaries, metrics
    await metrics.stop()
    await summaries.close()
    orders.close()


def value(metrics: BusinessMetrics, name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"kc_service": metrics.service, **labels})


async def test_the_gauges_count_orders_by_status_and_pending_approvals(world):
    orders, summaries, metrics = world
    company = Company(orders)
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    for _ in range(2):
        orders.submit(buyer, order(2))  # released at once
    held = [orders.submit(buyer, order(20)) for _ in range(3)]  # over budget: pending
    await summaries.apply(orders.notifications(0, 10_000))
    await metrics.refresh()
    assert value(metrics, "kc_approvals_pending") == 3
    assert value(metrics, "kc_orders", status="pending_approval") == 3
    assert value(metrics, "kc_orders", status="released") == 2
    assert value(metrics, "kc_orders", status="rejected") == 0  # every status has a series, zero included
    assert (value(metrics, "kc_approvals_oldest_pending_seconds") or 0) > 0

    orders.approve(company.main, held[0].id)
    orders.reject(company.main, held[1].id, "zu viel")
    await summaries.apply(orders.notifications(0, 10_000))
    await metrics.refresh()
    assert value(metrics, "kc_approvals_pending") == 1
    assert value(metrics, "kc_orders", status="released") == 3
    assert value(metrics, "kc_orders", status="rejected") == 1


async def test_the_background_task_refreshes_until_stopped(world):
    orders, summaries, metrics = world
    company = Company(orders)
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    await metrics.start()
    await eventually(lambda: _async(value(metrics, "kc_approvals_pending") == 0), timeout=10, what="a first refresh")
    pending = orders.submit(buyer, order(20))
    await summaries.apply(orders.notifications(0, 10_000))
    await eventually(
        lambda: _async(value(metrics, "kc_approvals_pending") == 1), timeout=10, what="the pending order counted"
    )
    orders.cancel(buyer, pending.id)
    await summaries.apply(orders.notifications(0, 10_000))
    await eventually(
        lambda: _async(value(metrics, "kc_approvals_oldest_pending_seconds") == 0), timeout=10, what="none pending"
    )


async def _async(result: bool) -> bool:
    return result
