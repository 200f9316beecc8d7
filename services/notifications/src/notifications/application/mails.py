"""Use cases of the notifications service."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from kc_runtime.eventstore import ServiceApplication
from notifications.domain.model import Mail, MailStatus
from notifications.domain.recipients import Recipient


@dataclass(frozen=True)
class MailRequest:
    """A mail an event causes: to a user of a customer company, or to an address in a language."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    to_user_id: UUID | None = None
    to_email: str | None = None
    language: str | None = None

    @property
    def recipient_key(self) -> str:
        return str(self.to_user_id) if self.to_user_id else (self.to_email or "")


_RECIPIENT_FIELDS: dict[str, Any] = {"email": "", "first_name": "", "last_name": "", "language": "de", "active": True}


class Mails(ServiceApplication):
    name = "Mails"

    def queue(self, cause: str, requests: list[MailRequest]) -> list[Mail]:
        """The Mail aggregates to save for an event; mails queued before for the same cause are skipped."""
        now = datetime.now(UTC)
        new = []
        for r in requests:
            if not r.recipient_key or self.find(Mail.create_id(cause, r.recipient_key)) is not None:
                continue
            new.append(
                Mail(
                    cause=cause, recipient_key=r.recipient_key, kind=r.kind, data=r.data, queued_at=now,
                    to_user_id=r.to_user_id, to_email=r.to_email, language=r.language,
                )
            )  # fmt: skip
        return new

    def recipient(self, user_id: UUID) -> Recipient | None:
        found = self.find(user_id)
        return found if isinstance(found, Recipient) else None

    def recipient_changed(self, user_id: UUID, **fields: Any) -> list[Recipient]:
        """Keep what mails need to know of a user (email, names, language, active)."""
        current = self.recipient(user_id)
        if current is None:
            if "email" not in fields:
                return []
            return [Recipient.known(user_id, **{**_RECIPIENT_FIELDS, **fields})]
        merged = {k: fields.get(k, getattr(current, k)) for k in _RECIPIENT_FIELDS}
        if merged == {k: getattr(current, k) for k in _RECIPIENT_FIELDS}:
            return []
        current.change(**merged)
        return [current]

    def find(self, aggregate_id: UUID) -> Any:
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def mark_sent(self, mail_id: UUID, to: str, subject: str) -> None:
        mail: Mail = self.repository.get(mail_id)
        if mail.status is MailStatus.QUEUED:
            mail.mark_sent(to, subject, datetime.now(UTC))
            self.save(mail)

    def mark_failed(self, mail_id: UUID, reason: str) -> None:
        mail: Mail = self.repository.get(mail_id)
        if mail.status is MailStatus.QUEUED:
            mail.mark_failed(reason, datetime.now(UTC))
            self.save(mail)
