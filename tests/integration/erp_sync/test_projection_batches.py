"""erp-sync's projections write a batch in a few statements (issue 15), not one per event: on PostgreSQL, the rows
a batch leaves are the rows its events leave projected one at a time — whatever the batch boundaries, and when a
batch is projected again after a crash that had projected part of it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from erp_sync.adapters.outbound.read_model import SCHEMA as EXCHANGES_SCHEMA
from erp_sync.adapters.outbound.read_model import ExchangeStates
from kc_runtime.follower import Batch, ProjectionRows
from tests.integration.erp_sync.test_due import T0, ErpSync, erp_sync  # noqa: F401 — the fixture

pytestmark = pytest.mark.integration

TABLES = {"erp_sync_due": "exchange_id", "erp_sync_exchanges": "exchange_id"}


async def history(erp_sync: ErpSync) -> tuple[Batch, dict[str, UUID]]:  # noqa: F811
    """Sales orders with every kind of later event, several of one exchange close together in the log."""
    named = {name: (await erp_sync.order()).order_id for name in ("confirmed", "resent", "rejected", "open", "failed")}
    ids = {name: erp_sync.exchanges.sales_order(order_id).id for name, order_id in named.items()}
    erp_sync.clock.now = T0 + timedelta(seconds=10)
    for name in ("confirmed", "resent", "failed"):
        assert await erp_sync.blocking.run(erp_sync.deliveries.resend_if_due, ids[name])
    erp_sync.clock.now = T0 + timedelta(seconds=30)
    assert await erp_sync.blocking.run(erp_sync.deliveries.resend_if_due, ids["confirmed"])
    save = erp_sync.exchanges.save
    await erp_sync.blocking.run(save, *erp_sync.exchanges.confirm_sales_order(named["confirmed"], "SO-1", T0))
    await erp_sync.blocking.run(
        save, *erp_sync.exchanges.reject_sales_order(named["rejected"], "gesperrt", "blocked", T0)
    )
    erp_sync.clock.now = T0 + timedelta(hours=1)
    assert await erp_sync.blocking.run(erp_sync.deliveries.resend_if_due, ids["failed"])  # given up
    batch = await erp_sync.blocking.run(erp_sync.exchanges.notifications, 0, 100)
    return batch, ids


async def rows(dsn: str) -> dict[str, dict[UUID, dict[str, Any]]]:
    conn = await asyncpg.connect(dsn)
    try:
        return {
            table: {r[key]: dict(r) for r in await conn.fetch(f"SELECT * FROM {table}")}
            for table, key in TABLES.items()
        }
    finally:
        await conn.close()


async def empty(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("TRUNCATE " + ", ".join(TABLES))
    finally:
        await conn.close()


async def project(projections: list[ProjectionRows], batch: Batch) -> None:
    for projection in projections:
        await projection.apply(batch)


async def test_a_batch_leaves_the_rows_its_events_leave_one_by_one(erp_sync):  # noqa: F811
    conn = await asyncpg.connect(erp_sync.dsn)
    await conn.execute(EXCHANGES_SCHEMA)
    await conn.close()
    states = ExchangeStates(erp_sync.dsn, relay_name="erp-sync:relay")
    projections: list[ProjectionRows] = [erp_sync.due, states]
    try:
        batch, ids = await history(erp_sync)
        assert len(batch) == 12

        for event in batch:
            await project(projections, [event])
        one_by_one = await rows(erp_sync.dsn)

        await empty(erp_sync.dsn)
        await project(projections, batch)
        assert await rows(erp_sync.dsn) == one_by_one

        for size in (2, 3, 5):
            await empty(erp_sync.dsn)
            for start in range(0, len(batch), size):
                await project(projections, batch[start : start + size])
            assert await rows(erp_sync.dsn) == one_by_one, f"in batches of {size}"

        for done in (4, 9):  # a crash after part of the log: the whole batch again
            await empty(erp_sync.dsn)
            await project(projections, batch[:done])
            await project(projections, batch)
            assert await rows(erp_sync.dsn) == one_by_one, f"again after {done} events"
    finally:
        await states.close()

    exchanges, due = one_by_one["erp_sync_exchanges"], one_by_one["erp_sync_due"]
    assert {name: (exchanges[x]["status"], exchanges[x]["outcome"], exchanges[x]["attempts"])
            for name, x in ids.items()} == {
        "confirmed": ("acknowledged", "confirmed", 3),
        "resent": ("requested", None, 2),
        "rejected": ("acknowledged", "rejected", 1),
        "open": ("requested", None, 1),
        "failed": ("failed", None, 2),
    }  # fmt: skip
    assert exchanges[ids["confirmed"]]["erp_reference"] == "SO-1"
    assert exchanges[ids["rejected"]]["detail"] == "gesperrt"
    assert {x: (r["due_at"], r["version"]) for x, r in due.items()} == {
        ids["resent"]: (T0 + timedelta(seconds=10 + 20), 2),
        ids["open"]: (T0 + timedelta(seconds=10), 1),
    }
