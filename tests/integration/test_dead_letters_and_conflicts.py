"""Poison messages, concurrent commands and the single active relay, against real Kafka and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaProducer
from eventsourcing.persistence import IntegrityError

from approval.application.orders import Orders
from contracts import Envelope, Headers
from contracts.topics import APPROVAL_ORDERS
from erp_sync.application.exchanges import Exchanges
from tests.conftest import eventually
from tests.integration.conftest import read_topic
from tests.integration.test_exactly_once import approval_process, erp_sync_process, es_env, start
from tests.support.approval import Company
from tests.support.infra import KAFKA, random_suffix
from tests.support.orders import order_request

pytestmark = pytest.mark.integration


def envelope_headers(event_type: str, notification_id: int) -> list[tuple[str, bytes]]:
    env = Envelope(
        event_id=uuid4(),
        event_type=event_type,
        schema_version=1,
        occurred_at=datetime.now(UTC),
        correlation_id="poison-test",
        causation_id="poison-test",
        producer="approval",
        source_notification_id=notification_id,
    )
    return [(k, v.encode()) for k, v in env.to_headers().items()]


async def test_a_poison_message_ends_in_the_dead_letter_topic_and_the_consumer_goes_on(
    database, topic_prefix, processes
):
    approval_dsn, erp_dsn = await database("approval"), await database("erp-sync")
    await start(erp_sync_process(erp_dsn, topic_prefix, f"it-erp-sync-{random_suffix()}"), processes)
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, enable_idempotence=True)
    await producer.start()
    poison_key = b"poison-" + random_suffix().encode()
    try:
        await producer.send_and_wait(
            topic_prefix + APPROVAL_ORDERS.name,
            b'{"order_id": "not a uuid", "lines": []}',
            key=poison_key,
            headers=envelope_headers("OrderReleased", 1),
        )
    finally:
        await producer.stop()

    await start(approval_process(approval_dsn, topic_prefix), processes)
    orders = Orders(env=es_env(approval_dsn))
    order = orders.submit(Company(orders).buyer(), order_request())
    exchanges = Exchanges(env=es_env(erp_dsn))
    await eventually(
        lambda: asyncio.to_thread(exchanges.find_sales_order, order.id), what="the good order after the poison one"
    )

    dead = await read_topic(topic_prefix + APPROVAL_ORDERS.dlt, key=poison_key)
    assert len(dead) == 1
    headers = {k: v.decode() for k, v in dead[0].headers}
    assert headers[Headers.DLT_REASON] == "invalid_message"
    assert "order_id" in headers[Headers.DLT_ERROR]
    assert headers[Headers.DLT_ORIGINAL_TOPIC] == APPROVAL_ORDERS.name
    assert dead[0].value == b'{"order_id": "not a uuid", "lines": []}'
    orders.close()
    exchanges.close()


async def test_two_concurrent_commands_on_one_order_one_wins_and_the_other_conflicts(database):
    dsn = await database("approval")
    first, second = Orders(env=es_env(dsn)), Orders(env=es_env(dsn))
    company = Company(first)
    buyer = company.buyer()
    order = first.submit(buyer, order_request())

    mine = first.get_order(buyer, order.id)
    theirs = second.get_order(company.main, order.id)
    mine.add_comment(buyer.id, "Bitte bis Freitag", datetime.now(UTC))
    theirs.add_comment(company.main.id, "Menge prüfen", datetime.now(UTC))
    first.save(mine)
    with pytest.raises(IntegrityError):
        second.save(theirs)

    # The loser reloads and retries: no update is lost.
    second.comment(company.main, order.id, "Menge prüfen")
    texts = [c.text for c in first.get_order(buyer, order.id).conversation if c.kind == "comment"]
    assert texts == ["Bitte bis Freitag", "Menge prüfen"]
    first.close()
    second.close()


async def test_only_one_relay_is_active_per_service_and_a_standby_takes_over(database, topic_prefix, processes):
    dsn = await database("approval")
    a = await start(approval_process(dsn, topic_prefix, PROCESS_ROLES='["api","relay"]'), processes)
    b = await start(approval_process(dsn, topic_prefix, PROCESS_ROLES='["api","relay"]'), processes)

    async def one_active() -> bool:
        values = await asyncio.gather(*(asyncio.to_thread(p.metric, "kc_relay_active") for p in (a, b)))
        return sorted(values) == [0.0, 1.0]

    await eventually(one_active, what="exactly one active relay")
    active, standby = (a, b) if a.metric("kc_relay_active") == 1.0 else (b, a)
    active.kill()
    await eventually(
        lambda: asyncio.to_thread(standby.metric, "kc_relay_active"), what="the standby to take over", timeout=30
    )
    orders = Orders(env=es_env(dsn))
    order = orders.submit(Company(orders).buyer(), order_request())
    records = await eventually(
        lambda: read_topic(topic_prefix + APPROVAL_ORDERS.name, key=str(order.id).encode()),
        what="the standby relay to publish",
    )
    assert len(records) == 1
    orders.close()
