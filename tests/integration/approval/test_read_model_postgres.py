"""approval's order lists on PostgreSQL: the totals kept per company, buyer and status agree with the summaries
through every status change, stay right when a batch is projected again, and are built for summaries projected
before the counts existed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from uuid import uuid4

import asyncpg
import pytest
from pydantic import SecretStr

from approval.adapters.outbound.read_model import OrderSummaries
from approval.application.orders import Orders
from approval.domain.budget import Budget
from approval.domain.model import OrderLine
from approval.domain.pricing import OrderRequest
from approval.settings import ApprovalSettings
from tests.support.approval import Company
from tests.unit.approval.test_order import content

pytestmark = pytest.mark.integration

BUDGET = Budget(max_quantity=10, max_value=Decimal("100.00"), currency="EUR")


def order(quantity: int):
    return OrderRequest.of(content(OrderLine("A-1", "Schraube", quantity, Decimal("10.00"))))


@pytest.fixture
async def dsn(database) -> str:
    return await database("approval")


@pytest.fixture
async def world(dsn: str) -> AsyncIterator[tuple[Orders, OrderSummaries]]:
    orders = Orders(env=ApprovalSettings(database_url=SecretStr(dsn)).eventsourcing_env())
    summaries = OrderSummaries(dsn)
    await summaries.pool()
    yield orders, summaries
    await summaries.close()
    orders.close()


def history(orders: Orders) -> Company:
    """A company whose buyer has orders in several states, each reached through the use cases."""
    company = Company(orders)
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    for _ in range(3):
        orders.submit(buyer, order(2))  # released
    held = [orders.submit(buyer, order(20)) for _ in range(4)]  # pending for the main contact
    orders.approve(company.main, held[0].id)
    orders.reject(company.main, held[1].id, "zu viel")
    orders.reject(company.main, held[2].id, "zu viel")
    orders.resubmit(buyer, held[2].id, "weniger", order(5))  # back to pending, then released
    orders.cancel(buyer, held[3].id)
    return company


async def totals(summaries: OrderSummaries, company: Company, buyer_id=None, status=None) -> tuple[int, int]:
    """(the total of the list, the orders really listed)"""
    rows, total = await summaries.query(company.id, buyer_id=buyer_id, status=status, limit=200)
    return total, len(rows)


async def project(orders: Orders, summaries: OrderSummaries) -> None:
    await summaries.apply(orders.notifications(0, 10_000))


async def test_the_totals_follow_every_status_change(world):
    orders, summaries = world
    company = history(orders)
    await project(orders, summaries)
    for status in (None, "released", "pending_approval", "rejected", "cancelled"):
        total, listed = await totals(summaries, company, status=status)
        assert total == listed, status
    assert (await totals(summaries, company))[0] == 7
    assert (await totals(summaries, company, status="released"))[0] == 5


async def test_projecting_a_batch_again_changes_no_total(world):
    orders, summaries = world
    company = history(orders)
    await project(orders, summaries)
    await project(orders, summaries)
    assert await totals(summaries, company) == (7, 7)
    assert await totals(summaries, company, status="released") == (5, 5)


async def test_summaries_projected_before_the_counts_existed_are_counted_at_start(world, dsn):
    orders, summaries = world
    company = history(orders)
    await project(orders, summaries)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("TRUNCATE approval_order_counts")
    finally:
        await conn.close()
    restarted = OrderSummaries(dsn)
    try:
        await restarted.pool()
        assert await totals(restarted, company) == (7, 7)
        assert await totals(restarted, company, status="cancelled") == (1, 1)
    finally:
        await restarted.close()


async def rows(dsn: str) -> tuple[list[tuple], list[tuple]]:
    conn = await asyncpg.connect(dsn)
    try:
        summaries = await conn.fetch(
            "SELECT order_id, status, total, total_quantity, approvers, round, version, submitted_at, updated_at"
            " FROM approval_order_summaries ORDER BY order_id"
        )
        counts = await conn.fetch("SELECT * FROM approval_order_counts WHERE orders <> 0 ORDER BY 1, 2, 3")
        return [tuple(r) for r in summaries], [tuple(r) for r in counts]
    finally:
        await conn.close()


async def test_batches_of_any_size_and_a_batch_handled_again_leave_the_same_summaries(world, dsn):
    orders, summaries = world
    history(orders)
    everything = orders.notifications(0, 10_000)
    for first in range(0, len(everything)):  # one event at a time: the event-by-event way
        await summaries.apply(everything[first : first + 1])
    one_by_one = await rows(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("TRUNCATE approval_order_summaries, approval_order_counts")
    finally:
        await conn.close()
    await summaries.apply(everything)  # one batch: each order folded into one row change
    assert await rows(dsn) == one_by_one
    for first in range(0, len(everything), 3):  # handled again, cut differently
        await summaries.apply(everything[first : first + 3])
    assert await rows(dsn) == one_by_one


async def test_orders_loaded_in_bulk_are_the_orders_loaded_one_by_one(world) -> None:
    """The consumer's bulk read (one query for a batch's orders) gives each order as its own events replayed."""
    orders, _ = world
    company = Company(orders)
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    ids = [orders.submit(buyer, order(2)).id, orders.submit(buyer, order(20)).id]
    orders.approve(company.main, ids[1])  # an order of several events
    unknown = uuid4()
    loaded = orders.load_many([*ids, ids[0], unknown])
    assert list(loaded) == [*ids, unknown]
    assert loaded[unknown] is None
    for i in ids:
        one = orders.repository.get(i)
        assert vars(loaded[i]) == vars(one)
