"""The read fence (kc_runtime.fence) against the real broker: the partition the producer chose, end offsets, the
group's committed offsets, and one ListOffsets for many concurrent fences."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from prometheus_client import REGISTRY

from contracts.topics import USERS_COMPANIES, USERS_USERS
from kc_runtime.fence import ReadFence, partition_of
from kc_runtime.settings import ServiceSettings
from tests.conftest import stays_pending
from tests.support.infra import KAFKA

pytestmark = pytest.mark.integration


class Consumer:
    """The part of the idempotent consumer the fence reads: nothing applied in this process."""

    def __init__(self) -> None:
        self.applied: dict[tuple[str, int], int] = {}
        self.progressed = asyncio.Event()


def list_offsets_sent(service: str) -> float:
    return REGISTRY.get_sample_value("kc_fence_list_offsets_total", {"kc_service": service}) or 0.0


async def test_a_fence_waits_for_the_message_the_producer_put_on_the_companys_partition(topic_prefix: str):
    service = f"fence-{uuid4().hex[:6]}"
    settings = ServiceSettings(service_name=service, kafka_bootstrap_servers=KAFKA, topic_prefix=topic_prefix)
    company = uuid4()
    topic = topic_prefix + USERS_USERS.name
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, enable_idempotence=True)
    await producer.start()
    try:
        sent = await producer.send_and_wait(topic, b"{}", key=str(company).encode())
    finally:
        await producer.stop()
    assert sent.partition == partition_of(str(company), USERS_USERS.partitions)

    fence = ReadFence(settings, [USERS_USERS, USERS_COMPANIES], Consumer(), timeout_s=10)  # type: ignore[arg-type]
    await fence.start()
    committer = AIOKafkaConsumer(bootstrap_servers=KAFKA, group_id=settings.group_id, enable_auto_commit=False)
    await committer.start()
    try:
        waiting = asyncio.create_task(fence.wait(company))
        assert await stays_pending(waiting, within=0.3), "nothing applied the message yet"
        # Another replica applies it and commits: the group's committed offset releases the fence.
        tp = TopicPartition(topic, sent.partition)
        committer.assign([tp])
        await committer.commit({tp: OffsetAndMetadata(sent.offset + 1, "")})
        await asyncio.wait_for(waiting, 5)

        before = list_offsets_sent(service)
        await asyncio.gather(*(fence.wait(None) for _ in range(30)))
        assert list_offsets_sent(service) - before <= 2
    finally:
        await committer.stop()
        await fence.stop()
