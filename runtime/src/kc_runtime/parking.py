"""Parking: one bad event stops only its own aggregate, never a whole follower.

A follower of the notification log (the outbox relay, a projector, the mail dispatcher) that fails on an event for
a reason of the event's own content — its outgoing message cannot be built, a value breaks a contract limit, a
projection cannot apply it — *parks* it: the event is recorded in ``kc_parked_event`` with its reason, counted in
``kc_parked_events_total`` and skipped. Later events of the same aggregate are parked behind it (``blocked_by``), so
the aggregate's order is kept; every other aggregate flows on. An infrastructure failure (database or broker away,
a timeout) is never a reason to park: the batch is retried as before.

A retry is an event: ``POST /ops/parked/retry`` stores one :class:`ParkedRetry` per parked event of the aggregate.
When the follower reaches such an event in the log it handles the oldest parked event of that aggregate again. The
relay publishes it then with the retry event's notification id as its source notification id: consumers deduplicate
by the highest source notification id seen per partition, so the message must carry an id above everything the
relay published on that partition in the meantime, and a crash after publishing republishes the same ids (a
duplicate, skipped) — published exactly once.
"""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import aiokafka.errors
import asyncpg
import psycopg
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import PersistenceError
from pydantic import ValidationError

PARKED_TABLE = "kc_parked_event"
PARKED_TABLE_DDL = (
    "CREATE TABLE IF NOT EXISTS kc_parked_event ("
    " follower text NOT NULL, notification_id bigint NOT NULL, aggregate_id text NOT NULL,"
    " aggregate_version bigint NOT NULL, event_type text NOT NULL, reason text NOT NULL,"
    " blocked_by bigint, attempts integer NOT NULL DEFAULT 1,"
    " parked_at timestamptz NOT NULL DEFAULT now(), last_attempt_at timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (follower, notification_id))"
)


class Outage(Exception):
    """Raised (from the original error) where a failure can only be the machinery's, e.g. a publish to Kafka."""


# Failures of the machinery, not of the event: retried, never parked.
INFRASTRUCTURE: tuple[type[BaseException], ...] = (
    Outage,
    OSError,  # ConnectionError, socket errors, SMTP errors
    TimeoutError,
    asyncio.TimeoutError,
    PersistenceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    aiokafka.errors.KafkaConnectionError,
    aiokafka.errors.KafkaTimeoutError,
    aiokafka.errors.NodeNotReadyError,
    aiokafka.errors.RequestTimedOutError,
    aiokafka.errors.NotLeaderForPartitionError,
    aiokafka.errors.LeaderNotAvailableError,
    aiokafka.errors.NotEnoughReplicasError,
    aiokafka.errors.NotEnoughReplicasAfterAppendError,
    aiokafka.errors.ProducerClosed,
)


def is_infrastructure(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) is an outage to wait out rather than a fault of the event."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, INFRASTRUCTURE) or getattr(seen, "retriable", False):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def describe(exc: BaseException) -> str:
    """The reason recorded for a parked event: what failed and where, without the offending values (personal data
    such as an e-mail address stays out of the operator list and the logs)."""
    if isinstance(exc, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())) or '(message)'}: {e.get('type')}: {e.get('msg')}"
            for e in exc.errors(include_url=False, include_input=False, include_context=True)[:10]
        )
        return f"{exc.title}: {problems}"[:1000]
    return f"{type(exc).__name__}: {exc}"[:1000]


class ParkedRetry(Aggregate):
    """An operator's request to handle the oldest parked event of one aggregate again (one per parked event).

    Stored in the service's own log so that the follower meets it in order, after everything stored before it."""

    class Requested(Aggregate.Created):
        follower: str
        aggregate_id: str

    @event(Requested)
    def __init__(self, follower: str, aggregate_id: str) -> None:
        self.follower = follower
        self.aggregate_id = aggregate_id


def retry_requests(follower: str, aggregate_id: UUID | str, count: int) -> list[ParkedRetry]:
    return [ParkedRetry(follower=follower, aggregate_id=str(aggregate_id)) for _ in range(count)]


def event_type(event: Any) -> str:
    return type(event).__qualname__
