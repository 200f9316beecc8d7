"""A fetched batch is applied per partition in one transaction; duplicates and bad messages are isolated."""

from dataclasses import dataclass, field
from uuid import uuid4

import pytest

from contracts.topics import APPROVAL_ORDERS
from erp_sync.adapters.inbound.kafka import consumer_specs
from erp_sync.application.exchanges import Exchanges
from kc_runtime.consumer import ConsumerSpec, IdempotentConsumer
from kc_runtime.eventstore import WorkerPool
from tests.service.erp_sync.test_order_released_handler import headers, released
from tests.support.messages import consumer_record


@dataclass
class FakeBatch:
    raw_message: tuple
    acked: int = 0
    dead: list = field(default_factory=list)

    async def ack(self) -> None:
        self.acked += 1


def record(message, notification_id: int, partition: int = 0, offset: int = 0, body: bytes | None = None):
    return consumer_record(
        message, topic=APPROVAL_ORDERS.name, key=str(message.order_id), partition=partition, offset=offset,
        body=body, headers=headers(message, notification_id),
    )  # fmt: skip


class RecordingBroker:
    def __init__(self) -> None:
        self.published: list[tuple[str, bytes]] = []

    async def publish(self, body, topic, key=None, headers=None):
        self.published.append((topic, body))


@pytest.fixture
def consumer():
    exchanges = Exchanges(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    specs = consumer_specs(exchanges)
    broker = RecordingBroker()
    c = IdempotentConsumer(
        service="erp-sync",
        group_id="erp-sync",
        app=exchanges,
        broker=broker,
        blocking=WorkerPool(2),
        specs=specs,
        max_attempts=2,
        backoff_initial_s=0.01,
    )
    return c, exchanges, broker


async def test_a_batch_of_one_partition_is_saved_in_one_transaction_and_skips_duplicates(consumer):
    c, exchanges, _ = consumer
    a, b = released(), released()
    batch = FakeBatch((record(a, 1, offset=0), record(b, 2, offset=1), record(a, 1, offset=2)))
    await c.handle(batch)
    assert exchanges.sales_order(a.order_id).version == 1
    assert exchanges.sales_order(b.order_id).version == 1
    assert exchanges.max_tracking_id(f"approval/{APPROVAL_ORDERS.name}/0") == 2
    assert batch.acked == 1


async def test_partitions_of_one_batch_keep_their_own_tracking(consumer):
    c, exchanges, _ = consumer
    a, b = released(), released()
    await c.handle(FakeBatch((record(a, 5, partition=0), record(b, 3, partition=1))))
    assert exchanges.max_tracking_id(f"approval/{APPROVAL_ORDERS.name}/0") == 5
    assert exchanges.max_tracking_id(f"approval/{APPROVAL_ORDERS.name}/1") == 3


async def test_a_poison_record_in_a_batch_is_dead_lettered_and_the_rest_applied(consumer):
    c, exchanges, broker = consumer
    a, b = released(), released()
    batch = FakeBatch((record(a, 1), record(b, 2, body=b'{"broken": true}'), record(released(uuid4()), 3)))
    await c.handle(batch)
    assert exchanges.find_sales_order(a.order_id) is not None
    assert exchanges.find_sales_order(b.order_id) is None
    assert [t for t, _ in broker.published] == [APPROVAL_ORDERS.dlt]
    assert batch.acked == 1


async def test_a_handler_that_keeps_failing_is_isolated_from_its_batch(consumer):
    c, exchanges, broker = consumer
    good, bad = released(), released()
    spec = c.specs[APPROVAL_ORDERS.name]
    real = spec.handlers[type(good)]

    def flaky(inbound):
        if inbound.message.order_id == bad.order_id:
            raise RuntimeError("ERP mapping missing")
        return real(inbound)

    c.specs[APPROVAL_ORDERS.name] = ConsumerSpec(topic=spec.topic, handlers={type(good): flaky}, batch=True)
    await c.handle(FakeBatch((record(good, 1), record(bad, 2))))
    assert exchanges.find_sales_order(good.order_id) is not None
    assert exchanges.find_sales_order(bad.order_id) is None
    assert [t for t, _ in broker.published] == [APPROVAL_ORDERS.dlt]
