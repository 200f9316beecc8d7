"""Reading the dead-letter topics of the ERP exchange (no consumer group: an operator's view, from the start).

In scope: the dead-letter topics of every topic erp-sync consumes (only the records erp-sync's own consumer group
left there), and those of the ERP-facing topics erp-sync writes (deliveries the ERP never answered, or messages
the ERP's integration could not process).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from contracts import Headers
from contracts.topics import DLT_SUFFIX, ERP_OUTBOUND_TOPICS, TOPICS, Topic
from kc_runtime.kafka import decode_headers

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


@dataclass(frozen=True)
class DeadLetter:
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
        try:
            body = json.loads(self.value)
        except ValueError:
            return None
        key = body.get("idempotency_key") if isinstance(body, dict) else None
        return key if isinstance(key, str) else None

    def describe(self) -> dict[str, Any]:
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


def dead_letter_scope(service: str) -> dict[str, Topic]:
    """Dead-letter topic name → the topic it holds dead letters of."""
    consumed = {t.dlt: t for t in TOPICS if service in t.consumers}
    outbound = {t.dlt: t for t in ERP_OUTBOUND_TOPICS}
    return {**consumed, **outbound}


def is_ours(letter: DeadLetter, group_id: str) -> bool:
    """Dead letters of erp-sync's consumer group, or of the ERP-facing topics erp-sync writes."""
    if any(letter.topic == t.dlt for t in ERP_OUTBOUND_TOPICS):
        return True
    return letter.consumer_group == group_id


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
