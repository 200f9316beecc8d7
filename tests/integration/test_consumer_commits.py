"""Offsets committed at most once per interval against the real broker (ADR 0037): the group's offset catches up by
the timer, at once for a topic a read fence waits on, when partitions are revoked; and a consumer that dies with
handled messages not committed has them delivered again and skipped — nothing doubled."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from contracts.approval.v1 import OrderReleased
from contracts.topics import APPROVAL_ORDERS
from kc_runtime.consumer import ConsumerSpec, IdempotentConsumer, Inbound
from kc_runtime.eventstore import ServiceApplication, WorkerPool
from kc_runtime.fence import partition_of
from kc_runtime.kafka import create_broker
from kc_runtime.settings import ServiceSettings
from tests.conftest import eventually
from tests.service.erp_sync.test_order_released_handler import headers, released
from tests.support.infra import KAFKA, random_suffix

pytestmark = pytest.mark.integration


class Counting:
    def __init__(self) -> None:
        self.handled = 0
        self.lock = threading.Lock()

    def __call__(self, inbound: Inbound) -> list[Any]:
        with self.lock:
            self.handled += 1
        return []


class Member:
    """One consumer-group member as a service runs it; ``app`` shared between members stands for the service's
    database (the tracking records that skip a redelivered message)."""

    def __init__(
        self, prefix: str, group: str, handler: Counting, app: ServiceApplication, *, interval_s: float, at_once=False
    ) -> None:
        self.service = f"commits-{random_suffix()}"
        settings = ServiceSettings(service_name=self.service, kafka_bootstrap_servers=KAFKA)
        self.broker = create_broker(settings)
        self.blocking = WorkerPool(2)
        self.consumer = IdempotentConsumer(
            service=self.service,
            group_id=group,
            app=app,
            broker=self.broker,
            blocking=self.blocking,
            specs=[ConsumerSpec(topic=APPROVAL_ORDERS, handlers={OrderReleased: handler}, commit_at_once=at_once)],
            topic_prefix=prefix,
            batch_size=1,
            session_timeout_ms=6_000,
            commit_interval_s=interval_s,
        )
        self.consumer.register()
        self.stopped = False

    async def start(self) -> Member:
        await self.broker.start()
        return self

    async def stop(self) -> None:
        """Leave without committing what was handled (as a process that dies would)."""
        if not self.stopped:
            self.stopped = True
            await self.broker.stop()
            self.blocking.shutdown()


@pytest.fixture
async def members() -> AsyncIterator[list[Member]]:
    started: list[Member] = []
    yield started
    for member in started:
        await member.stop()


@pytest.fixture
def app() -> ServiceApplication:
    return ServiceApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


class Offsets:
    """The group's committed offsets, as a read fence in another replica reads them."""

    def __init__(self, group: str) -> None:
        self.client = AIOKafkaConsumer(group_id=group, enable_auto_commit=False, bootstrap_servers=KAFKA)

    async def __aenter__(self) -> Offsets:
        await self.client.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.stop()

    async def committed(self, tp: TopicPartition) -> int:
        return await self.client.committed(tp) or 0

    async def reach(self, tp: TopicPartition, offset: int, *, timeout: float, what: str) -> None:
        async def reached() -> bool:
            return await self.committed(tp) == offset

        await eventually(reached, timeout=timeout, what=what)


ORDER = uuid4()
"""One order: one key, so every message of a test is in one partition."""


async def publish(prefix: str, notification_ids: range) -> TopicPartition:
    """Messages of one order, with these notification ids (what the tracking records go by); their partition."""
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA)
    await producer.start()
    try:
        message = released(ORDER)
        for n in notification_ids:
            await producer.send_and_wait(
                prefix + APPROVAL_ORDERS.name,
                message.model_dump_json().encode(),
                key=str(ORDER).encode(),
                headers=[(k, v.encode()) for k, v in headers(message, n).items()],
            )
    finally:
        await producer.stop()
    return TopicPartition(prefix + APPROVAL_ORDERS.name, partition_of(str(ORDER), APPROVAL_ORDERS.partitions))


async def test_offsets_are_committed_once_per_interval_and_the_timer_catches_up(topic_prefix, members, app):
    tp = await publish(topic_prefix, range(1, 6))
    group, handler = f"it-commits-{random_suffix()}", Counting()
    members.append(await Member(topic_prefix, group, handler, app, interval_s=5.0).start())
    async with Offsets(group) as offsets:
        await eventually(lambda: _true(handler.handled == 5), what="five messages handled")
        # the first batch committed at once, the four after it wait for the interval (one batch per message here)
        assert await offsets.committed(tp) < 5

        await offsets.reach(tp, 5, timeout=20, what="the timer to commit the rest")


async def test_a_topic_a_read_fence_waits_on_commits_after_every_batch(topic_prefix, members, app):
    tp = await publish(topic_prefix, range(1, 6))
    group, handler = f"it-commits-{random_suffix()}", Counting()
    members.append(await Member(topic_prefix, group, handler, app, interval_s=600.0, at_once=True).start())
    async with Offsets(group) as offsets:
        await eventually(lambda: _true(handler.handled == 5), what="five messages handled")

        await offsets.reach(tp, 5, timeout=10, what="every batch committed (not after 600 s)")


@dataclass
class Deferred:
    tp: TopicPartition
    group: str
    handler: Counting
    member: Member
    offsets: Offsets


@asynccontextmanager
async def five_handled_one_committed(prefix: str, members: list[Member], app: ServiceApplication):
    """Five messages handled one batch each by a member that commits every 600 s: only the first is committed."""
    tp = await publish(prefix, range(1, 6))
    group, handler = f"it-commits-{random_suffix()}", Counting()
    member = await Member(prefix, group, handler, app, interval_s=600.0).start()
    members.append(member)
    async with Offsets(group) as offsets:
        await eventually(lambda: _true(handler.handled == 5), what="five messages handled")
        assert await offsets.committed(tp) == 1  # the first batch's offset; the rest waits for the interval
        yield Deferred(tp, group, handler, member, offsets)


async def test_handled_messages_not_yet_committed_are_redelivered_to_the_next_member_and_skipped(
    topic_prefix, members, app
):
    async with five_handled_one_committed(topic_prefix, members, app) as d:
        await d.member.stop()  # gone without committing them
        members.append(await Member(topic_prefix, d.group, d.handler, app, interval_s=0.0).start())
        await publish(topic_prefix, range(6, 7))
        await d.offsets.reach(d.tp, 6, timeout=30, what="the next member to take the partition and go past all six")
    assert d.handler.handled == 6  # messages 2-5 came again and were skipped by their tracking records


async def test_revoked_partitions_have_their_handled_offsets_committed_before_another_member_takes_them(
    topic_prefix, members, app
):
    async with five_handled_one_committed(topic_prefix, members, app) as d:
        members.append(await Member(topic_prefix, d.group, Counting(), app, interval_s=600.0).start())
        await d.offsets.reach(d.tp, 5, timeout=30, what="the rebalance to commit the handled offsets")


async def test_a_graceful_stop_commits_what_was_handled(topic_prefix, members, app):
    async with five_handled_one_committed(topic_prefix, members, app) as d:
        await d.member.consumer.stop_committing()  # what the service runtime does before the broker stops
        await d.member.stop()
        assert await d.offsets.committed(d.tp) == 5


async def _true(value: bool) -> bool:
    return value
