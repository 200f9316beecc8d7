"""An in-memory wire for service tests: what a relay would publish, delivered to an idempotent consumer.

Messages go through JSON and the header envelope exactly as on Kafka, so a test proves that what one side
writes, the other side reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiokafka.structs import ConsumerRecord

from contracts.topics import Topic
from kc_runtime.consumer import ConsumerSpec, IdempotentConsumer
from kc_runtime.eventstore import ServiceApplication, WorkerPool
from kc_runtime.relay import Outgoing, Translator
from tests.support.messages import consumer_record


@dataclass
class FakeBatch:
    raw_message: tuple
    acked: int = 0

    async def ack(self) -> None:
        self.acked += 1


class RecordingBroker:
    def __init__(self) -> None:
        self.published: list[tuple[str, bytes]] = []

    async def publish(self, body, topic, key=None, headers=None):
        self.published.append((topic, body))


@dataclass
class Published:
    topic: Topic
    key: str
    message: Any
    notification_id: int
    producer: str


@dataclass
class Outbox:
    """Reads a service's notification log through its translator, like the relay does."""

    app: ServiceApplication
    translate: Translator
    producer: str
    position: int = 0
    seen: list[Published] = field(default_factory=list)

    def drain(self) -> list[Published]:
        out: list[Published] = []
        for notification, event, _ in self.app.notifications(self.position, 10_000):
            for o in self.translate(event):
                out.append(self._published(o, notification.id))
            self.position = notification.id
        self.seen.extend(out)
        return out

    def _published(self, o: Outgoing, notification_id: int) -> Published:
        return Published(o.topic, o.key, o.message, notification_id, self.producer)

    def of_type(self, cls: type) -> list[Any]:
        self.drain()
        return [p.message for p in self.seen if isinstance(p.message, cls)]


def record(p: Published, offset: int = 0, body: bytes | None = None) -> ConsumerRecord:
    return consumer_record(
        p.message, topic=p.topic.name, key=p.key, notification_id=p.notification_id, producer=p.producer,
        offset=offset, body=body, correlation_id="test",
    )  # fmt: skip


class Inbox:
    """The idempotent consumers of one service, fed by hand."""

    def __init__(self, app: ServiceApplication, service: str, specs: list[ConsumerSpec]) -> None:
        self.broker = RecordingBroker()
        self.specs = {spec.topic.name: spec for spec in specs}
        self.consumers = {
            spec.topic.name: IdempotentConsumer(
                service=service,
                group_id=service,
                app=app,
                broker=self.broker,  # type: ignore[arg-type]
                blocking=WorkerPool(2),
                spec=spec,
                max_attempts=2,
                backoff_initial_s=0.01,
            )
            for spec in specs
        }

    async def deliver(self, *published: Published) -> None:
        for p in published:
            consumer = self.consumers.get(p.topic.name)
            if consumer is None:
                continue  # a topic this service does not consume
            spec = self.specs[p.topic.name]
            if spec.topic.message_type(p.message.event_type) not in spec.handlers:
                continue
            await consumer.handle(FakeBatch((record(p),)))

    @property
    def dead_letters(self) -> list[tuple[str, bytes]]:
        return self.broker.published


def published(topic: Topic, key: str, message: Any, notification_id: int, producer: str) -> Published:
    return Published(topic, key, message, notification_id, producer)
