"""A service's dead letters: reading its dead-letter topics, and retrying each record once.

The idempotent consumer (:mod:`kc_runtime.consumer`) copies a message it gave up on to ``<topic>.dlt`` with the
reason headers (``Headers.DLT_*``), its consumer group among them. Every group consuming a topic shares its
dead-letter topic, so a service's dead letters are the records of the dead-letter topics of what it consumes
(:func:`consumed_dead_letter_topics`) that its own group left there (:meth:`DeadLetter.left_by`); a service may
own other dead-letter topics whole (erp-sync: those of the ERP-facing topics it writes) and says so itself.

Reading (:func:`read_dead_letters`) uses no consumer group: an operator's view of every record, from the start.
A retry (:func:`retry_each_once`) hands each record to the service's handler once: a tracking record per
dead-letter topic partition (:attr:`DeadLetter.tracking`) is saved with the record's effects, so a retry run
again, or done again after a crash, passes over what was done.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from eventsourcing.persistence import Tracking

from contracts import Headers
from contracts.topics import DLT_SUFFIX, TOPICS, Topic
from kc_runtime.eventstore import ServiceApplication, WorkerPool
from kc_runtime.kafka import decode_headers

log = structlog.get_logger("kc.dead_letters")

DLT_HEADERS = frozenset(
    {
        Headers.DLT_REASON,
        Headers.DLT_ERROR,
        Headers.DLT_ORIGINAL_TOPIC,
        Headers.DLT_ORIGINAL_PARTITION,
        Headers.DLT_ORIGINAL_OFFSET,
        Headers.DLT_CONSUMER_GROUP,
    }
)
"""The headers a dead-letter topic's record has on top of the message's own."""


@dataclass(frozen=True)
class DeadLetter:
    """One record of a dead-letter topic."""

    topic: str
    """The dead-letter topic (without the topic prefix)."""
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, str]
    timestamp_ms: int

    @property
    def original_topic(self) -> str:
        return self.headers.get(Headers.DLT_ORIGINAL_TOPIC) or self.topic.removesuffix(DLT_SUFFIX)

    @property
    def consumer_group(self) -> str | None:
        return self.headers.get(Headers.DLT_CONSUMER_GROUP)

    @property
    def original_headers(self) -> dict[str, str]:
        """The headers the message had before it was dead-lettered (its envelope)."""
        return {k: v for k, v in self.headers.items() if k not in DLT_HEADERS}

    @property
    def idempotency_key(self) -> str | None:
        """The ``idempotency_key`` of the message's body, if it is a JSON object with one (the contracts of
        messages to an outside system carry one: the ERP's)."""
        try:
            body = json.loads(self.value)
        except ValueError:
            return None
        key = body.get("idempotency_key") if isinstance(body, dict) else None
        return key if isinstance(key, str) else None

    @property
    def tracking(self) -> Tracking:
        """The tracking record a retry saves with the record's effects: one position per dead-letter partition."""
        return Tracking(f"dead-letters/{self.topic}/{self.partition}", self.offset + 1)

    def left_by(self, group_id: str) -> bool:
        """Whether the consumer group ``group_id`` dead-lettered it."""
        return self.consumer_group == group_id

    def describe(self) -> dict[str, Any]:
        """What an operator sees of it (the value and the other headers left out)."""
        return {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "original_topic": self.original_topic,
            "reason": self.headers.get(Headers.DLT_REASON),
            "error": self.headers.get(Headers.DLT_ERROR),
            "consumer_group": self.consumer_group,
            "event_type": self.headers.get(Headers.EVENT_TYPE),
            "key": self.key.decode(errors="replace") if self.key else None,
            "idempotency_key": self.idempotency_key,
            "timestamp_ms": self.timestamp_ms,
        }


def consumed_dead_letter_topics(service: str) -> dict[str, Topic]:
    """Dead-letter topic name → the topic it holds dead letters of, for every topic ``service`` consumes."""
    return {t.dlt: t for t in TOPICS if service in t.consumers}


async def read_dead_letters(
    client: dict[str, Any], topics: list[str], prefix: str = "", timeout_s: float = 20.0
) -> list[DeadLetter]:
    """Every record of the named dead-letter topics, oldest first per partition (missing topics: none).

    ``client``: the connection options of the service's settings (:func:`kc_runtime.kafka.client_options`:
    bootstrap servers, TLS, SASL), so an authenticated listener reads as the service's own clients do.
    """
    admin = AIOKafkaAdminClient(**client, request_timeout_ms=15_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        names = [prefix + name for name in topics if prefix + name in existing]
        described = await admin.describe_topics(names) if names else []
    finally:
        await admin.close()
    partitions = [TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]]
    if not partitions:
        return []
    consumer = AIOKafkaConsumer(
        **client, enable_auto_commit=False, auto_offset_reset="earliest", request_timeout_ms=15_000
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if end[tp] > 0}
        out: list[DeadLetter] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while remaining:
            if loop.time() > deadline:
                raise TimeoutError(f"could not read the dead-letter topics to their end within {timeout_s}s")
            for tp, records in (await consumer.getmany(*remaining, timeout_ms=200)).items():
                for r in records:
                    if r.offset < end[tp]:
                        out.append(
                            DeadLetter(
                                topic=r.topic.removeprefix(prefix),
                                partition=r.partition,
                                offset=r.offset,
                                key=r.key,
                                value=r.value or b"",
                                headers=decode_headers(r),
                                timestamp_ms=r.timestamp,
                            )
                        )
                if records and records[-1].offset + 1 >= end[tp]:
                    remaining.discard(tp)
        out.sort(key=lambda d: (d.topic, d.partition, d.offset))
        return out
    finally:
        await consumer.stop()


# ---- retry -----------------------------------------------------------------------------------------------------

RetryHandler = Callable[[DeadLetter], Awaitable[str]]
"""Handles one dead letter: saves :attr:`DeadLetter.tracking` with the record's effects, in one transaction, and
says what it did (an outcome the retry counts). An exception leaves the record for a later retry."""

DONE_BEFORE = "done_before"
NOT_OURS = "not_ours"


@dataclass
class Retried:
    """What a retry did: per outcome how many records, and the records that failed again."""

    counts: dict[str, int]
    stopped: list[dict[str, Any]] = field(default_factory=list)
    """Each record that failed again (:meth:`DeadLetter.describe` and ``retry_error``): its partition waits
    behind it, nothing after it is handled in this run."""

    def as_dict(self) -> dict[str, Any]:
        return {**self.counts, "stopped": self.stopped}


async def retry_each_once(
    app: ServiceApplication,
    blocking: WorkerPool,
    letters: Iterable[DeadLetter],
    handle: RetryHandler,
    *,
    covers: Callable[[DeadLetter], bool],
    outcomes: Iterable[str] = (),
) -> Retried:
    """Hand each of ``letters`` (in partition order) that ``covers`` takes to ``handle``, once.

    A record whose tracking position is saved already is ``done_before``; a record ``covers`` leaves out (another
    service's, in a shared dead-letter topic) is ``not_ours``, its position saved so that it is passed over for
    good. A record ``handle`` fails on stops its partition for this run (nothing is skipped: the next run starts
    there again); the other partitions go on. ``outcomes``: what ``handle`` may answer, counted from 0.
    """
    done = Retried(dict.fromkeys((*outcomes, DONE_BEFORE, NOT_OURS), 0))
    stopped: set[tuple[str, int]] = set()
    for letter in letters:
        if (letter.topic, letter.partition) in stopped:
            continue
        try:
            outcome = await _retry_one(app, blocking, letter, handle, covers)
        except Exception as exc:
            log.warning("dead letter failed again", topic=letter.topic, offset=letter.offset, error=repr(exc))
            stopped.add((letter.topic, letter.partition))
            done.stopped.append({**letter.describe(), "retry_error": repr(exc)[:500]})
            continue
        done.counts[outcome] = done.counts.get(outcome, 0) + 1
    return done


async def _retry_one(
    app: ServiceApplication,
    blocking: WorkerPool,
    letter: DeadLetter,
    handle: RetryHandler,
    covers: Callable[[DeadLetter], bool],
) -> str:
    tracking = letter.tracking
    if (await blocking.run(app.max_tracking_id, tracking.application_name) or 0) >= tracking.notification_id:
        return DONE_BEFORE
    if not covers(letter):
        await blocking.run(app.save_tracked, tracking)
        return NOT_OURS
    return await handle(letter)
