"""The sent-mail log: one Mail per (causing event, recipient), rendered once, sent once."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

_NS = uuid5(NAMESPACE_URL, "urn:kundencenter:notifications:mail")


class MailStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


class Mail(Aggregate):
    """A mail to one recipient because of one event. Its id derives from both: a redelivered event finds it."""

    @staticmethod
    def create_id(cause: str, recipient: str) -> UUID:
        return uuid5(_NS, f"{cause}/{recipient.strip().lower()}")

    @event("Queued")
    def __init__(
        self,
        cause: str,
        kind: str,
        recipient: str,
        language: str,
        subject: str,
        text: str,
        html: str,
        queued_at: datetime,
    ) -> None:
        self.cause = cause
        self.kind = kind
        self.recipient = recipient
        self.language = language
        self.subject = subject
        self.text = text
        self.html = html
        self.queued_at = queued_at
        self.status = MailStatus.QUEUED
        self.attempts = 0
        self.sent_at: datetime | None = None
        self.failure: str | None = None

    @property
    def message_id(self) -> str:
        """Stable Message-ID: a mail sent twice after a crash is recognisable as the same mail."""
        return f"<{self.id}@kundencenter.invalid>"

    def mark_sent(self, at: datetime) -> None:
        if self.status is MailStatus.SENT:
            return
        self._sent(at=at)

    @event("Sent")
    def _sent(self, at: datetime) -> None:
        self.status = MailStatus.SENT
        self.sent_at = at

    def mark_failed(self, reason: str, at: datetime) -> None:
        """A permanent failure (the server refused the recipient): not retried."""
        self._failed(reason=reason[:1000], at=at)

    @event("Failed")
    def _failed(self, reason: str, at: datetime) -> None:
        self.status = MailStatus.FAILED
        self.failure = reason
