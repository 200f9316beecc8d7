"""approval on PostgreSQL (ADR 0032): a growing aggregate keeps one snapshot — each new one (every SNAPSHOT_EVERY
events) replaces the older ones, which nothing reads — and a process that never read it starts from that one and
arrives at what the events say."""

from __future__ import annotations

from decimal import Decimal

import asyncpg
import pytest
from eventsourcing.application import project_aggregate
from pydantic import SecretStr

from approval.application.orders import Orders
from approval.domain.budget import Budget, PeriodBudget
from approval.domain.growing import SNAPSHOT_EVERY
from approval.settings import ApprovalSettings
from tests.service.approval.test_orders_application import order
from tests.support.approval import Company

pytestmark = pytest.mark.integration

MONTHLY = Budget(period=PeriodBudget("month", Decimal("1000000.00"), "EUR"))


async def test_a_busy_ledger_keeps_only_its_latest_snapshot(database):
    dsn = await database("approval")
    env = ApprovalSettings(database_url=SecretStr(dsn)).eventsourcing_env()
    orders = Orders(env=env)
    try:
        company = Company(orders)
        buyer = company.member("buyer", ["place_orders"], MONTHLY)
        for _ in range(2 * SNAPSHOT_EVERY + 10):
            orders.submit(buyer, order(1))  # one ledger event each: it passes two multiples of SNAPSHOT_EVERY
        ledger_id = orders.repository.get(orders.submit(buyer, order(1)).id).ledger_id
    finally:
        orders.close()

    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT originator_version FROM orders_snapshots WHERE originator_id = $1", ledger_id
        )
    finally:
        await conn.close()
    assert [r["originator_version"] for r in rows] == [2 * SNAPSHOT_EVERY]

    fresh = Orders(env=env)  # another replica, or this one restarted: nothing cached
    try:
        replayed = project_aggregate(None, fresh.events.get(ledger_id))
        assert fresh._find_growing(ledger_id).entries == replayed.entries
        assert replayed.version == 1 + 2 * SNAPSHOT_EVERY + 11  # opened, then one reservation per order
    finally:
        fresh.close()
