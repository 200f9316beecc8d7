"""The sent-mail log: one Mail per (causing event, recipient), sent once.

A mail is queued with what it is about (its kind and the facts for the template) and whom it is for — an
address and language, or a user of a customer company, resolved when it is sent (the users service's events
may arrive after the event that causes the mail). A mail to an address may concern a user all the same (the
confirmation of their e-mail change, sent to the new address; a registration's mails to the applicant, who will be
its main contact, ADR 0040): it names them (``about_user_id``), so that it is dropped like their other mails when
they are erased (ADR 0035).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

_NS = uuid5(NAMESPACE_URL, "urn:kundencenter:notifications:mail")


class MailStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    """the recipient chose not to receive this kind (ADR 0027): recorded, never sent"""
    DEFERRED = "deferred"
    """the recipient chose the daily digest for this kind: it goes out inside their digest (``digest_id``)"""


class Mail(Aggregate):
    """A mail to one recipient because of one event. Its id derives from both: a redelivered event finds it."""

    @staticmethod
    def create_id(cause: str, recipient_key: str) -> UUID:
        return uuid5(_NS, f"{cause}/{recipient_key.strip().lower()}")

    class Queued(Aggregate.Created):
        cause: str
        recipient_key: str
        kind: str
        data: dict[str, Any]
        queued_at: datetime
        to_user_id: UUID | None = None
        to_email: str | None = None
        language: str | None = None
        about_user_id: UUID | None = None

    @event(Queued)
    def __init__(
        self,
        cause: str,
        recipient_key: str,
        kind: str,
        data: dict[str, Any],
        queued_at: datetime,
        to_user_id: UUID | None = None,
        to_email: str | None = None,
        language: str | None = None,
        about_user_id: UUID | None = None,
    ) -> None:
        self.cause = cause
        self.recipient_key = recipient_key
        self.kind = kind
        self.data = data
        self.queued_at = queued_at
        self.to_user_id = to_user_id
        self.to_email = to_email
        self.language = language
        self.about_user_id = about_user_id
        """the user a mail to an address concerns, if any (none for mails queued before it existed)"""
        self.status = MailStatus.QUEUED
        self.sent_to: str | None = None
        self.subject: str | None = None
        self.sent_at: datetime | None = None
        self.failure: str | None = None
        self.digest_id: UUID | None = None

    @property
    def person_id(self) -> UUID | None:
        """The user the mail concerns: its recipient, or the one a mail to an address is about."""
        return self.to_user_id or getattr(self, "about_user_id", None)

    @property
    def message_id(self) -> str:
        """Stable Message-ID: a mail sent twice after a crash is recognisable as the same mail."""
        return f"<{self.id}@kundencenter.invalid>"

    def mark_sent(self, to: str, subject: str, at: datetime) -> None:
        if self.status is MailStatus.SENT:
            return
        self._sent(to=to, subject=subject, at=at, person_id=self.person_id)

    class Sent(Aggregate.Event):
        to: str
        subject: str
        at: datetime
        person_id: UUID | None = None
        """whose address ``to`` is — the user the mail concerns (None: nobody known, and for mails sent before it
        was recorded): the person whose key seals the address and the subject (ADR 0035)"""

    @event(Sent)
    def _sent(self, to: str, subject: str, at: datetime, person_id: UUID | None = None) -> None:
        self.status = MailStatus.SENT
        self.sent_to = to
        self.subject = subject
        self.sent_at = at

    def mark_failed(self, reason: str, at: datetime) -> None:
        """A permanent failure (refused by the server, or nobody to send it to): not retried."""
        self._failed(reason=reason[:1000], at=at)

    class Failed(Aggregate.Event):
        reason: str
        at: datetime

    @event(Failed)
    def _failed(self, reason: str, at: datetime) -> None:
        self.status = MailStatus.FAILED
        self.failure = reason

    def suppress(self, preference_kind: str, at: datetime) -> None:
        """Not sent: the recipient chose ``none`` for this kind. Recorded so that it can be seen that it was."""
        if self.status is MailStatus.QUEUED:
            self._suppressed(preference_kind=preference_kind, at=at)

    class Suppressed(Aggregate.Event):
        preference_kind: str
        at: datetime

    @event(Suppressed)
    def _suppressed(self, preference_kind: str, at: datetime) -> None:
        self.status = MailStatus.SUPPRESSED

    def defer(self, digest_id: UUID, day: str, at: datetime) -> None:
        """Goes out inside the recipient's digest of ``day`` instead of on its own."""
        if self.status is MailStatus.QUEUED:
            self._deferred(digest_id=digest_id, day=day, at=at)

    class Deferred(Aggregate.Event):
        digest_id: UUID
        day: str
        at: datetime

    @event(Deferred)
    def _deferred(self, digest_id: UUID, day: str, at: datetime) -> None:
        self.status = MailStatus.DEFERRED
        self.digest_id = digest_id
