"""Publishes what the simulated ERP sends (its outbox table), in id order, with the header envelope.

The outbox id is the ``kc-source-notification-id``; the producer is ``erp-simulator/<database instance>``. A
crash between publishing and marking a row publishes it again with the same ids, which consumers skip.

Every path that queues a message wakes the publisher (:meth:`OutboxPublisher.wake`); ``poll_interval_s`` is only a
safety net, so an idle simulator does not ask its database several times a second.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable

import asyncpg
import structlog
from faststream.kafka import KafkaBroker

from contracts.envelope import Envelope
from kc_runtime.retrying import retrying
from standins.erp_simulator import db

log = structlog.get_logger("standins.erp_simulator")

EVENT_ID_NAMESPACE = uuid.UUID("0b6f7c8e-3d0a-4c55-9f63-0d3f5a6c2e71")


class OutboxPublisher:
    def __init__(
        self,
        broker: KafkaBroker,
        topic_prefix: str = "",
        poll_interval_s: float = 5.0,
        retry_max_s: float = 5.0,
        sending: Callable[[], bool] = lambda: True,
        retry_initial_s: float = 0.2,
    ) -> None:
        self.broker = broker
        self.topic_prefix = topic_prefix
        self.poll_interval_s = poll_interval_s
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self.sending = sending
        """False while the simulated ERP is paused: it neither consumes nor answers."""
        self.pool: asyncpg.Pool | None = None
        self.producer = "erp-simulator"
        self.wakeup = asyncio.Event()
        self.published = 0

    def wake(self) -> None:
        self.wakeup.set()

    async def run(self, stopping: asyncio.Event) -> None:
        """Publish until ``stopping`` is set. Broker or database away: try again later (ADR 0029), nothing is lost;
        the back-off starts afresh after a batch that published something."""

        def on_retry(exc: BaseException, wait: float) -> None:
            log.warning("publishing the outbox failed, retrying", error=repr(exc), retry_in_s=round(wait, 2))

        async def pause(seconds: float) -> None:  # ends early when stopping
            await _wait(stopping, seconds)

        while not stopping.is_set():
            async for attempt in retrying(
                initial_s=self.retry_initial_s, max_s=self.retry_max_s, on_retry=on_retry, sleep=pause
            ):
                with attempt:
                    await self._publish_next(stopping)

    async def _publish_next(self, stopping: asyncio.Event) -> None:
        """Return after a batch that published something, or when stopping; wait for a wake-up in between."""
        while not stopping.is_set():
            # Cleared before reading: a message queued while a batch is published wakes the next wait at once.
            self.wakeup.clear()
            if self.pool is not None and self.sending() and await self.publish_batch() > 0:
                return
            await _wait_any(stopping, self.wakeup, self.poll_interval_s)

    async def publish_batch(self, limit: int = 100) -> int:
        assert self.pool is not None
        rows = await db.unpublished(self.pool, limit)
        pending = []
        for row in rows:
            outbox_id = int(row["id"])
            envelope = Envelope(
                event_id=uuid.uuid5(EVENT_ID_NAMESPACE, f"{self.producer}/{outbox_id}"),
                event_type=row["event_type"],
                schema_version=row["schema_version"],
                occurred_at=row["created_at"],
                correlation_id=row["correlation_id"] or str(uuid.uuid5(EVENT_ID_NAMESPACE, str(outbox_id))),
                causation_id=row["causation_id"] or row["correlation_id"] or str(outbox_id),
                producer=self.producer,
                source_notification_id=outbox_id,
            )
            # pipelined (the idempotent producer keeps each partition's order); every one acknowledged below
            pending.append(
                await self.broker.publish(
                    json.dumps(row["payload"]).encode(),
                    topic=self.topic_prefix + row["topic"],
                    key=str(row["key"]).encode(),
                    headers=envelope.to_headers(),
                    no_confirm=True,
                )
            )
        for fut in pending:
            if asyncio.isfuture(fut):
                await fut
        if rows:
            await db.mark_published(self.pool, [int(r["id"]) for r in rows])
            self.published += len(rows)
            log.info("sent", messages=len(rows), last_id=int(rows[-1]["id"]))
        return len(rows)


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
