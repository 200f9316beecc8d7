"""Use cases of the notifications service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from kc_runtime.eventstore import ServiceApplication
from notifications.domain.model import Mail, MailStatus


@dataclass(frozen=True)
class RenderedMail:
    kind: str
    recipient: str
    language: str
    subject: str
    text: str
    html: str


class Mails(ServiceApplication):
    name = "Mails"

    def queue(self, cause: str, mails: list[RenderedMail]) -> list[Mail]:
        """The Mail aggregates to save for an event; mails queued before for the same cause are skipped."""
        now = datetime.now(UTC)
        new = []
        for m in mails:
            if self.find(Mail.create_id(cause, m.recipient)) is not None:
                continue
            new.append(
                Mail(
                    cause=cause,
                    kind=m.kind,
                    recipient=m.recipient,
                    language=m.language,
                    subject=m.subject,
                    text=m.text,
                    html=m.html,
                    queued_at=now,
                )
            )
        return new

    def find(self, mail_id: UUID) -> Mail | None:
        try:
            return self.repository.get(mail_id)
        except AggregateNotFoundError:
            return None

    def mark_sent(self, mail_id: UUID) -> None:
        mail: Mail = self.repository.get(mail_id)
        if mail.status is MailStatus.QUEUED:
            mail.mark_sent(datetime.now(UTC))
            self.save(mail)

    def mark_failed(self, mail_id: UUID, reason: str) -> None:
        mail: Mail = self.repository.get(mail_id)
        if mail.status is MailStatus.QUEUED:
            mail.mark_failed(reason, datetime.now(UTC))
            self.save(mail)
