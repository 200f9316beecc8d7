"""erp-sync's operator runs on an in-memory store: a retry of dead letters handles each record once (sending an
undelivered ERP message again, applying a given-up message again), and a replay republishes what the relay did."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from uuid import uuid4

import pytest
from prometheus_client import REGISTRY

from contracts import Envelope, Headers
from contracts.erp import v1 as erp
from contracts.topics import (
    APPROVAL_ORDERS,
    ERP_INBOUND_SALES_ORDER_CONFIRMATIONS,
    ERP_OUTBOUND_CONTACTS,
    ERP_OUTBOUND_SALES_ORDERS,
    ERP_SYNC_SALES_ORDERS,
    REGISTRATION_REGISTRATIONS,
    USERS_USERS,
)
from erp_sync.adapters.outbound import operations as operations_module
from erp_sync.adapters.outbound.metrics import PendingGauge
from erp_sync.adapters.outbound.operations import Operations
from erp_sync.adapters.outbound.translator import translate
from erp_sync.application.operations import OperatorRuns
from erp_sync.domain.model import DeliveryStatus
from erp_sync.settings import ErpSyncSettings
from kc_runtime.dead_letters import DeadLetter
from kc_runtime.eventstore import WorkerPool
from kc_runtime.relay import OutboxRelay
from tests.service.erp_sync.test_erp_exchange import ErpSync, registration, released, user_created

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Broker:
    def __init__(self) -> None:
        self.published: list[tuple[str, bytes, bytes, dict[str, str]]] = []

    async def publish(self, body, topic, key=None, headers=None, no_confirm=False):
        self.published.append((topic, key, body, headers))


@pytest.fixture
def world(monkeypatch):
    sync = ErpSync()
    broker = Broker()
    settings = ErpSyncSettings(database_url="memory://", consumer_group="erp-sync")
    blocking = WorkerPool(2)
    relay = OutboxRelay(
        service="erp-sync", app=sync.exchanges, broker=broker, translate=translate, dsn="memory://", blocking=blocking
    )  # type: ignore[arg-type]
    runtime = SimpleNamespace(settings=settings, app=sync.exchanges, blocking=blocking, broker=broker, relay=relay)
    ops = Operations(
        runtime,  # type: ignore[arg-type]
        exchanges=sync.exchanges,
        runs=OperatorRuns(sync.exchanges),
        deliveries=sync.deliveries,
        specs=list(sync.inbox.specs.values()),
    )
    letters: list[DeadLetter] = []

    async def read(bootstrap, topics, prefix="", timeout_s=20.0):
        return [d for d in letters if d.topic in topics]

    monkeypatch.setattr(operations_module, "read_dead_letters", read)
    return SimpleNamespace(sync=sync, ops=ops, broker=broker, letters=letters)


def letter(topic, message, offset: int, *, group: str = "erp-sync", body: bytes | None = None, key: str = "k"):
    envelope = Envelope(
        event_id=uuid4(), event_type=message.event_type, schema_version=1, occurred_at=T0, correlation_id="c",
        causation_id="c", producer="erp", source_notification_id=7,
    )  # fmt: skip
    headers = {
        **envelope.to_headers(),
        Headers.DLT_REASON: "handler_failed",
        Headers.DLT_ERROR: "boom",
        Headers.DLT_ORIGINAL_TOPIC: topic.name,
        Headers.DLT_ORIGINAL_PARTITION: "2",
        Headers.DLT_ORIGINAL_OFFSET: "40",
        Headers.DLT_CONSUMER_GROUP: group,
    }
    value = body if body is not None else message.model_dump_json().encode()
    return DeadLetter(topic.dlt, 0, offset, key.encode(), value, headers, 0)


async def test_a_message_erp_sync_gave_up_on_is_applied_again_once(world):
    order = released(uuid4(), uuid4())
    await world.sync.deliver(APPROVAL_ORDERS, str(order.order_id), order, producer="approval")
    confirmed = erp.SalesOrderConfirmed(
        idempotency_key=f"sales-order/{order.order_id}", order_id=order.order_id, erp_order_number="SO-9",
        confirmed_at=T0,
    )  # fmt: skip
    world.letters.append(letter(ERP_INBOUND_SALES_ORDER_CONFIRMATIONS, confirmed, 0))

    result = await world.ops.retry_dead_letters({})
    assert result["reapplied"] == 1 and result["stopped"] == []
    exchange = world.sync.exchanges.sales_order(order.order_id)
    assert (exchange.status, exchange.erp_order_number) == (DeliveryStatus.ACKNOWLEDGED, "SO-9")
    again = await world.ops.retry_dead_letters({})
    assert (again["reapplied"], again["done_before"]) == (0, 1)


async def test_dead_letters_of_other_groups_and_hopeless_ones_are_passed_over(world):
    order = released(uuid4(), uuid4())
    world.letters.append(letter(APPROVAL_ORDERS, order, 0, group="notifications"))
    bad = erp.SalesOrderConfirmed(idempotency_key="x", order_id=uuid4(), erp_order_number="SO", confirmed_at=T0)
    world.letters.append(letter(ERP_INBOUND_SALES_ORDER_CONFIRMATIONS, bad, 0, body=b'{"order_id": "no"}'))
    result = await world.ops.retry_dead_letters({})
    assert (result["not_ours"], result["discarded_invalid"]) == (1, 1)
    assert world.sync.exchanges.find_sales_order(order.order_id) is None


async def test_a_failed_delivery_is_sent_again_through_its_exchange(world):
    company = uuid4()
    order = released(company, uuid4())
    await world.sync.deliver(APPROVAL_ORDERS, str(order.order_id), order, producer="approval")
    exchange = world.sync.exchanges.sales_order(order.order_id)
    world.sync.clock.now = exchange.requested_at
    while exchange.status is not DeliveryStatus.FAILED:
        world.sync.clock.now += timedelta(minutes=1)
        world.sync.tick()
        exchange = world.sync.exchanges.sales_order(order.order_id)
    # The operations follower reads the exchange's Failed event from the log, as it does in the service.
    (failed,) = [
        entry
        for entry in world.sync.exchanges.notifications(0, 10_000)
        if entry[1].originator_id == exchange.id and type(entry[1]).__name__ == "Failed"
    ]
    await world.ops.process([failed])
    topic, key, body, headers = world.broker.published[-1]
    assert (topic, key) == (ERP_OUTBOUND_SALES_ORDERS.dlt, str(order.order_id).encode())
    assert headers[Headers.DLT_REASON] == "unanswered"
    world.letters.append(DeadLetter(ERP_OUTBOUND_SALES_ORDERS.dlt, 0, 0, key, body, headers, 0))

    result = await world.ops.retry_dead_letters({"topics": [ERP_OUTBOUND_SALES_ORDERS.dlt]})
    assert result["resent"] == 1
    exchange = world.sync.exchanges.sales_order(order.order_id)
    assert exchange.status is DeliveryStatus.REQUESTED
    resent = world.sync.sent(ERP_OUTBOUND_SALES_ORDERS)[-1]
    assert resent.idempotency_key == f"sales-order/{order.order_id}" and resent.attempt == exchange.attempts
    assert (await world.ops.retry_dead_letters({}))["done_before"] == 1


async def test_a_replay_republishes_the_erp_facing_messages_since_an_instant_as_the_relay_did(world):
    company = uuid4()
    await world.sync.deliver(REGISTRATION_REGISTRATIONS, "10001", registration(company))
    await world.sync.deliver(USERS_USERS, str(company), user_created(company))
    order = released(company, uuid4())
    await world.sync.deliver(APPROVAL_ORDERS, str(order.order_id), order, producer="approval")
    other = released(uuid4(), uuid4())
    await world.sync.deliver(APPROVAL_ORDERS, str(other.order_id), other, producer="approval")

    everything = await world.ops.replay({"since": (datetime.now(UTC) - timedelta(minutes=5)).isoformat()})
    assert everything["published"] == 4  # activation, contact, two orders (no answers, no transmissions)
    assert ERP_SYNC_SALES_ORDERS.name not in {t for t, *_ in world.broker.published}
    world.broker.published.clear()
    one = await world.ops.replay({"since": T0.isoformat(), "company_id": str(company)})
    assert one["by_topic"][ERP_OUTBOUND_SALES_ORDERS.name] == 1 and one["by_topic"][ERP_OUTBOUND_CONTACTS.name] == 1
    bodies = [json.loads(b) for t, _, b, _ in world.broker.published if t == ERP_OUTBOUND_SALES_ORDERS.name]
    assert [b["idempotency_key"] for b in bodies] == [f"sales-order/{order.order_id}"]
    later = await world.ops.replay({"since": (datetime.now(UTC) + timedelta(minutes=1)).isoformat()})
    assert later["published"] == 0


def failures(kind: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "kc_erp_sync_failures_total", {"kc_service": "erp-sync", "kind": kind, "outcome": outcome}
    )
    return value or 0.0


async def test_retries_and_dead_letters_of_erp_messages_are_counted_for_prometheus(world):
    before = {o: failures("sales_order", o) for o in ("retried", "dead_lettered", "operator_resent")}
    order = released(uuid4(), uuid4())
    await world.sync.deliver(APPROVAL_ORDERS, str(order.order_id), order, producer="approval")
    exchange = world.sync.exchanges.sales_order(order.order_id)
    world.sync.clock.now = exchange.requested_at
    while exchange.status is not DeliveryStatus.FAILED:
        world.sync.clock.now += timedelta(minutes=1)
        world.sync.tick()
        exchange = world.sync.exchanges.sales_order(order.order_id)

    await world.ops.process(world.sync.exchanges.notifications(0, 10_000))
    assert failures("sales_order", "retried") - before["retried"] == exchange.attempts - 1
    assert failures("sales_order", "dead_lettered") - before["dead_lettered"] == 1
    assert failures("sales_order", "operator_resent") == before["operator_resent"]


async def test_the_pending_gauge_shows_what_the_erp_has_not_answered():
    counts = {"sales_order": 3}

    async def pending() -> dict[str, int]:
        return dict(counts)

    gauge = PendingGauge("erp-sync", pending, interval_s=1, leads=lambda: True)
    await gauge.tick()
    labels = {"kc_service": "erp-sync"}
    assert REGISTRY.get_sample_value("kc_erp_sync_pending", {**labels, "kind": "sales_order"}) == 3
    assert REGISTRY.get_sample_value("kc_erp_sync_pending", {**labels, "kind": "contact"}) == 0
    counts["sales_order"] = 1
    await gauge.tick()
    assert REGISTRY.get_sample_value("kc_erp_sync_pending", {**labels, "kind": "sales_order"}) == 1


async def test_a_replay_republishes_only_the_messages_stored_since_the_instant(world):
    early = [released(uuid4(), uuid4()) for _ in range(3)]
    for o in early:
        await world.sync.deliver(APPROVAL_ORDERS, str(o.order_id), o, producer="approval")
    since = datetime.now(UTC)
    late = [released(uuid4(), uuid4()) for _ in range(2)]
    for o in late:
        await world.sync.deliver(APPROVAL_ORDERS, str(o.order_id), o, producer="approval")

    result = await world.ops.replay({"since": since.isoformat()})
    assert result["published"] == 2
    bodies = [json.loads(b) for t, _, b, _ in world.broker.published if t == ERP_OUTBOUND_SALES_ORDERS.name]
    assert [b["order_id"] for b in bodies] == [str(o.order_id) for o in late]
