"""The outbox relay: the event store's notification log → Kafka.

One active relay per service (a PostgreSQL advisory lock; other replicas stand by). It reads the
notification log in order, translates domain events into contract messages, publishes them keyed by
aggregate (or company) id with the idempotent producer, waits for every acknowledgement, and only then
stores its position. A crash between publishing and storing republishes the same messages with the same
event ids and source notification ids, which consumers recognise as duplicates.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog
from faststream.kafka import KafkaBroker

from contracts import Envelope, Message
from contracts.topics import Topic
from kc_runtime import metrics
from kc_runtime.eventstore import Blocking, ServiceApplication
from kc_runtime.faults import failpoint

log = structlog.get_logger("kc.relay")

EVENT_ID_NAMESPACE = uuid.UUID("6f1d3c1e-6b59-4c8e-9b8a-3f0f5d1e2a10")


@dataclass(frozen=True)
class Outgoing:
    """One contract message to publish for a domain event."""

    topic: Topic
    key: str
    message: Message


Translator = Callable[[Any], Sequence[Outgoing]]
"""Maps one domain event to the contract messages it produces (often none, at most one per topic)."""


class OutboxRelay:
    def __init__(
        self,
        *,
        service: str,
        app: ServiceApplication,
        broker: KafkaBroker,
        translate: Translator,
        dsn: str,
        blocking: Blocking,
        batch_size: int = 500,
        idle_interval_s: float = 0.2,
        topic_prefix: str = "",
    ) -> None:
        self.topic_prefix = topic_prefix
        self.service = service
        self.app = app
        self.broker = broker
        self.translate = translate
        self.dsn = dsn
        self.blocking = blocking
        self.batch_size = batch_size
        self.idle_interval_s = idle_interval_s
        self.name = f"{service}:{app.name}"
        self.position = 0
        self.active = False
        self._wakeup = asyncio.Event()

    async def run(self, stopping: asyncio.Event) -> None:
        """Relay until ``stopping`` is set. Survives broker and database outages by retrying with backoff."""
        backoff = 0.5
        while not stopping.is_set():
            try:
                await self._run_locked(stopping)
                backoff = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._set_active(False)
                log.warning("relay interrupted, retrying", error=repr(exc), retry_in_s=backoff)
                await _wait(stopping, backoff)
                backoff = min(backoff * 2, 10.0)

    async def _run_locked(self, stopping: asyncio.Event) -> None:
        conn = await asyncpg.connect(self.dsn, timeout=10)
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS kc_relay_position ("
                " relay text PRIMARY KEY, position bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())"
            )
            while not stopping.is_set():
                if await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", "kc-relay:" + self.name):
                    break
                log.debug("another relay instance is active; standing by")
                await _wait(stopping, 2.0)
            else:
                return
            self._set_active(True)
            row = await conn.fetchval("SELECT position FROM kc_relay_position WHERE relay = $1", self.name)
            self.position = int(row or 0)
            log.info("relay active", position=self.position)
            table = self.app.events_table_name
            if table:
                await conn.add_listener(table.replace(".", "_"), lambda *_: self._wakeup.set())
            while not stopping.is_set():
                if conn.is_closed():
                    raise ConnectionError("relay lock connection lost")
                published = await self._relay_batch(conn)
                if published < self.batch_size:
                    self._wakeup.clear()
                    await _wait_any(stopping, self._wakeup, self.idle_interval_s)
        finally:
            self._set_active(False)
            await conn.close(timeout=5)

    async def _relay_batch(self, conn: asyncpg.Connection) -> int:
        batch = await self.blocking.run(self.app.notifications, self.position, self.batch_size)
        if not batch:
            top = await self.blocking.run(self.app.max_notification_id)
            metrics.RELAY_LAG.labels(self.service).set(max(0, top - self.position))
            return 0
        futures = []
        for notification, event, meta in batch:
            seen_topics: set[str] = set()
            for out in self.translate(event):
                if out.topic.name in seen_topics:
                    raise ValueError(f"two messages for one event on {out.topic.name}: consumers would drop one")
                seen_topics.add(out.topic.name)
                envelope = Envelope(
                    event_id=uuid.uuid5(
                        EVENT_ID_NAMESPACE,
                        f"{self.service}/{notification.originator_id}/{notification.originator_version}/{out.topic.name}",
                    ),
                    event_type=out.message.event_type,
                    schema_version=out.message.schema_version,
                    occurred_at=getattr(event, "timestamp"),  # noqa: B009
                    correlation_id=meta.get("correlation_id") or str(notification.originator_id),
                    causation_id=meta.get("causation_id")
                    or meta.get("correlation_id")
                    or str(notification.originator_id),
                    producer=self.service,
                    source_notification_id=notification.id,
                )
                fut = await self.broker.publish(
                    out.message.model_dump_json().encode(),
                    topic=self.topic_prefix + out.topic.name,
                    key=out.key.encode(),
                    headers=envelope.to_headers(),
                    no_confirm=True,
                )
                futures.append((out.topic.name, fut))
        # Every message must be acknowledged (acks=all) before the position moves.
        for topic, fut in futures:
            if asyncio.isfuture(fut):
                await fut
            metrics.RELAY_PUBLISHED.labels(self.service, topic).inc()
        failpoint("relay.after_publish")
        new_position = batch[-1][0].id
        await conn.execute(
            "INSERT INTO kc_relay_position (relay, position) VALUES ($1, $2)"
            " ON CONFLICT (relay) DO UPDATE SET position = EXCLUDED.position, updated_at = now()",
            self.name,
            new_position,
        )
        self.position = new_position
        metrics.RELAY_POSITION.labels(self.service).set(new_position)
        top = await self.blocking.run(self.app.max_notification_id)
        metrics.RELAY_LAG.labels(self.service).set(max(0, top - new_position))
        log.debug("relayed", count=len(batch), messages=len(futures), position=new_position)
        return len(batch)

    def _set_active(self, active: bool) -> None:
        self.active = active
        metrics.RELAY_ACTIVE.labels(self.service).set(1 if active else 0)


async def _wait(stopping: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stopping.wait(), timeout=seconds)
    except TimeoutError:
        pass


async def _wait_any(a: asyncio.Event, b: asyncio.Event, seconds: float) -> None:
    tasks = [asyncio.ensure_future(a.wait()), asyncio.ensure_future(b.wait())]
    try:
        await asyncio.wait(tasks, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
