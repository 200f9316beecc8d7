"""The idempotent consumer: at-least-once delivery, exactly-once effects.

For each message: validate the envelope and the payload (invalid → dead-letter topic at once), skip it if
its tracking position was recorded already (a redelivery or a republication), otherwise run the handler and
save its new events together with the tracking record in one transaction, and only then commit the offset.

Failures: infrastructure errors (database or broker unreachable) are retried with backoff for as long as
they last — the partition waits, nothing is dead-lettered for an outage. Any other error is retried
``max_attempts`` times, then the message goes to ``<topic>.dlt`` with the reason, and the consumer goes on.

Lag: ``kc_consumer_lag_messages{kc_service,topic,partition}`` is the highwater offset minus the committed offset of
each assigned partition, set when a batch is fetched and again when it is committed (:class:`ConsumerLag`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import psycopg
import structlog
from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    Tracking,
)
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.kafka import Topic as KafkaTopic
from opentelemetry import trace
from opentelemetry.trace import Span, Tracer
from pydantic import ValidationError
from tenacity import RetryCallState

from contracts import Envelope, Headers, Message
from contracts.topics import Topic
from kc_runtime import context, metrics, tracing
from kc_runtime.eventstore import ServiceApplication, WorkerPool, stamp_metadata
from kc_runtime.faults import failpoint
from kc_runtime.kafka import IDLE_FETCH, IDLE_POLL_MS, decode_headers, eager_batches, the_message
from kc_runtime.retrying import OnRetry, retrying
from kc_runtime.sealed_messages import MARK, needs_opening, open_bodies
from kc_runtime.units import Unit

log = structlog.get_logger("kc.consumer")

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    ConnectionError,
    TimeoutError,
)


M = TypeVar("M", bound=Message, covariant=True)


@dataclass(frozen=True)
class Inbound(Generic[M]):
    """A validated message as a handler sees it; a handler of one message type says which (``Inbound[UserCreated]``)
    and reads its fields typed."""

    message: M
    envelope: Envelope
    topic: str
    partition: int
    offset: int
    traceparent: str | None = None
    """The W3C traceparent of the message's producer span, if it had one."""

    @property
    def tracking(self) -> Tracking:
        return Tracking(
            application_name=f"{self.envelope.producer}/{self.topic}/{self.partition}",
            notification_id=self.envelope.source_notification_id,
        )

    @property
    def unit(self) -> Unit:
        """The consumer transaction this message is handled in, for the application's identity map
        (:class:`kc_runtime.units.Units`): its partition's tracking name and the message's position."""
        return self.tracking.application_name, self.envelope.source_notification_id


Handler = Callable[[Inbound[Any]], Sequence[Any]]
"""Runs in the event store's thread pool; returns the aggregates whose new events to save (may be empty)."""


Preload = Callable[[Sequence[Inbound[Any]]], Mapping[Any, Any]]
"""Runs in the worker thread before the handlers of a batch: loads in bulk what they will read, by key."""

MISSING: Any = object()
_PRELOADED: ContextVar[Mapping[Any, Any] | None] = ContextVar("kc_consumer_preloaded", default=None)


def preloaded(key: Any) -> Any:
    """What the spec's ``preload`` loaded under ``key`` for the batch being applied; :data:`MISSING` when it
    loaded nothing under that key, or outside of a batch (a message applied on its own loads afresh).

    A preloaded aggregate is one object for every handler of the batch: a handler sees what an earlier one
    changed (its events are collected with the earlier handler's aggregates), and the batch's save checks
    the versions as ever — a concurrent change elsewhere fails it, and it is applied one by one."""
    loaded = _PRELOADED.get()
    return MISSING if loaded is None else loaded.get(key, MISSING)


class ConcurrentChange(Exception):
    """A handler's save lost to a concurrent change of the same aggregate (not a redelivery): apply it again."""


class PoisonMessage(Exception):
    def __init__(self, reason: str, error: str) -> None:
        super().__init__(f"{reason}: {error}")
        self.reason = reason
        self.error = error


@dataclass
class ConsumerSpec:
    topic: Topic
    handlers: dict[type[Message], Handler]
    batch: bool = False
    """True when the handlers may see several messages of a partition applied in one transaction: each handler
    only creates aggregates or touches aggregates no other message of the batch touches (a conflict falls
    back to one by one, but a handler reading state another message of the batch changes would not see it)."""
    preload: Preload | None = None
    """Batches only: one bulk read of the aggregates the batch's handlers will load (see :func:`preloaded`)."""
    commit_at_once: bool = False
    """Commit the offsets after every batch with a message of this topic: a read fence waits for its messages
    (ADR 0012), and a fence in another replica sees what was applied here only by the group's committed offsets.
    Other topics' offsets are committed at most every ``commit_interval_s`` (ADR 0037)."""


class ConsumerLag:
    """``kc_consumer_lag_messages`` of one consumer: per assigned partition, the highwater offset (the offset the
    next message produced will get) minus the offset the group has committed, i.e. messages not yet handled.

    Made of what the Kafka client knows already — the highwater comes with every fetch response, the position is
    local — so it costs no request to the broker. A partition not fetched yet has no series; a revoked one loses it.
    """

    SWEEP_INTERVAL_S = 1.0
    """How often every assigned partition is measured; in between, only the partitions of the batch in hand (a
    consumer of many topics owns dozens of partitions, and a batch at a low rate is a record or two)."""

    def __init__(self, service: str, topic_prefix: str = "") -> None:
        self.service = service
        self.topic_prefix = topic_prefix
        self.series: set[tuple[str, str]] = set()
        self.next_sweep = 0.0

    async def observe(
        self,
        client: Any,
        uncommitted: dict[TopicPartition, int] | None = None,
        batch: Iterable[TopicPartition] | None = None,
    ) -> None:
        """Set the gauge of every assigned partition whose highwater is known — or, between sweeps, of the
        ``batch``'s partitions only. ``uncommitted``: the first offset of the batch in hand per partition
        (fetched, so the client's position is past it, but not committed)."""
        if not hasattr(client, "highwater"):  # faststream's fake consumer (a test broker): nothing to measure
            return
        now = time.monotonic()
        if batch is None or now >= self.next_sweep:
            self.next_sweep = now + self.SWEEP_INTERVAL_S
            partitions: Iterable[TopicPartition] = client.assignment()
        else:
            assigned = client.assignment()
            partitions = [tp for tp in batch if tp in assigned]
        try:
            for tp in partitions:
                highwater = client.highwater(tp)
                if highwater is None:
                    continue
                committed = (uncommitted or {}).get(tp)
                if committed is None:
                    # Immediate: a fetched partition has a valid position (a new assignment has no highwater yet).
                    committed = await client.position(tp)
                self._set(tp, max(highwater - committed, 0))
        except Exception as exc:  # a rebalance under way; the next batch measures again
            log.debug("consumer lag not measured", error=repr(exc))

    def _set(self, tp: TopicPartition, lag: int) -> None:
        key = (tp.topic.removeprefix(self.topic_prefix), str(tp.partition))
        metrics.CONSUMER_LAG.labels(self.service, *key).set(lag)
        self.series.add(key)

    def forget(self, partitions: Sequence[TopicPartition] | set[TopicPartition]) -> None:
        """Remove the series of partitions this consumer no longer owns (another member reports them now)."""
        for tp in partitions:
            key = (tp.topic.removeprefix(self.topic_prefix), str(tp.partition))
            if key in self.series:
                self.series.discard(key)
                metrics.CONSUMER_LAG.remove(self.service, *key)


class TrackedPositions:
    """Per tracking name, the last position this process saved: what the store holds or less (another member may
    have moved it on while the partition was elsewhere). Known, it spares the read of the store's position before
    a batch: a message at or below it is a duplicate for sure; one above it is applied, and if the store is ahead
    after all, the save's tracking check fails and the messages are applied one by one, each checked in the
    store. A revoked partition's positions are forgotten."""

    def __init__(self, topic_prefix: str = "") -> None:
        self.topic_prefix = topic_prefix
        self.last: dict[str, int] = {}

    def get(self, name: str) -> int | None:
        return self.last.get(name)

    def saved(self, name: str, notification_id: int) -> None:
        self.last[name] = max(self.last.get(name, 0), notification_id)

    def drop(self, name: str) -> None:
        self.last.pop(name, None)

    def forget(self, partitions: Sequence[TopicPartition] | set[TopicPartition]) -> None:
        suffixes = tuple(f"/{tp.topic.removeprefix(self.topic_prefix)}/{tp.partition}" for tp in partitions)
        for name in [n for n in self.last if n.endswith(suffixes)]:
            del self.last[name]


class _ForgetRevoked(ConsumerRebalanceListener):
    def __init__(
        self,
        lag: ConsumerLag,
        positions: TrackedPositions | None = None,
        commit: Callable[[set[TopicPartition]], Awaitable[None]] | None = None,
    ) -> None:
        self.lag = lag
        self.positions = positions
        self.commit = commit

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        if self.commit is not None:  # what was handled here, before another member takes the partitions
            await self.commit(revoked)
        self.lag.forget(revoked)
        if self.positions is not None:
            self.positions.forget(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        pass


class IdempotentConsumer:
    def __init__(
        self,
        *,
        service: str,
        group_id: str,
        app: ServiceApplication,
        broker: KafkaBroker,
        blocking: WorkerPool,
        specs: Sequence[ConsumerSpec] = (),
        spec: ConsumerSpec | None = None,
        max_attempts: int = 5,
        max_conflicts: int = 25,
        backoff_initial_s: float = 0.1,
        backoff_max_s: float = 10.0,
        topic_prefix: str = "",
        batch_size: int = 200,
        instance_id: str | None = None,
        session_timeout_ms: int = 10_000,
        commit_interval_s: float = 0.0,
        tracer: Tracer | None = None,
    ) -> None:
        self.tracer = tracer
        self.commit_interval_s = commit_interval_s
        """At most this long between a handled batch and the commit of its offsets (0: after every batch). A
        message handled but not committed when the process dies is delivered again and skipped by its tracking
        record: nothing is lost or doubled, the offsets only say to the group how far this consumer got."""
        self._client: Any = None
        self._committed: dict[TopicPartition, int] = {}
        self._last_commit = 0.0
        self._commit_timer: asyncio.Task[None] | None = None
        self.instance_id = instance_id
        self.session_timeout_ms = session_timeout_ms
        self.topic_prefix = topic_prefix
        self.batch_size = batch_size
        self.service = service
        self.group_id = group_id
        self.app = app
        self.broker = broker
        self.blocking = blocking
        all_specs = [*specs, *([spec] if spec else [])]
        self.specs: dict[str, ConsumerSpec] = {s.topic.name: s for s in all_specs}
        self.max_attempts = max_attempts
        self.max_conflicts = max_conflicts
        """A save that lost to a concurrent change of the same aggregate (an HTTP request, say) is not the message's
        fault: the handler reloads and decides again. Such conflicts count apart from failures, against a far higher
        limit, so a busy aggregate (a company's credit, taken by every order) never dead-letters a message; a
        conflict that repeats for ever (a bug) still ends in the dead-letter topic."""
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.stopping = asyncio.Event()
        self.lag = ConsumerLag(service, topic_prefix)
        self.positions = TrackedPositions(topic_prefix)
        self.applied: dict[tuple[str, int], int] = {}
        """(topic, partition) → the offset below which every message was handled and committed by this process
        (what a fence waits for: :mod:`kc_runtime.fence`)."""
        self.progressed = asyncio.Event()
        """Set whenever ``applied`` moves (waiters clear it before they wait)."""
        self.dead_lettered = 0
        """Messages this process sent to a dead-letter topic."""

    def register(self) -> None:
        """Subscribe on the broker (called from the composition root, never at import time).

        One Kafka consumer for all of the service's topics: one group membership, one rebalance on a restart.
        """
        if not self.specs:
            return
        names = sorted(self.specs)

        # Topics are created from the contracts' registry (kc_runtime.topics / Strimzi), never by a consumer.
        subscriber = self.broker.subscriber(
            *(KafkaTopic(self.topic_prefix + name, declare=False) for name in names),
            group_id=self.group_id,
            group_instance_id=self.instance_id,
            session_timeout_ms=self.session_timeout_ms,
            heartbeat_interval_ms=max(1000, self.session_timeout_ms // 4),
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            batch=True,
            decoder=the_message,  # the handler reads the records' bytes itself
            max_records=self.batch_size,
            batch_timeout_ms=IDLE_POLL_MS,  # eager: each fetch is handled when it arrives
            **IDLE_FETCH,
            listener=_ForgetRevoked(self.lag, self.positions, self.commit_handled),
            title=f"{self.group_id}:consumer",
            description="; ".join(f"{n}: {self.specs[n].topic.description}" for n in names),
        )

        async def on_batch(msg: KafkaMessage) -> None:
            try:
                await self.handle(msg)
            except Exception:
                # faststream swallows a handler's exception (its logger is off): say it here
                log.exception("handling a fetched batch failed", group_id=self.group_id)
                raise

        eager_batches(subscriber)(on_batch)

    async def handle(self, msg: KafkaMessage) -> None:
        """Handle one fetched batch; the offsets are committed only when every record in it is done."""
        raw = msg.raw_message
        records = raw if isinstance(raw, tuple | list) else (raw,)
        client = getattr(msg, "consumer", None)  # the aiokafka consumer that fetched the batch
        dead_lettered_before = self.dead_lettered
        uncommitted: dict[TopicPartition, int] = {}
        for record in records:
            uncommitted.setdefault(TopicPartition(record.topic, record.partition), record.offset)
        await self.lag.observe(client, uncommitted, batch=uncommitted)
        metrics.CONSUMER_BATCH.labels(self.service).observe(len(records))
        chunks: dict[str, list[tuple[Inbound, Any, dict[str, str]]]] = {}
        opened = await self._open_sealed(records)
        for record in records:
            headers = decode_headers(record)
            spec = self.specs[record.topic.removeprefix(self.topic_prefix)]
            body = opened.get(id(record), record.value)
            if body is None:  # a person's values whose key is gone: nothing of theirs is handled any more
                metrics.CONSUMED.labels(self.service, spec.topic.name, "erased").inc()
                continue
            try:
                inbound = self._validate(spec, body, headers, record.partition, record.offset)
            except PoisonMessage as poison:
                await self._dead_letter(spec, record, headers, poison.reason, poison.error)
                continue
            if inbound is None:  # a message type this consumer does not handle
                metrics.CONSUMED.labels(self.service, spec.topic.name, "ignored").inc()
                continue
            chunks.setdefault(inbound.tracking.application_name, []).append((inbound, record, headers))
        batched = [[i for i, _, _ in items] for items in chunks.values() if self.specs[items[0][0].topic].batch]
        done: set[str] = set()
        if len(batched) > 1 and getattr(self.app, "saves_several_trackings", False):
            # The batch specs' messages of every partition fetched: one transaction, one tracking record each.
            if await self._apply_chunk_with_retries(batched):
                done = {chunk[0].tracking.application_name for chunk in batched}
        for name, items in chunks.items():
            if name in done:
                continue
            # A batch spec's single message too: its aggregates are preloaded in one read, as in a larger batch.
            if self.specs[items[0][0].topic].batch and await self._apply_chunk_with_retries([[i for i, _, _ in items]]):
                continue
            for inbound, record, headers in items:
                await self._apply_one(inbound, record, headers)
        failpoint("consumer.after_commit")
        for record in records:
            key = (record.topic, record.partition)
            self.applied[key] = max(self.applied.get(key, 0), record.offset + 1)
        if self._commits_now(client, records, dead_lettered_before):
            try:
                await msg.ack()
            except KafkaError as exc:  # a rebalance under way: the next commit (or the new owner) covers it
                log.warning("offset commit failed, left to the next one", error=repr(exc)[:200])
            else:
                self._committed.update((TopicPartition(*key), offset) for key, offset in self.applied.items())
                self._last_commit = time.monotonic()
        else:
            self._client = client
            if self._commit_timer is None or self._commit_timer.done():
                self._commit_timer = asyncio.create_task(self._commit_later(), name="consumer-commit")
        self.progressed.set()
        await self.lag.observe(client, batch=uncommitted)

    async def _open_sealed(self, records: Sequence[Any]) -> dict[int, bytes | None]:
        """The bodies of ``records`` whose personal fields are sealed (ADR 0035 decision 6), opened — by record id;
        ``None`` for one whose person is erased. In a worker thread (a key may be fetched from users), waiting out
        an outage of users like one of the database: a message is never dead-lettered for it."""
        ring = self.app.key_ring
        if ring is None:
            return {}
        todo = []
        for record in records:
            if not record.value or MARK not in record.value:  # most bodies: nothing sealed, no header decoded
                continue
            spec = self.specs.get(record.topic.removeprefix(self.topic_prefix))
            event_type = dict(decode_headers(record)).get(Headers.EVENT_TYPE)
            message_type = spec.topic.message_type(event_type) if spec is not None and event_type else None
            if message_type is not None and needs_opening(message_type, record.value):
                todo.append((record, message_type))
        if not todo:
            return {}

        def open_all() -> dict[int, bytes | None]:
            # every person's key the batch needs in one request to users, then each body opened
            opened = open_bodies([(t, r.value) for r, t in todo], ring)
            return {id(r): body for (r, _), body in zip(todo, opened, strict=True)}

        async for attempt in retrying(
            initial_s=self.backoff_initial_s, max_s=self.backoff_max_s, retry_on=TRANSIENT_ERRORS,
            on_retry=lambda exc, wait: log.warning("persons' keys unavailable, retrying", error=repr(exc),
                                                   retry_in_s=round(wait, 2)),
        ):  # fmt: skip
            with attempt:
                return await self.blocking.run(open_all)
        raise AssertionError("unreachable")  # pragma: no cover  # retries for ever or returns

    def _commits_now(self, client: Any, records: Sequence[Any], dead_lettered_before: int) -> bool:
        """Whether this batch's offsets are committed at once rather than by the timer: always without an interval,
        for a fenced topic, after a dead letter (a redelivered poison message would be dead-lettered twice), when
        stopping, once the interval has passed — and with a client that cannot commit by offsets (a test broker)."""
        return (
            self.commit_interval_s <= 0
            or not hasattr(client, "assignment")
            or self.dead_lettered != dead_lettered_before
            or self.stopping.is_set()
            or time.monotonic() - self._last_commit >= self.commit_interval_s
            or any(self.specs[r.topic.removeprefix(self.topic_prefix)].commit_at_once for r in records)
        )

    async def _commit_later(self) -> None:
        await asyncio.sleep(max(0.0, self._last_commit + self.commit_interval_s - time.monotonic()))
        await self.commit_handled()

    async def stop_committing(self) -> None:
        """On a graceful stop: the batch in hand commits at once when done, and what is handled is committed now."""
        self.stopping.set()
        if self._commit_timer is not None:
            self._commit_timer.cancel()
        await self.commit_handled()

    async def commit_handled(self, partitions: Iterable[TopicPartition] | None = None) -> None:
        """Commit the offsets of what this process handled and did not commit yet (of ``partitions`` only: those
        being revoked). A failed commit (a rebalance under way) is left to the next one; the messages after the
        group's offset are delivered again and skipped by their tracking records."""
        client = self._client
        if client is None:
            return
        try:
            assigned = client.assignment()
            wanted = set(partitions) if partitions is not None else assigned
            offsets = {}
            for (topic, partition), offset in self.applied.items():
                tp = TopicPartition(topic, partition)
                if tp in wanted and tp in assigned and self._committed.get(tp, -1) < offset:
                    offsets[tp] = offset
            self._last_commit = time.monotonic()
            if offsets:
                await client.commit(offsets)
                self._committed.update(offsets)
        except Exception as exc:
            log.info("offsets not committed now; the next commit covers them", error=repr(exc))

    def _start_span(self, inbound: Inbound) -> Span | None:
        if self.tracer is None:
            return None
        return tracing.start_process_span(
            self.tracer,
            self.topic_prefix + inbound.topic,
            {tracing.TRACEPARENT: inbound.traceparent} if inbound.traceparent else {},
            group=self.group_id,
            partition=inbound.partition,
            offset=inbound.offset,
        )

    @contextmanager
    def _traced(self, inbound: Inbound) -> Iterator[None]:
        """The message is processed in a span that continues its producer's trace (tracing off: the trace
        context is only passed on to the events saved)."""
        span = self._start_span(inbound)
        if span is None:
            token = context.traceparent.set(inbound.traceparent)
            try:
                yield
            finally:
                context.traceparent.reset(token)
            return
        with trace.use_span(span, end_on_exit=True):
            yield

    async def _apply_one(self, inbound: Inbound, record: Any, headers: dict[str, str]) -> None:
        with self._traced(inbound), context.bound(inbound.envelope.correlation_id, str(inbound.envelope.event_id)):
            outcome = await self._apply_with_retries(inbound)
            if isinstance(outcome, PoisonMessage):
                await self._dead_letter(self.specs[inbound.topic], record, headers, outcome.reason, outcome.error)
            else:
                metrics.CONSUMED.labels(self.service, inbound.topic, outcome).inc()

    async def _apply_chunk_with_retries(self, chunks: list[list[Inbound]]) -> bool:
        """Apply the messages of one or more partitions (one chunk each) in one transaction. False: not as a whole
        (the caller applies them chunk by chunk, or one by one)."""
        flat = [inbound for chunk in chunks for inbound in chunk]
        spans = [self._start_span(inbound) for inbound in flat]
        parents = iter(
            tracing.traceparent_of(span) if span is not None else inbound.traceparent
            for span, inbound in zip(spans, flat, strict=True)
        )
        try:
            return await self._apply_chunk_retrying(chunks, [[next(parents) for _ in chunk] for chunk in chunks])
        finally:
            for span in spans:
                if span is not None:
                    span.end()

    async def _apply_chunk_retrying(self, chunks: list[list[Inbound]], parents: list[list[str | None]]) -> bool:
        def on_retry(exc: BaseException, wait: float) -> None:
            log.warning("infrastructure unavailable, retrying", error=repr(exc), retry_in_s=round(wait, 2))
            metrics.CONSUMER_RETRIES.labels(self.service, chunks[0][0].topic).inc()

        try:
            async for attempt in self._outage_retries(on_retry):
                with attempt:
                    counts = await self.blocking.run(self._apply_chunks, chunks, parents)
        except Exception as exc:
            # A conflict inside the batch or a failing handler: isolate it chunk by chunk, message by message.
            size = sum(map(len, chunks))
            log.info("batch not applicable as a whole, applying it in parts", error=repr(exc), size=size)
            return False
        for chunk, (applied, duplicates) in zip(chunks, counts, strict=True):
            metrics.CONSUMED.labels(self.service, chunk[0].topic, "applied").inc(applied)
            metrics.CONSUMED.labels(self.service, chunk[0].topic, "duplicate").inc(duplicates)
        return True

    def _outage_retries(self, on_retry: OnRetry, retry_on: tuple[type[BaseException], ...] = TRANSIENT_ERRORS) -> Any:
        """The consumer's back-off (:mod:`kc_runtime.retrying`) over ``retry_on``, for as long as it takes."""
        return retrying(
            initial_s=self.backoff_initial_s, max_s=self.backoff_max_s, retry_on=retry_on, on_retry=on_retry
        )

    def _apply_chunk(self, chunk: list[Inbound], parents: Sequence[str | None] = ()) -> tuple[int, int]:
        """Runs in a worker thread. Returns (applied, duplicates). ``parents``: the traceparent per message."""
        return self._apply_chunks([chunk], [list(parents) or [None] * len(chunk)])[0]

    def _apply_chunks(
        self, chunks: Sequence[list[Inbound]], parents: Sequence[Sequence[str | None]]
    ) -> list[tuple[int, int]]:
        """Runs in a worker thread: the chunks (each one partition's messages of a batch spec) in one transaction
        with a tracking record per chunk. Returns (applied, duplicates) per chunk."""
        trackings: list[Tracking] = []
        todo: list[tuple[Inbound, str | None]] = []
        counts: list[tuple[int, int]] = []
        for chunk, chunk_parents in zip(chunks, parents, strict=True):
            name = chunk[0].tracking.application_name
            last = self.positions.get(name)
            if last is None:
                last = self.app.max_tracking_id(name) or 0
            new = 0
            for inbound, parent in zip(chunk, chunk_parents, strict=True):
                if inbound.envelope.source_notification_id > last:
                    todo.append((inbound, parent))
                    last = inbound.envelope.source_notification_id
                    new += 1
            if new:
                trackings.append(Tracking(application_name=name, notification_id=last))
            counts.append((new, len(chunk) - new))
        if not todo:
            return counts
        events: list[Any] = []
        token = _PRELOADED.set(self._preload([i for i, _ in todo]))
        try:
            for inbound, parent in todo:
                meta = {
                    "correlation_id": inbound.envelope.correlation_id,
                    "causation_id": str(inbound.envelope.event_id),
                }
                if parent:
                    meta["traceparent"] = parent
                for aggregate in self.specs[inbound.topic].handlers[type(inbound.message)](inbound):
                    for event in aggregate.collect_events():
                        stamp_metadata(event, meta)
                        events.append(event)
        finally:
            _PRELOADED.reset(token)
        try:
            if len(trackings) == 1:
                self.app.save_tracked(trackings[0], *events)
            else:
                self.app.save_tracked_many(trackings, *events)
        except IntegrityError:
            for tracking in trackings:
                self.positions.drop(tracking.application_name)
            if all(self._already_applied(tracking) for tracking in trackings):
                return [(0, len(chunk)) for chunk in chunks]
            raise
        for tracking in trackings:
            self.positions.saved(tracking.application_name, tracking.notification_id)
        return counts

    def _preload(self, inbounds: list[Inbound]) -> dict[Any, Any] | None:
        """Each spec's bulk read of what its messages' handlers will load (one object per key for all of them)."""
        by_topic: dict[str, list[Inbound]] = {}
        for inbound in inbounds:
            by_topic.setdefault(inbound.topic, []).append(inbound)
        loaded: dict[Any, Any] = {}
        for topic, batch in by_topic.items():
            preload = self.specs[topic].preload
            if preload is not None:
                for key, value in preload(batch).items():
                    loaded.setdefault(key, value)
        return loaded or None

    def _validate(
        self, spec: ConsumerSpec, body: bytes, headers: dict[str, str], partition: int, offset: int
    ) -> Inbound | None:
        try:
            envelope = Envelope.from_headers(headers)
        except ValidationError as exc:
            raise PoisonMessage("invalid_envelope", _short(exc)) from exc
        message_type = spec.topic.message_type(envelope.event_type)
        if message_type is None or message_type not in spec.handlers:
            return None
        try:
            message = message_type.model_validate_json(body)
        except ValidationError as exc:
            raise PoisonMessage("invalid_message", _short(exc)) from exc
        return Inbound(message, envelope, spec.topic.name, partition, offset, headers.get(tracing.TRACEPARENT))

    async def _apply_with_retries(self, inbound: Inbound) -> str | PoisonMessage:
        failures = 0  # of the handler; an outage is not the message's fault and is waited out however long
        conflicts = 0  # lost to a concurrent change of the same aggregate (see max_conflicts)

        def given_up(state: RetryCallState) -> bool:
            nonlocal failures, conflicts
            error = state.outcome.exception() if state.outcome is not None else None
            if isinstance(error, ConcurrentChange):
                conflicts += 1
            elif error is not None and not isinstance(error, TRANSIENT_ERRORS):
                failures += 1
            return failures >= self.max_attempts or conflicts >= self.max_conflicts

        def on_retry(exc: BaseException, wait: float) -> None:
            if isinstance(exc, TRANSIENT_ERRORS):
                log.warning("infrastructure unavailable, retrying", error=repr(exc), retry_in_s=round(wait, 2))
            elif isinstance(exc, ConcurrentChange):
                log.info("changed concurrently, applying again", error=repr(exc), conflicts=conflicts,
                         retry_in_s=round(wait, 2))  # fmt: skip
            else:
                log.warning("handler failed, retrying", error=repr(exc), attempt=failures, retry_in_s=round(wait, 2))
            metrics.CONSUMER_RETRIES.labels(self.service, inbound.topic).inc()

        try:
            async for attempt in retrying(
                initial_s=self.backoff_initial_s, max_s=self.backoff_max_s, on_retry=on_retry, stop=given_up
            ):
                with attempt:
                    return await self.blocking.run(self._apply, inbound)
        except Exception as exc:
            log.error("message keeps failing, dead-lettering", error=repr(exc), attempts=failures, conflicts=conflicts)
            return PoisonMessage("handler_failed", repr(exc)[:2000])
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _apply(self, inbound: Inbound) -> str:
        """Runs in a worker thread. Returns ``applied`` or ``duplicate``."""
        tracking = inbound.tracking
        name = tracking.application_name
        known = self.positions.get(name)
        if (known is not None and known >= tracking.notification_id) or (
            known is None and self._already_applied(tracking)
        ):
            log.info("duplicate skipped", tracking=name, id=tracking.notification_id)
            return "duplicate"
        handler = self.specs[inbound.topic].handlers[type(inbound.message)]
        aggregates = handler(inbound)
        try:
            self.app.save_tracked(tracking, *aggregates)
        except IntegrityError as exc:
            self.positions.drop(name)
            if self._already_applied(tracking):
                log.info("duplicate skipped", tracking=name, id=tracking.notification_id)
                return "duplicate"
            raise ConcurrentChange(str(exc)) from exc  # retried: the handler reloads and decides again
        self.positions.saved(name, tracking.notification_id)
        return "applied"

    def _already_applied(self, tracking: Tracking) -> bool:
        last = self.app.max_tracking_id(tracking.application_name)
        return last is not None and last >= tracking.notification_id

    async def _dead_letter(
        self, spec: ConsumerSpec, raw: Any, headers: dict[str, str], reason: str, error: str
    ) -> None:
        topic = spec.topic
        dlt_headers = {
            **headers,
            Headers.DLT_REASON: reason,
            Headers.DLT_ERROR: error[:2000],
            Headers.DLT_ORIGINAL_TOPIC: topic.name,
            Headers.DLT_ORIGINAL_PARTITION: str(getattr(raw, "partition", "")),
            Headers.DLT_ORIGINAL_OFFSET: str(getattr(raw, "offset", "")),
            Headers.DLT_CONSUMER_GROUP: self.group_id,
        }

        def on_retry(exc: BaseException, wait: float) -> None:
            log.warning("dead-letter publish failed, retrying", error=repr(exc), retry_in_s=round(wait, 2))

        async for attempt in self._outage_retries(on_retry, retry_on=(Exception,)):
            with attempt:
                await self.broker.publish(
                    raw.value, topic=self.topic_prefix + topic.dlt, key=getattr(raw, "key", None), headers=dlt_headers
                )
        metrics.DEAD_LETTERED.labels(self.service, topic.name, reason).inc()
        self.dead_lettered += 1
        log.error(
            "message dead-lettered",
            reason=reason,
            error=error[:500],
            topic=topic.name,
            partition=getattr(raw, "partition", None),
            offset=getattr(raw, "offset", None),
        )


def _short(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_input=False))[:2000]
