"""The due projection on PostgreSQL (issue 21): ``erp_sync_due`` follows erp-sync's events through the service's
one log reader — a message sent opens a row due when the policy says, an answer or the give-up deletes it, a batch
projected twice changes nothing — and the retry schedules act on what the table names."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest

from erp_sync.adapters.inbound.retry_schedule import RetrySchedule, delivery_look, verification_look
from erp_sync.adapters.outbound.due import SCHEMA, DueItems, DueProjection
from erp_sync.application.deliveries import Deliveries
from erp_sync.application.exchanges import Exchanges
from erp_sync.application.verifications import Verifications
from erp_sync.domain.model import DeliveryStatus, RetryPolicy, SalesOrderExchange
from kc_runtime.eventstore import WorkerPool
from kc_runtime.follower import LogReader
from tests.conftest import eventually
from tests.integration.test_exactly_once import es_env
from tests.support.followers import running

pytestmark = pytest.mark.integration

T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
DELIVERY = RetryPolicy(initial_s=10, max_s=40, give_up_after_s=100)
VERIFICATION = RetryPolicy(initial_s=5, max_s=60, give_up_after_s=3600)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass
class ErpSync:
    dsn: str
    exchanges: Exchanges
    deliveries: Deliveries
    verifications: Verifications
    due: DueItems
    blocking: WorkerPool
    clock: Clock

    def projection(self) -> DueProjection:
        return DueProjection(
            rows=self.due, service="erp-sync", app=self.exchanges, dsn=self.dsn, blocking=self.blocking,
            idle_interval_s=0.05,
        )  # fmt: skip

    async def order(self, requested_at: datetime = T0) -> SalesOrderExchange:
        exchange = SalesOrderExchange(
            order_id=uuid4(), company_id=uuid4(), request={}, requested_at=requested_at, awaits_answer=True
        )
        await self.blocking.run(self.exchanges.save, exchange)
        return exchange

    async def rows(self) -> dict[UUID, dict[str, Any]]:
        conn = await asyncpg.connect(self.dsn)
        try:
            found = await conn.fetch("SELECT * FROM erp_sync_due")
        finally:
            await conn.close()
        return {r["exchange_id"]: dict(r) for r in found}

    async def row(self, exchange_id: UUID) -> dict[str, Any] | None:
        return (await self.rows()).get(exchange_id)


@pytest.fixture
async def erp_sync(database) -> AsyncIterator[ErpSync]:
    dsn = await database("erp-sync")
    conn = await asyncpg.connect(dsn)
    await conn.execute(SCHEMA)
    await conn.close()
    exchanges = Exchanges(env=es_env(dsn))
    clock = Clock()
    blocking = WorkerPool(4)
    due = DueItems(dsn, deliveries=DELIVERY, verifications=VERIFICATION)
    yield ErpSync(
        dsn, exchanges, Deliveries(exchanges, DELIVERY, clock), Verifications(exchanges, VERIFICATION, clock), due,
        blocking, clock,
    )  # fmt: skip
    await due.close()
    blocking.shutdown()
    exchanges.close()


def delivery_schedule(erp_sync: ErpSync) -> RetrySchedule:
    look = delivery_look(erp_sync.due, erp_sync.deliveries, erp_sync.blocking)
    return RetrySchedule(
        "delivery-retries", look, 0.5, lambda: True, horizon_s=DELIVERY.initial_s, clock=erp_sync.clock
    )


async def test_a_new_projection_fills_from_the_log_with_each_waiting_exchange_due_when_its_policy_says(erp_sync):
    order = await erp_sync.order()  # written before the projection ever ran: it reads the whole log once
    rid = uuid4()
    await erp_sync.blocking.run(erp_sync.exchanges.save, *erp_sync.verifications.request(rid, "10001", "R-1"))
    verification = erp_sync.verifications.find(rid)
    assert verification is not None

    async with running(LogReader([erp_sync.projection()])):
        rows = await eventually(lambda: _having(erp_sync.rows(), 2), what="both exchanges projected")

    assert {xid: (r["kind"], r["due_at"], r["version"]) for xid, r in rows.items()} == {
        order.id: ("sales_order", T0 + timedelta(seconds=10), 1),
        verification.id: ("verification", verification.requested_at + timedelta(seconds=5), 1),
    }


async def test_the_erps_answer_deletes_the_row(erp_sync):
    confirmed, waiting = await erp_sync.order(), await erp_sync.order()
    async with running(LogReader([erp_sync.projection()])):
        await eventually(lambda: _having(erp_sync.rows(), 2), what="both orders projected")
        await erp_sync.blocking.run(
            erp_sync.exchanges.save, *erp_sync.exchanges.confirm_sales_order(confirmed.order_id, "SO-1", T0)
        )
        rows = await eventually(lambda: _having(erp_sync.rows(), 1), what="the confirmed order's row deleted")

    assert list(rows) == [waiting.id]


async def test_a_batch_projected_twice_changes_nothing(erp_sync):
    resent, confirmed = await erp_sync.order(), await erp_sync.order()
    erp_sync.clock.now = T0 + timedelta(seconds=10)
    assert await erp_sync.blocking.run(erp_sync.deliveries.resend_if_due, resent.id)
    await erp_sync.blocking.run(
        erp_sync.exchanges.save, *erp_sync.exchanges.confirm_sales_order(confirmed.order_id, "SO-1", T0)
    )
    batch = await erp_sync.blocking.run(erp_sync.exchanges.notifications, 0, 100)
    assert len(batch) == 4

    await erp_sync.due.apply(batch)
    once = await erp_sync.rows()
    await erp_sync.due.apply(batch)
    await erp_sync.due.apply(batch[:1])  # the request again, after its re-send: older than the row

    assert await erp_sync.rows() == once
    assert {xid: (r["due_at"], r["version"]) for xid, r in once.items()} == {
        resent.id: (T0 + timedelta(seconds=10 + 20), 2)
    }


async def test_the_schedule_resends_what_the_table_names_and_the_row_follows_the_resend(erp_sync):
    named, not_named = await erp_sync.order(), await erp_sync.order()
    schedule = delivery_schedule(erp_sync)
    async with running(LogReader([erp_sync.projection()])):
        await eventually(lambda: _having(erp_sync.rows(), 2), what="both orders projected")
        conn = await asyncpg.connect(erp_sync.dsn)
        await conn.execute("DELETE FROM erp_sync_due WHERE exchange_id = $1", not_named.id)  # due, but not named
        await conn.close()

        erp_sync.clock.now = T0 + timedelta(seconds=9)
        assert await schedule.tick() == 0  # nothing due yet
        assert schedule.pause_s() == 1.0  # until the earliest row is due

        erp_sync.clock.now = T0 + timedelta(seconds=10)
        assert await schedule.tick() == 1

        moved = await eventually(lambda: _row_at_version(erp_sync.row(named.id), 2), what="the re-send projected")
        assert moved["due_at"] == T0 + timedelta(seconds=30)
        assert await schedule.tick() == 0  # not due again before then
        assert schedule.pause_s() == DELIVERY.initial_s  # nothing written later can fall due sooner than 10 s
        assert schedule.looks == 3

    assert (await erp_sync.blocking.run(erp_sync.exchanges.find, named.id)).attempts == 2
    assert (await erp_sync.blocking.run(erp_sync.exchanges.find, not_named.id)).attempts == 1


async def test_an_order_unanswered_past_the_window_is_given_up_and_its_row_deleted(erp_sync):
    order = await erp_sync.order()
    schedule = delivery_schedule(erp_sync)
    async with running(LogReader([erp_sync.projection()])):
        await eventually(lambda: erp_sync.row(order.id), what="the order projected")
        erp_sync.clock.now = T0 + timedelta(hours=1)
        assert await schedule.tick() == 1
        await eventually(lambda: _none(erp_sync.row(order.id)), what="the given-up order's row deleted")

    assert (await erp_sync.blocking.run(erp_sync.exchanges.sales_order, order.order_id)).status is DeliveryStatus.FAILED


async def test_a_verification_unanswered_past_the_window_is_abandoned_by_its_schedule(erp_sync):
    rid = uuid4()
    await erp_sync.blocking.run(erp_sync.exchanges.save, *erp_sync.verifications.request(rid, "10001", "R-1"))
    order = await erp_sync.order()  # due too, but not the verification schedule's
    look = verification_look(erp_sync.due, erp_sync.verifications, erp_sync.blocking)
    schedule = RetrySchedule("verification-retries", look, 0.5, lambda: True, horizon_s=5.0, clock=erp_sync.clock)
    async with running(LogReader([erp_sync.projection()])):
        await eventually(lambda: _having(erp_sync.rows(), 2), what="both exchanges projected")
        erp_sync.clock.now = T0 + timedelta(hours=2)
        assert await schedule.tick() == 1
        rows = await eventually(lambda: _having(erp_sync.rows(), 1), what="the abandoned verification's row deleted")

    assert list(rows) == [order.id]
    verification = await erp_sync.blocking.run(erp_sync.verifications.verification, rid)
    assert verification.status is DeliveryStatus.FAILED  # abandoned, in the verifications' words


async def _having(rows: Any, n: int) -> dict[UUID, dict[str, Any]]:
    found = await rows
    return found if len(found) == n else {}


async def _row_at_version(row: Any, version: int) -> dict[str, Any] | None:
    found = await row
    return found if found is not None and found["version"] == version else None


async def _none(row: Any) -> bool:
    return await row is None
