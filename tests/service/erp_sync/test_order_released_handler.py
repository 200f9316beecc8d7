"""erp-sync's consumer with faststream's in-memory broker and eventsourcing's in-memory store."""

from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

import anyio.to_thread
import pytest
from faststream.kafka import KafkaMessage, TestKafkaBroker

from contracts import Envelope, Money
from contracts.approval.v1 import OrderReleased
from contracts.common import Address, OrderLine
from contracts.topics import APPROVAL_ORDERS
from erp_sync.adapters.inbound.kafka import consumer_specs
from erp_sync.application.exchanges import Exchanges
from kc_runtime.consumer import IdempotentConsumer
from kc_runtime.eventstore import WorkerPool
from kc_runtime.kafka import create_broker, the_message
from kc_runtime.settings import ServiceSettings

ADDRESS = Address(name="Muster GmbH", street="Hauptstr. 1", postal_code="10115", city="Berlin", country="DE")


def released(order_id=None) -> OrderReleased:
    return OrderReleased(
        order_id=order_id or uuid4(),
        company_id=uuid4(),
        buyer_id=uuid4(),
        lines=[
            OrderLine(
                sku="A-1",
                description="Bolt",
                quantity=2,
                unit_price=Money(amount=Decimal("1.50"), currency="EUR"),
                line_total=Money(amount=Decimal("3.00"), currency="EUR"),
            )
        ],
        total=Money(amount=Decimal("3.00"), currency="EUR"),
        total_quantity=2,
        delivery_address=ADDRESS,
        billing_address=ADDRESS,
        payment_method="invoice",
        shipping_method="standard",
        released_at=datetime.now(UTC),
    )


def headers(message, notification_id: int) -> dict[str, str]:
    return Envelope(
        event_id=uuid4(),
        event_type=message.event_type,
        schema_version=1,
        occurred_at=datetime.now(UTC),
        correlation_id="c-1",
        causation_id="c-1",
        producer="approval",
        source_notification_id=notification_id,
    ).to_headers()


@pytest.fixture
async def system():
    exchanges = Exchanges(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    broker = create_broker(ServiceSettings(service_name="erp-sync"))
    specs = consumer_specs(exchanges)
    consumer = IdempotentConsumer(
        service="erp-sync",
        group_id="erp-sync",
        app=exchanges,
        broker=broker,
        blocking=WorkerPool(2),
        specs=specs,
        max_attempts=2,
        backoff_initial_s=0.01,
    )
    consumer.register()
    dead = []

    @broker.subscriber(APPROVAL_ORDERS.dlt, decoder=the_message)  # the runtime's brokers inject nothing
    async def dlt(msg: KafkaMessage) -> None:
        dead.append(msg.body)

    async with TestKafkaBroker(broker) as br:
        yield exchanges, br, dead


async def test_a_released_order_becomes_one_sales_order_request(system):
    exchanges, broker, _ = system
    msg = released()
    await broker.publish(msg.model_dump_json().encode(), APPROVAL_ORDERS.name, headers=headers(msg, 7), key=b"k")
    record = exchanges.sales_order(msg.order_id)
    assert record.request["idempotency_key"] == f"sales-order/{msg.order_id}"
    assert record.request["total"] == {"amount": "3.00", "currency": "EUR"}


async def test_a_redelivered_message_is_applied_once(system):
    exchanges, broker, _ = system
    msg = released()
    for _ in range(3):
        await broker.publish(msg.model_dump_json().encode(), APPROVAL_ORDERS.name, headers=headers(msg, 8), key=b"k")
    assert exchanges.sales_order(msg.order_id).version == 1
    assert exchanges.max_notification_id() == 1


async def test_an_invalid_payload_goes_to_the_dead_letter_topic(system):
    exchanges, broker, dead = system
    msg = released()
    await broker.publish(b'{"order_id": "not-a-uuid"}', APPROVAL_ORDERS.name, headers=headers(msg, 9), key=b"k")
    assert dead == [b'{"order_id": "not-a-uuid"}']
    assert exchanges.max_notification_id() == 0


async def test_a_message_without_envelope_goes_to_the_dead_letter_topic(system):
    _, broker, dead = system
    await broker.publish(released().model_dump_json().encode(), APPROVAL_ORDERS.name, headers={}, key=b"k")
    assert len(dead) == 1


async def test_a_fetched_batch_reaches_the_consumer_without_a_worker_thread_of_faststream(system, monkeypatch):
    """The runtime's brokers inject nothing: faststream's dependency injection ran ``Context.use`` in a worker
    thread for every fetched batch (and parsed every body as JSON) before the consumer saw it."""
    exchanges, broker, _ = system

    async def no_thread(*args: object, **kwargs: object) -> None:
        raise AssertionError("faststream handed a batch to a worker thread")

    monkeypatch.setattr(anyio.to_thread, "run_sync", no_thread)
    msg = released()
    await broker.publish(msg.model_dump_json().encode(), APPROVAL_ORDERS.name, headers=headers(msg, 7), key=b"k")
    assert exchanges.sales_order(msg.order_id).version == 1
