"""kc_consumer_lag_messages against the real broker: what a consumer has not handled yet, per partition."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY

from contracts.approval.v1 import OrderReleased
from contracts.topics import APPROVAL_ORDERS
from kc_runtime.consumer import ConsumerSpec, IdempotentConsumer, Inbound
from kc_runtime.eventstore import ServiceApplication, WorkerPool
from kc_runtime.kafka import create_broker
from kc_runtime.settings import ServiceSettings
from tests.conftest import eventually
from tests.service.erp_sync.test_order_released_handler import headers, released
from tests.support.infra import KAFKA, random_suffix

pytestmark = pytest.mark.integration

BEHIND = 5


def lag(service: str) -> dict[str, float]:
    """The consumer's lag series of approval.orders: partition → messages."""
    return {
        s.labels["partition"]: s.value
        for metric in REGISTRY.collect()
        if metric.name == "kc_consumer_lag_messages"
        for s in metric.samples
        if s.labels["kc_service"] == service and s.labels["topic"] == APPROVAL_ORDERS.name
    }


class Gated:
    """A handler that waits until the test opens the gate: the consumer is stuck behind its first message."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.handled = 0

    def __call__(self, inbound: Inbound) -> list[Any]:
        assert self.gate.wait(timeout=60), "the test never opened the gate"
        self.handled += 1
        return []


async def publish_behind(prefix: str, count: int) -> None:
    """``count`` messages of one order (one key, so one partition), published before the consumer starts."""
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA)
    await producer.start()
    try:
        message = released(uuid4())
        for n in range(1, count + 1):
            await producer.send_and_wait(
                prefix + APPROVAL_ORDERS.name,
                message.model_dump_json().encode(),
                key=str(message.order_id).encode(),
                headers=[(k, v.encode()) for k, v in headers(message, n).items()],
            )
    finally:
        await producer.stop()


class Member:
    """One consumer-group member in this process, as a service runs it: a broker with an idempotent consumer."""

    def __init__(self, prefix: str, group: str, handler: Gated) -> None:
        self.service = f"lag-{random_suffix()}"
        settings = ServiceSettings(service_name=self.service, kafka_bootstrap_servers=KAFKA)
        self.broker = create_broker(settings)
        self.app = ServiceApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
        self.blocking = WorkerPool(2)
        self.consumer = IdempotentConsumer(
            service=self.service,
            group_id=group,
            app=self.app,
            broker=self.broker,
            blocking=self.blocking,
            specs=[ConsumerSpec(topic=APPROVAL_ORDERS, handlers={OrderReleased: handler})],
            topic_prefix=prefix,
            batch_size=1,
            session_timeout_ms=6_000,
        )
        self.consumer.register()

    async def start(self) -> Member:
        await self.broker.start()
        return self

    async def stop(self) -> None:
        await self.broker.stop()
        self.blocking.shutdown()


@pytest.fixture
async def members(topic_prefix) -> AsyncIterator[list[Member]]:
    started: list[Member] = []
    yield started
    for member in started:
        await member.stop()


async def test_the_lag_gauge_counts_the_messages_a_stuck_consumer_is_behind_and_returns_to_zero_once_it_caught_up(
    topic_prefix, members
):
    await publish_behind(topic_prefix, BEHIND)
    handler = Gated()
    member = Member(topic_prefix, f"it-lag-{random_suffix()}", handler)
    members.append(await member.start())

    async def behind() -> dict[str, float]:
        return {p: v for p, v in lag(member.service).items() if v > 0}

    stuck = await eventually(behind, what="the lag of the stuck consumer")
    assert list(stuck.values()) == [BEHIND]  # the message in hand is not committed: all of them are behind
    (partition,) = stuck

    handler.gate.set()

    async def caught_up() -> bool:
        return handler.handled == BEHIND and lag(member.service).get(partition) == 0

    await eventually(caught_up, what="the lag to return to 0")


async def test_each_fetched_batch_is_observed_with_the_number_of_its_records(topic_prefix, members):
    await publish_behind(topic_prefix, BEHIND)
    handler = Gated()
    handler.gate.set()
    member = Member(topic_prefix, f"it-batch-{random_suffix()}", handler)  # at most one record per batch
    members.append(await member.start())

    def observed(suffix: str) -> float:
        return REGISTRY.get_sample_value(f"kc_consumer_batch_messages_{suffix}", {"kc_service": member.service}) or 0

    await eventually(lambda: _true(handler.handled == BEHIND), what="every message handled")
    assert (observed("count"), observed("sum")) == (BEHIND, BEHIND)


async def _true(value: bool) -> bool:
    return value


async def test_a_partition_taken_over_by_another_member_loses_its_lag_series_at_the_one_that_gave_it_up(
    topic_prefix, members
):
    await publish_behind(topic_prefix, 1)
    group = f"it-lag-{random_suffix()}"
    handler = Gated()
    handler.gate.set()
    first = Member(topic_prefix, group, handler)
    members.append(await first.start())

    async def measured() -> dict[str, float]:
        return lag(first.service)

    await eventually(measured, what="the first member to report its lag")

    second = Member(topic_prefix, group, handler)
    members.append(await second.start())

    async def revoked() -> bool:
        return not lag(first.service)  # revoked at the rebalance; reported again only for what it is given

    await eventually(revoked, timeout=60, what="the first member to drop the series of its revoked partitions")
