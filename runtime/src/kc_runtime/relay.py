"""The outbox relay: the event store's notification log → Kafka.

A :class:`~kc_runtime.follower.LogFollower`: one active relay per service. It translates domain events into
contract messages, publishes them keyed by aggregate (or company) id with the idempotent producer, waits for
every acknowledgement, and only then lets the follower store its position. A crash between publishing and
storing republishes the same messages with the same event ids and source notification ids, which consumers
recognise as duplicates.

An event whose message cannot be built (translation or validation fails) is parked, not retried forever: see
:mod:`kc_runtime.parking`. A broker outage is retried and never parks.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka.errors import MessageSizeTooLargeError
from faststream.kafka import KafkaBroker
from opentelemetry.trace import Span, StatusCode, Tracer

from contracts import Envelope, Message
from contracts.topics import Topic
from kc_runtime import metrics, tracing
from kc_runtime.eventstore import ServiceApplication, WorkerPool
from kc_runtime.faults import failpoint
from kc_runtime.follower import Batch, LogFollower
from kc_runtime.parking import Outage
from kc_runtime.sealed_messages import seal_body

EVENT_ID_NAMESPACE = uuid.UUID("6f1d3c1e-6b59-4c8e-9b8a-3f0f5d1e2a10")


@dataclass(frozen=True)
class Outgoing:
    """One contract message to publish for a domain event."""

    topic: Topic
    key: str
    message: Message


Translator = Callable[[Any], Sequence[Outgoing]]
"""Maps one domain event to the contract messages it produces (often none, at most one per topic)."""


class OutboxRelay(LogFollower):
    kind = "relay"

    def __init__(
        self,
        *,
        service: str,
        app: ServiceApplication,
        broker: KafkaBroker,
        translate: Translator,
        dsn: str,
        blocking: WorkerPool,
        batch_size: int = 500,
        idle_interval_s: float = 5.0,
        topic_prefix: str = "",
        tracer: Tracer | None = None,
    ) -> None:
        super().__init__(
            service=service,
            app=app,
            dsn=dsn,
            blocking=blocking,
            batch_size=batch_size,
            idle_interval_s=idle_interval_s,
            name=f"{service}:{app.name}",
        )
        self.broker = broker
        self.translate = translate
        self.topic_prefix = topic_prefix
        self.tracer = tracer
        self.moved: list[Callable[[], None]] = []
        """Called at every step of the relay's position (e.g. to wake requests waiting for their publication)."""

    async def process(self, batch: Batch) -> None:
        # Translation runs in a worker thread: a translator may read the event store (e.g. the aggregate at
        # the event's version) for what the wire message needs and the event does not carry.
        await self._publish(await self.blocking.run(self.prepare, batch))

    async def process_retried(self, entry: Any, request: Any) -> None:
        # A parked event published after later ones: it carries the retry request's notification id, above all
        # the relay has published so far, or consumers (deduplicating by the highest id per partition) would
        # take it for a duplicate. Its event id stays the original's.
        await self._publish(await self.blocking.run(self.prepare, [entry], request[0].id))

    async def _publish(self, prepared: list[tuple[str, bytes, bytes, dict[str, str]]]) -> None:
        futures = []
        spans: list[Span] = []
        try:
            for topic, key, body, headers in prepared:
                # The message continues the trace of the work that stored its event: in a producer span, a
                # child of the stored traceparent (tracing off: that traceparent is passed on as it is).
                if self.tracer is not None:
                    span = tracing.start_publish_span(
                        self.tracer, self.topic_prefix + topic, headers.get(tracing.TRACEPARENT)
                    )
                    spans.append(span)
                    tracing.inject(headers, span, None)
                fut = await self.broker.publish(
                    body, topic=self.topic_prefix + topic, key=key, headers=headers, no_confirm=True
                )
                futures.append((topic, fut))
            # Every message must be acknowledged (acks=all) before the position moves.
            for topic, fut in futures:
                if asyncio.isfuture(fut):
                    await fut
                metrics.RELAY_PUBLISHED.labels(self.service, topic).inc()
        except BaseException as exc:
            for span in spans:
                span.set_status(StatusCode.ERROR, repr(exc)[:200])
            if isinstance(exc, Exception) and not isinstance(exc, MessageSizeTooLargeError):
                # Only a message too large for the broker is the event's fault; anything else of the broker
                # (away, no leader, closed producer, timeouts) is waited out and never parks.
                raise Outage(f"publishing failed: {exc!r}"[:300]) from exc
            raise
        finally:
            for span in spans:
                span.end()
        failpoint("relay.after_publish")

    def prepare(
        self, batch: Batch, source_notification_id: int | None = None
    ) -> list[tuple[str, bytes, bytes, dict[str, str]]]:
        """The messages the relay publishes for ``batch`` — (topic, key, body, headers), the event ids derived from
        the stored events — exactly as it publishes them, and as a replay republishes them (blocking: the
        translator may read the event store)."""
        prepared = []
        for notification, event, meta in batch:
            seen_topics: set[str] = set()
            for out in self.translate(event):
                if out.topic.name in seen_topics:
                    raise ValueError(f"two messages for one event on {out.topic.name}: consumers would drop one")
                seen_topics.add(out.topic.name)
                fallback = str(notification.originator_id)
                envelope = Envelope(
                    event_id=uuid.uuid5(
                        EVENT_ID_NAMESPACE,
                        f"{self.service}/{notification.originator_id}/{notification.originator_version}/{out.topic.name}",
                    ),
                    event_type=out.message.event_type,
                    schema_version=out.message.schema_version,
                    occurred_at=event.timestamp,
                    correlation_id=meta.get("correlation_id") or fallback,
                    causation_id=meta.get("causation_id") or meta.get("correlation_id") or fallback,
                    producer=self.service,
                    source_notification_id=source_notification_id or notification.id,
                )
                headers = envelope.to_headers()
                tracing.inject(headers, None, meta.get("traceparent"))  # the stored trace context
                # personal fields sealed with their owners' keys (ADR 0035 decision 6; a key may be fetched here)
                body = seal_body(out.message, self.app.key_ring)
                prepared.append((out.topic.name, out.key.encode(), body, headers))
        return prepared

    def on_active(self, active: bool) -> None:
        metrics.RELAY_ACTIVE.labels(self.service).set(1 if active else 0)

    def on_position(self, position: int, top: int) -> None:
        metrics.RELAY_POSITION.labels(self.service).set(position)
        metrics.RELAY_LAG.labels(self.service).set(max(0, top - position))
        for listener in self.moved:
            listener()
