"""Sends queued mails: follows the service's own log of Mail events (one active dispatcher per service).

A mail is rendered in its recipient's language and sent, then marked sent. A crash in between sends it again
on restart with the same Message-ID; the window is the milliseconds between the SMTP server's acceptance and
the Sent event. A mail for a user the users service has not announced yet waits for them (bounded).
"""

from __future__ import annotations

import asyncio
import smtplib
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from kc_runtime.follower import Batch, LogFollower
from notifications.adapters.outbound.smtp import PermanentMailError, SmtpSender
from notifications.adapters.outbound.templates import Templates
from notifications.application.mails import Mails
from notifications.domain.model import Mail, MailStatus

RETRYABLE = (OSError, smtplib.SMTPException)
RECIPIENT_WAIT = timedelta(minutes=2)
PARALLEL = 8


class RecipientUnknown(Exception):
    pass


class MailDispatcher(LogFollower):
    kind = "mail-dispatcher"

    def __init__(self, *, sender: SmtpSender, mails: Mails, templates: Templates, base_url: str, **kwargs: Any) -> None:
        super().__init__(app=mails, **kwargs)
        self.sender = sender
        self.mails = mails
        self.templates = templates
        self.base_url = base_url

    async def process(self, batch: Batch) -> None:
        # Mails of a batch go out in parallel: one waiting for its recipient does not hold up the others.
        gate = asyncio.Semaphore(PARALLEL)

        async def deliver(mail_id: Any) -> None:
            async with gate:
                await self._deliver(mail_id)

        # Every delivery finishes before the batch succeeds or fails: a batch retried after an error must never
        # run beside deliveries of its previous attempt (they would send the same mail twice).
        results = await asyncio.gather(
            *(deliver(event.originator_id) for _notification, event, _meta in batch if isinstance(event, Mail.Queued)),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result

    def _address(self, mail: Mail) -> tuple[str, str | None, dict[str, Any]]:
        if mail.to_email:
            return mail.to_email, mail.language, {}
        recipient = self.mails.recipient(mail.to_user_id) if mail.to_user_id else None
        if recipient is None:
            raise RecipientUnknown(str(mail.to_user_id))
        person = {"recipient_name": recipient.name, "recipient_first_name": recipient.first_name}
        absent = mail.data.get("on_behalf_of")  # a substitute's mail names whom they stand in for
        if isinstance(absent, str):
            try:
                known = self.mails.recipient(UUID(absent))
            except ValueError:
                known = None
            person["on_behalf_of_name"] = known.name if known is not None else ""
        return recipient.email, recipient.language, person

    async def _deliver(self, mail_id: Any) -> None:
        delay = 0.5
        while True:
            mail: Mail | None = await self.blocking.run(self.mails.find, mail_id)
            if mail is None or mail.status is not MailStatus.QUEUED:
                return
            try:
                to, language, person = await self.blocking.run(self._address, mail)
                rendered = self.templates.render(mail.kind, language, shop_url=self.base_url, **person, **mail.data)
                await self.blocking.run(self.sender.send, to, rendered, mail.message_id, mail.kind)
            except RecipientUnknown:
                if datetime.now(UTC) - mail.queued_at > RECIPIENT_WAIT:
                    await self.blocking.run(self.mails.mark_failed, mail.id, "recipient unknown")
                    return
                self.log.info("recipient not known yet, waiting", mail_id=str(mail.id), retry_in_s=delay)
            except PermanentMailError as exc:
                self.log.error("mail refused for good", mail_id=str(mail.id), kind=mail.kind, error=str(exc))
                await self.blocking.run(self.mails.mark_failed, mail.id, str(exc))
                return
            except RETRYABLE as exc:
                self.log.warning("mail server unavailable, retrying", error=repr(exc), retry_in_s=delay)
            else:
                await self._record_sent(mail, to, rendered.subject)
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    async def _record_sent(self, mail: Mail, to: str, subject: str) -> None:
        """The server took the mail: record it, however long the database is away. Giving up here would send
        it again when the batch is retried."""
        delay = 0.2
        while True:
            try:
                await self.blocking.run(self.mails.mark_sent, mail.id, to, subject)
                self.log.info("mail sent", mail_id=str(mail.id), kind=mail.kind, cause=mail.cause)
                return
            except Exception as exc:
                self.log.warning("mail sent but not yet recorded, retrying", mail_id=str(mail.id), error=repr(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
