"""The header envelope carried by every Kafka message."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict


class Headers:
    """Kafka header names. Values are UTF-8 strings."""

    EVENT_ID = "kc-event-id"
    EVENT_TYPE = "kc-event-type"
    SCHEMA_VERSION = "kc-schema-version"
    OCCURRED_AT = "kc-occurred-at"
    CORRELATION_ID = "kc-correlation-id"
    CAUSATION_ID = "kc-causation-id"
    PRODUCER = "kc-producer"
    SOURCE_NOTIFICATION_ID = "kc-source-notification-id"
    # Only on dead-letter copies:
    DLT_REASON = "kc-dlt-reason"
    DLT_ERROR = "kc-dlt-error"
    DLT_ORIGINAL_TOPIC = "kc-dlt-original-topic"
    DLT_ORIGINAL_PARTITION = "kc-dlt-original-partition"
    DLT_ORIGINAL_OFFSET = "kc-dlt-original-offset"
    DLT_CONSUMER_GROUP = "kc-dlt-consumer-group"


class Envelope(BaseModel):
    """What every message says about itself, next to its payload.

    ``source_notification_id`` is the position of the event in the producing service's notification log;
    together with the producer and the topic partition it lets consumers recognise a republished message.
    """

    model_config = ConfigDict(frozen=True)

    event_id: UUID
    event_type: str
    schema_version: int
    occurred_at: datetime
    correlation_id: str
    causation_id: str
    producer: str
    source_notification_id: int

    def to_headers(self) -> dict[str, str]:
        return {
            Headers.EVENT_ID: str(self.event_id),
            Headers.EVENT_TYPE: self.event_type,
            Headers.SCHEMA_VERSION: str(self.schema_version),
            Headers.OCCURRED_AT: self.occurred_at.isoformat(),
            Headers.CORRELATION_ID: self.correlation_id,
            Headers.CAUSATION_ID: self.causation_id,
            Headers.PRODUCER: self.producer,
            Headers.SOURCE_NOTIFICATION_ID: str(self.source_notification_id),
        }

    @classmethod
    def from_headers(cls, headers: dict[str, str]) -> Envelope:
        """Raises pydantic.ValidationError when a header is missing or malformed."""
        return cls.model_validate(
            {
                "event_id": headers.get(Headers.EVENT_ID),
                "event_type": headers.get(Headers.EVENT_TYPE),
                "schema_version": headers.get(Headers.SCHEMA_VERSION),
                "occurred_at": headers.get(Headers.OCCURRED_AT),
                "correlation_id": headers.get(Headers.CORRELATION_ID),
                "causation_id": headers.get(Headers.CAUSATION_ID),
                "producer": headers.get(Headers.PRODUCER),
                "source_notification_id": headers.get(Headers.SOURCE_NOTIFICATION_ID),
            }
        )
