"""Builders of contract messages for tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from aiokafka.structs import ConsumerRecord

from contracts import Envelope
from contracts.registration.v1 import CompanyMasterData, MainContact, RegistrationCompleted


def registration_completed(email: str | None = None, language: str = "de", customer_number: str | None = None):
    return RegistrationCompleted(
        registration_id=uuid4(),
        company_id=uuid4(),
        company=CompanyMasterData(customer_number=customer_number or str(uuid4().int)[:8], name="Muster GmbH"),
        main_contact=MainContact(
            email=email or f"main-{uuid4().hex[:8]}@example.com",
            first_name="Erika",
            last_name="Muster",
            language=language,
        ),
        completed_at=datetime.now(UTC),
    )


def consumer_record(
    message: Any,
    *,
    topic: str,
    key: str,
    notification_id: int = 1,
    producer: str = "test",
    offset: int = 0,
    partition: int = 0,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    correlation_id: str = "c-1",
) -> ConsumerRecord:
    """A Kafka record as our consumers receive it: the message (or a raw ``body``) with the header envelope of
    ``producer``'s event ``notification_id`` (or the given ``headers``)."""
    if headers is None:
        headers = Envelope(
            event_id=uuid4(),
            event_type=message.event_type,
            schema_version=getattr(message, "schema_version", 1),
            occurred_at=datetime.now(UTC),
            correlation_id=correlation_id,
            causation_id=correlation_id,
            producer=producer,
            source_notification_id=notification_id,
        ).to_headers()
    return ConsumerRecord(
        topic=topic,
        partition=partition,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=key.encode(),
        value=body if body is not None else message.model_dump_json().encode(),
        checksum=None,
        serialized_key_size=0,
        serialized_value_size=0,
        headers=[(k, v.encode()) for k, v in headers.items()],
    )
