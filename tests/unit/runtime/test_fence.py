"""The read fence (kc_runtime.fence): partition choice, coalesced ListOffsets, waiting for the own consumer.

Kafka is replaced by a fake client here; the whole path against the real broker is the journeys'
``tests/journeys/test_change_in_force.py``.
"""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest
from aiokafka import TopicPartition
from aiokafka.partitioner import DefaultPartitioner

from contracts.topics import USERS_COMPANIES, USERS_USERS
from kc_runtime.fence import FenceUnavailable, ReadFence, partition_of
from kc_runtime.settings import ServiceSettings
from tests.conftest import eventually, stays_pending


class FakeClient:
    """end_offsets answers when released; counts the requests and the partitions each asked for."""

    def __init__(self, ends: dict[TopicPartition, int]) -> None:
        self.ends = ends
        self.requests: list[set[TopicPartition]] = []
        self.release = asyncio.Event()
        self.release.set()
        self.committed_offsets: dict[TopicPartition, int] = {}

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        self.requests.append(set(partitions))
        await self.release.wait()
        return {tp: self.ends.get(tp, 0) for tp in partitions}

    async def committed(self, tp: TopicPartition) -> int | None:
        return self.committed_offsets.get(tp)


class FakeConsumer:
    def __init__(self) -> None:
        self.applied: dict[tuple[str, int], int] = {}
        self.progressed = asyncio.Event()

    def apply(self, tp: TopicPartition, offset: int) -> None:
        self.applied[(tp.topic, tp.partition)] = offset
        self.progressed.set()


def fence(client: FakeClient, consumer: FakeConsumer | None, timeout_s: float = 5.0) -> ReadFence:
    return ReadFence(
        ServiceSettings(service_name="approval"),
        [USERS_USERS, USERS_COMPANIES],
        consumer,  # type: ignore[arg-type]
        timeout_s,
        client=client,
    )


def test_the_partition_is_the_one_the_producer_chooses():
    partitioner = DefaultPartitioner()
    for _ in range(500):
        key = str(uuid4())
        assert partition_of(key, 6) == partitioner(key.encode(), list(range(6)), list(range(6)))


async def test_requests_arriving_while_one_listoffsets_is_in_flight_share_the_next():
    tps = [TopicPartition(USERS_USERS.name, p) for p in range(6)]
    client = FakeClient({tp: 0 for tp in tps})
    f = fence(client, None)
    client.release.clear()
    first = asyncio.create_task(f.end_offsets({tps[0]}))

    async def first_round_sent() -> bool:
        return len(client.requests) == 1

    await eventually(first_round_sent, timeout=5, interval=0.001, what="the first round on its way")
    later = [asyncio.create_task(f.end_offsets({tp})) for tp in tps[1:] for _ in range(10)]
    assert await stays_pending(asyncio.gather(*later), within=0.01)
    assert len(client.requests) == 1  # 50 requests wait for the one in flight, none is sent
    client.release.set()
    await asyncio.gather(first, *later)
    assert len(client.requests) == 2
    assert client.requests[1] == set(tps[1:])


async def test_a_known_company_is_fenced_on_its_partition_of_each_topic_an_unknown_caller_on_all():
    client = FakeClient({})
    f = fence(client, FakeConsumer())
    company = uuid4()
    mine = f.partitions_of(company)
    assert mine == {
        TopicPartition(USERS_USERS.name, partition_of(str(company), USERS_USERS.partitions)),
        TopicPartition(USERS_COMPANIES.name, partition_of(str(company), USERS_COMPANIES.partitions)),
    }
    assert len(f.partitions_of(None)) == USERS_USERS.partitions + USERS_COMPANIES.partitions
    f.remember(("iss", "sub"), company)
    await f.before(("iss", "sub"))
    assert client.requests == [mine]


async def test_the_fence_waits_until_the_own_consumer_applied_everything_below_the_end():
    company = uuid4()
    tp = TopicPartition(USERS_USERS.name, partition_of(str(company), USERS_USERS.partitions))
    other = TopicPartition(USERS_COMPANIES.name, partition_of(str(company), USERS_COMPANIES.partitions))
    consumer = FakeConsumer()
    consumer.apply(other, 3)
    consumer.apply(tp, 6)
    f = fence(FakeClient({tp: 7, other: 3}), consumer)
    waiting = asyncio.create_task(f.wait(company))
    assert await stays_pending(waiting, within=0.05)
    consumer.apply(tp, 7)
    await asyncio.wait_for(waiting, 1)


async def test_the_groups_committed_offset_counts_for_a_partition_this_process_does_not_consume():
    company = uuid4()
    client = FakeClient({})
    f = fence(client, FakeConsumer())
    client.ends = dict.fromkeys(f.partitions_of(company), 5)
    client.committed_offsets = dict.fromkeys(f.partitions_of(company), 5)
    await asyncio.wait_for(f.wait(company), 1)
    assert len(client.requests) == 1


async def test_a_fence_not_reached_in_time_is_a_503():
    company = uuid4()
    client = FakeClient({})
    f = fence(client, FakeConsumer(), timeout_s=0.1)
    client.ends = dict.fromkeys(f.partitions_of(company), 9)
    with pytest.raises(FenceUnavailable) as refused:
        await f.wait(company)
    assert (refused.value.status, refused.value.code) == (503, "service_unavailable")
