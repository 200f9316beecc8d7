"""The ERP simulator records what one fetch brings in one transaction and acknowledges it once; a copy of a sales
order in the same fetch is still counted as exactly one discarded duplicate. Needs the PostgreSQL of the local
stack (a database of its own, dropped afterwards); no Kafka."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from aiokafka.structs import ConsumerRecord

from contracts.topics import ERP_OUTBOUND_SALES_ORDERS
from standins.erp_simulator import db
from standins.erp_simulator.consumer import ErpConsumer
from standins.erp_simulator.settings import ErpSimulatorSettings
from tests.standins.test_erp_simulator import _envelope, _sales_order
from tests.support.infra import PG_ADMIN_DSN, dsn_for, random_suffix
from tests.support.messages import consumer_record


@dataclass
class FakeFetch:
    raw_message: tuple
    acked: int = 0

    async def ack(self) -> None:
        self.acked += 1


def record(message: Any, offset: int) -> ConsumerRecord:
    return consumer_record(
        message, topic=ERP_OUTBOUND_SALES_ORDERS.name, key=str(message.order_id), offset=offset,
        headers=_envelope().to_headers(),
    )  # fmt: skip


@pytest.fixture
async def consumer() -> AsyncIterator[ErpConsumer]:
    name = f"test_erp_{random_suffix()}"
    try:
        admin = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL at {PG_ADMIN_DSN} unreachable ({exc!r}): run `make up` or `make test`")
    await admin.execute(f'CREATE DATABASE "{name}"')
    pool = await db.connect(dsn_for(name))
    try:
        await db.create_schema(pool)
        from kc_runtime.kafka import create_broker

        c = ErpConsumer(create_broker(ErpSimulatorSettings()), group_id="erp-simulator")
        c.pool = pool
        yield c
    finally:
        await pool.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_a_fetch_is_recorded_at_once_and_a_copy_in_it_counts_as_one_duplicate(consumer: ErpConsumer) -> None:
    a, b = _sales_order(), _sales_order()
    fetch = FakeFetch((record(a, 0), record(b, 1), record(a, 2)))
    await consumer.handle(fetch)  # type: ignore[arg-type]
    assert fetch.acked == 1
    assert consumer.pool is not None
    orders = {o["idempotency_key"]: o for o in await db.sales_orders(consumer.pool)}
    assert set(orders) == {a.idempotency_key, b.idempotency_key}
    assert orders[a.idempotency_key]["duplicates_discarded"] == 1
    assert orders[b.idempotency_key]["duplicates_discarded"] == 0
    outcomes = [r["outcome"] for r in reversed(await db.received(consumer.pool, None))]
    assert outcomes == ["created", "created", "duplicate"]
    assert (await db.stats(consumer.pool))["sent"] == 3  # every copy is answered


async def test_a_fetch_delivered_again_changes_nothing(consumer: ErpConsumer) -> None:
    a = _sales_order()
    records = (record(a, 0), record(_sales_order(), 1))
    await consumer.handle(FakeFetch(records))  # type: ignore[arg-type]
    again = FakeFetch(records)
    await consumer.handle(again)  # type: ignore[arg-type]
    assert again.acked == 1
    assert consumer.pool is not None
    stats = await db.stats(consumer.pool)
    assert (stats["received"], stats["sales_orders"], stats["duplicates_discarded"]) == (2, 2, 0)


async def test_a_message_that_cannot_be_recorded_does_not_hold_up_the_others(consumer: ErpConsumer) -> None:
    a, b = _sales_order(), _sales_order()
    broken = record(b, 1)
    consumer.retry_initial_s = 0.001

    original = consumer._apply

    async def failing(conn: Any, row: dict[str, Any], order: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
        if row["offset"] == 1 and row["outcome"] != "failed":
            raise ValueError("cannot store this")
        return await original(conn, row, order)

    consumer._apply = failing  # type: ignore[method-assign]
    fetch = FakeFetch((record(a, 0), broken, record(_sales_order(), 2)))
    await consumer.handle(fetch)  # type: ignore[arg-type]
    assert fetch.acked == 1
    assert consumer.pool is not None
    outcomes = [r["outcome"] for r in reversed(await db.received(consumer.pool, None))]
    assert outcomes == ["created", "failed", "created"]
    assert a.order_id in {o["order_id"] for o in await db.sales_orders(consumer.pool)}
