"""The ERP simulator's readiness asks the cluster for its topics until all were there once, then no more: the
question waits behind the consumer's held fetch, which made every probe take seconds."""

from __future__ import annotations

from typing import Any

from faststream.kafka import KafkaBroker

from standins.erp_simulator.consumer import ErpConsumer


class Consumer:
    def __init__(self, topics: set[str]) -> None:
        self.existing = topics
        self.asked = 0

    async def topics(self) -> set[str]:
        self.asked += 1
        return self.existing


class Subscriber:
    def __init__(self, consumer: Consumer) -> None:
        self.consumer = consumer


def erp_consumer(existing: set[str] | None = None) -> tuple[ErpConsumer, Consumer]:
    consumer = ErpConsumer(KafkaBroker("127.0.0.1:1"), group_id="erp")
    kafka = Consumer(set(consumer.topic_names) if existing is None else existing)
    subscribers: list[Any] = [Subscriber(kafka)]
    consumer.subscribers = subscribers
    return consumer, kafka


async def test_once_every_topic_was_there_readiness_asks_no_more():
    consumer, kafka = erp_consumer()
    assert await consumer.missing_topics() == []
    assert await consumer.missing_topics() == []
    assert kafka.asked == 1


async def test_a_missing_topic_is_asked_for_again_until_it_is_there():
    consumer, kafka = erp_consumer(existing=set())
    assert await consumer.missing_topics() == consumer.topic_names
    kafka.existing = set(consumer.topic_names)
    assert await consumer.missing_topics() == []
    assert await consumer.missing_topics() == []
    assert kafka.asked == 2
