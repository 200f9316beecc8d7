"""Sends queued mails: follows the service's own log of Mail events (one active dispatcher per service).

A mail is sent, then marked sent. A crash in between sends it again on restart with the same Message-ID; the
window is the few milliseconds between the SMTP server's acceptance and the Sent event.
"""

from __future__ import annotations

import asyncio
import smtplib

from kc_runtime.follower import Batch, LogFollower
from notifications.adapters.outbound.smtp import PermanentMailError, SmtpSender
from notifications.application.mails import Mails
from notifications.domain.model import Mail, MailStatus

RETRYABLE = (OSError, smtplib.SMTPException)


class MailDispatcher(LogFollower):
    kind = "mail-dispatcher"

    def __init__(self, *, sender: SmtpSender, mails: Mails, **kwargs: object) -> None:
        super().__init__(app=mails, **kwargs)  # type: ignore[arg-type]
        self.sender = sender
        self.mails = mails

    async def process(self, batch: Batch) -> None:
        for _notification, event, _meta in batch:
            if not isinstance(event, Mail.Queued):  # type: ignore[attr-defined]
                continue
            await self._deliver(event.originator_id)

    async def _deliver(self, mail_id: object) -> None:
        delay = 0.5
        while True:
            mail = await self.blocking.run(self.mails.find, mail_id)  # type: ignore[arg-type]
            if mail is None or mail.status is not MailStatus.QUEUED:
                return
            try:
                await self.blocking.run(self.sender.send, mail)
            except PermanentMailError as exc:
                self.log.error("mail refused for good", mail_id=str(mail.id), kind=mail.kind, error=str(exc))
                await self.blocking.run(self.mails.mark_failed, mail.id, str(exc))
                return
            except RETRYABLE as exc:
                self.log.warning("mail server unavailable, retrying", error=repr(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            await self.blocking.run(self.mails.mark_sent, mail.id)
            self.log.info("mail sent", mail_id=str(mail.id), kind=mail.kind, cause=mail.cause)
            return
