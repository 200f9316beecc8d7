"""Mails go over real SMTP (the SMTP sink of the local stack) exactly once per event and recipient."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from uuid import uuid4

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from contracts import Envelope
from contracts.topics import REGISTRATION_REGISTRATIONS
from tests.conftest import eventually
from tests.integration.conftest import service_env
from tests.support.infra import KAFKA, ServiceProcess, random_suffix
from tests.support.messages import registration_completed

pytestmark = pytest.mark.integration

SMTP_SINK = "http://127.0.0.1:8113"


def headers_for(message, event_id, notification_id: int) -> list[tuple[str, bytes]]:
    env = Envelope(
        event_id=event_id,
        event_type=message.event_type,
        schema_version=1,
        occurred_at=datetime.now(UTC),
        correlation_id="mail-test",
        causation_id="mail-test",
        producer="registration",
        source_notification_id=notification_id,
    )
    return [(k, v.encode()) for k, v in env.to_headers().items()]


async def messages_to(address: str) -> list[dict]:
    async with httpx.AsyncClient(base_url=SMTP_SINK, timeout=10) as sink:
        response = await sink.get("/messages", params={"to": address})
        response.raise_for_status()
        return response.json()


async def test_a_redelivered_and_a_republished_event_send_one_mail(database, topic_prefix, processes):
    dsn = await database("notifications")
    service = ServiceProcess(
        "notifications",
        "NOTIFICATIONS_",
        service_env(dsn, topic_prefix, CONSUMER_GROUP=f"it-notifications-{random_suffix()}", SMTP_PORT="2525"),
        name="notifications",
    )
    processes.append(service.start())
    await asyncio.to_thread(service.wait_ready)

    address = f"welcome-{random_suffix()}@example.com"
    message = registration_completed(email=address, language="en")
    event_id = uuid4()
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, enable_idempotence=True)
    await producer.start()
    try:
        body = message.model_dump_json().encode()
        key = message.company.customer_number.encode()
        topic = topic_prefix + REGISTRATION_REGISTRATIONS.name
        await producer.send_and_wait(topic, body, key=key, headers=headers_for(message, event_id, 41))
        await producer.send_and_wait(topic, body, key=key, headers=headers_for(message, event_id, 41))
    finally:
        await producer.stop()

    received = await eventually(lambda: messages_to(address), what="the welcome mail at the SMTP sink")
    await eventually(
        lambda: asyncio.to_thread(service.metric, "kc_consumer_messages_total", outcome="duplicate"),
        what="the second copy to be recognised",
    )
    received = await messages_to(address)
    assert len(received) == 1
    assert received[0]["subject"].startswith("Your customer center")
    assert received[0]["headers"]["Message-ID"].endswith("@kundencenter.invalid>")
