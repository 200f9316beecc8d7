"""A read fence on another service's topics: judge a request only on state at least as new as its caller's
last acknowledged change.

The owning service answers a change only once its relay has published it (:mod:`kc_runtime.published`), so when
a request arrives here after that answer, the change's message is below the end offset of its partition. Before
the request is authorised, the fence reads the end offsets of the partitions that can hold the caller's changes
(the company's partition of each fenced topic — key = company id, Kafka's default murmur2 partitioner, as the
producer chose it — or every partition for a caller not known yet) and waits until this service's own consumer
has applied everything below them. See ADR 0012.

Cost control: concurrent fences are coalesced. One ListOffsets request is in flight at a time; every request that
arrives while it is in flight joins the next one, sent as soon as the first returns, so under load a request
waits for at most two round trips to the broker and the broker sees one request per round trip, not per HTTP
request. Applied offsets come from memory when this process consumes the partition, otherwise from the group's
committed offsets (the consumer commits only after the transaction that applied a message).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from uuid import UUID

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.partitioner import murmur2
from prometheus_client import Counter, Histogram

from contracts.topics import Topic
from kc_runtime.consumer import IdempotentConsumer
from kc_runtime.errors import ApiError
from kc_runtime.kafka import FENCE_CLIENT_SUFFIX, client_options
from kc_runtime.settings import ServiceSettings

log = structlog.get_logger("kc.fence")

FENCE_SECONDS = Histogram(
    "kc_fence_seconds",
    "Time a request waited at the read fence (end offsets read, own consumer caught up)",
    ["kc_service", "scope"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
LIST_OFFSETS = Counter(
    "kc_fence_list_offsets_total", "ListOffsets requests the read fence sent (coalesced)", ["kc_service"]
)


def partition_of(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner (murmur2, positive) chooses for ``key`` (aiokafka's producer too)."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


@dataclass
class _Round:
    partitions: set[TopicPartition] = field(default_factory=set)
    done: asyncio.Future[dict[TopicPartition, int]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class FenceUnavailable(ApiError):
    def __init__(self) -> None:
        super().__init__(
            503, "service_unavailable", "This request cannot be judged on current data right now; retry shortly."
        )


class OffsetsClient(Protocol):
    """What the fence asks Kafka (an ``AIOKafkaConsumer`` of the service's group that never joins it)."""

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]: ...

    async def committed(self, tp: TopicPartition) -> int | None: ...


class ReadFence:
    """Fences on ``topics`` (keyed by company id) before a request is judged."""

    def __init__(
        self,
        settings: ServiceSettings,
        topics: Sequence[Topic],
        consumer: IdempotentConsumer | None,
        timeout_s: float,
        poll_interval_s: float = 0.01,
        client: OffsetsClient | None = None,
    ) -> None:
        self.settings = settings
        self.service = settings.service_name
        self.topics = [settings.topic_prefix + t.name for t in topics]
        self.partitions = {settings.topic_prefix + t.name: t.partitions for t in topics}
        self.consumer = consumer
        self.timeout_s = timeout_s
        self.poll_interval_s = poll_interval_s
        self._client: OffsetsClient | None = client
        """What the fence asks Kafka (end offsets, committed offsets); started by :meth:`start` unless given."""
        self._own_client: AIOKafkaConsumer | None = None
        self._pending: _Round | None = None
        self._sender: asyncio.Task[None] | None = None
        self.companies: dict[tuple[str, str], UUID] = {}
        """(issuer, subject) → company of callers seen: which partitions to fence for them next time."""

    async def start(self) -> None:
        if self._client is not None:
            return
        # A client of the service's group that never joins it: it lists end offsets and reads committed ones.
        own = AIOKafkaConsumer(
            group_id=self.settings.group_id,
            enable_auto_commit=False,
            client_id=self.service + FENCE_CLIENT_SUFFIX,  # its requests count under the service
            **client_options(self.settings),
        )
        await own.start()
        for topic in self.topics:
            known = own.partitions_for_topic(topic)
            if known:
                self.partitions[topic] = len(known)
        self._client = self._own_client = own

    async def stop(self) -> None:
        if self._own_client is not None:
            await self._own_client.stop()
            self._client = self._own_client = None

    # ---- the fence ------------------------------------------------------------------------------------------

    def remember(self, identity: tuple[str, str], company_id: UUID) -> None:
        if len(self.companies) > 100_000:
            self.companies.clear()
        self.companies[identity] = company_id

    async def before(self, identity: tuple[str, str]) -> None:
        """Wait until this service has applied every message of the caller's company's partitions (every
        partition for a caller not seen yet) that was on the broker when the request arrived."""
        company = self.companies.get(identity)
        await self.wait(company)

    async def wait(self, company_id: UUID | None) -> None:
        started = time.perf_counter()
        scope = "company" if company_id is not None else "all"
        try:
            await asyncio.wait_for(self._wait(self.partitions_of(company_id)), timeout=self.timeout_s)
        except (TimeoutError, ConnectionError, OSError, KafkaError) as exc:
            log.warning("read fence not reached", error=repr(exc), company_id=str(company_id))
            FENCE_SECONDS.labels(self.service, "failed").observe(time.perf_counter() - started)
            raise FenceUnavailable() from exc
        FENCE_SECONDS.labels(self.service, scope).observe(time.perf_counter() - started)

    def partitions_of(self, company_id: UUID | None) -> set[TopicPartition]:
        """The partitions a request of ``company_id``'s caller waits for (every partition: a caller not seen yet)."""
        if company_id is None:
            return {TopicPartition(t, p) for t in self.topics for p in range(self.partitions[t])}
        return {TopicPartition(t, partition_of(str(company_id), self.partitions[t])) for t in self.topics}

    async def _wait(self, partitions: set[TopicPartition]) -> None:
        ends = await self.end_offsets(partitions)
        for tp in partitions:
            await self._applied(tp, ends.get(tp, 0))

    async def _applied(self, tp: TopicPartition, end: int) -> None:
        if end <= 0:  # nothing was ever written to the partition
            return
        rounds = 0
        while True:
            if self._applied_here(tp) >= end:
                return
            # Not (yet) seen here: another replica may consume the partition, or this one has not fetched it
            # since it started. The group's committed offset says what was applied anywhere.
            if self._client is not None and rounds % 3 == 0:
                committed = await self._client.committed(tp)
                if committed is not None and committed >= end:
                    if self.consumer is not None:
                        key = (tp.topic, tp.partition)
                        self.consumer.applied[key] = max(self.consumer.applied.get(key, 0), committed)
                    return
            rounds += 1
            if self.consumer is not None:
                self.consumer.progressed.clear()
                try:
                    await asyncio.wait_for(self.consumer.progressed.wait(), timeout=self.poll_interval_s)
                except TimeoutError:
                    pass
            else:
                await asyncio.sleep(self.poll_interval_s)

    def _applied_here(self, tp: TopicPartition) -> int:
        if self.consumer is None:
            return -1
        return self.consumer.applied.get((tp.topic, tp.partition), -1)

    # ---- coalesced ListOffsets ----------------------------------------------------------------------------

    async def end_offsets(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        """The partitions' end offsets, asked in rounds: requests arriving while one ListOffsets is in flight share
        the next one."""
        wanted = set(partitions)
        if self._pending is None:
            self._pending = _Round()
            if self._sender is None or self._sender.done():
                self._sender = asyncio.create_task(self._send(), name="fence-list-offsets")
        round_ = self._pending
        round_.partitions |= wanted
        result = await asyncio.shield(round_.done)
        return {tp: result[tp] for tp in wanted if tp in result}

    async def _send(self) -> None:
        while self._pending is not None:
            # Requests that arrive from now on form the next round: they came after this one was sent.
            round_, self._pending = self._pending, None
            try:
                if self._client is None:
                    raise ConnectionError("the read fence is not started")
                LIST_OFFSETS.labels(self.service).inc()
                offsets = await self._client.end_offsets(sorted(round_.partitions))
                round_.done.set_result(dict(offsets))
            except BaseException as exc:
                round_.done.set_exception(ConnectionError(repr(exc)))
                # Nobody may await this round (every caller timed out): mark the exception retrieved.
                round_.done.exception()
                if isinstance(exc, asyncio.CancelledError):
                    raise
