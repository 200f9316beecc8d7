"""Sends queued mails: follows the service's own log of Mail events (one active dispatcher per service).

A mail is rendered in its recipient's language and sent, then marked sent. A crash in between sends it again
on restart with the same Message-ID; the window is the milliseconds between the SMTP server's acceptance and
the Sent event. A mail for a user the users service has not announced yet waits for them (bounded).

Before that, the recipient's choice for the mail's kind (ADR 0027): ``none`` records the mail as suppressed and
sends nothing; ``digest`` defers it into their next daily digest (:mod:`notifications.adapters.outbound.digests`
sends that).

A mail to a user who was erased meanwhile (ADR 0035) is dropped: recorded as failed ("recipient erased"), never
sent — and so is a mail to an address that concerns them (``Mail.about_user_id``: the confirmation of their e-mail
change, to the new address); a mail to others names an erased person no more (their name is forgotten).

What is kept of a sent mail (``Mail.Sent``: the address and the subject, sealed with the reader's key) names nobody
but the reader: a substitute's mail names the absent approver when it is sent, and its subject is kept without
their name (:func:`kept_subject`), so their erasure leaves nothing of them readable under the substitute's key.
"""

from __future__ import annotations

import asyncio
import re
import smtplib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from urllib.parse import quote
from uuid import UUID
from zoneinfo import ZoneInfo

from kc_runtime.decision_links import ACTIONS, DecisionLink, sign
from kc_runtime.follower import Batch, LogFollower
from kc_runtime.person_keys import PersonKeysUnavailable
from kc_runtime.retrying import retrying
from notifications.adapters.outbound.formats import SHOP_TIMEZONE
from notifications.adapters.outbound.smtp import PermanentMailError, SmtpSender
from notifications.adapters.outbound.templates import Rendered, Templates
from notifications.application.mails import Mails
from notifications.domain.model import Mail, MailStatus
from notifications.domain.preferences import Delivery
from notifications.domain.recipients import Recipient

RETRYABLE = (OSError, smtplib.SMTPException)
RECIPIENT_WAIT = timedelta(minutes=2)
PARALLEL = 8


class RecipientUnknown(Exception):
    pass


class RecipientErased(Exception):
    """The mail's recipient was erased (ADR 0035): it is dropped — recorded failed with :data:`ERASED`, never
    sent."""


ERASED = "recipient erased"


class MailDispatcher(LogFollower):
    kind = "mail-dispatcher"
    runs_alone = True  # a mail server that is away is waited out inside a batch

    def __init__(
        self,
        *,
        sender: SmtpSender,
        mails: Mails,
        templates: Templates,
        base_url: str,
        digest_hour: int = 7,
        digest_zone: tzinfo = ZoneInfo(SHOP_TIMEZONE),
        links: DecisionLinkSigner | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(app=mails, **kwargs)
        self.links = links
        self.sender = sender
        self.mails = mails
        self.templates = templates
        self.base_url = base_url
        self.digest_hour = digest_hour
        self.digest_zone = digest_zone

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
        """Whom to send to, in which language, and what the mail says of people — read from the event store, where
        addresses are sealed (ADR 0035): opened with the person's key, unreadable (None) once they are erased."""
        if mail.to_user_id is None:  # to an address
            about = mail.person_id
            if mail.to_email is None or (about is not None and self.mails.is_erased(about)):
                raise RecipientErased(str(about))
            return mail.to_email, mail.language, {}
        recipient = self.mails.recipient(mail.to_user_id)
        if recipient is None:
            raise RecipientUnknown(str(mail.to_user_id))
        if recipient.forgotten:
            raise RecipientErased(str(mail.to_user_id))
        return recipient.email, recipient.language, person_of(self.mails, mail, recipient)

    async def _deliver(self, mail_id: Any) -> None:
        """Send a queued mail, waiting out a mail server that is away and a recipient not known yet (ADR 0029)."""

        def on_retry(exc: BaseException, wait: float) -> None:
            if isinstance(exc, RecipientUnknown):
                self.log.info("recipient not known yet, waiting", mail_id=str(mail_id), retry_in_s=round(wait, 2))
            elif isinstance(exc, PersonKeysUnavailable):  # ADR 0035: without the key the mail waits
                self.log.warning("recipient's key unavailable, waiting", mail_id=str(mail_id), error=str(exc),
                                 retry_in_s=round(wait, 2))  # fmt: skip
            else:
                self.log.warning("mail server unavailable, retrying", error=repr(exc), retry_in_s=round(wait, 2))

        async for attempt in retrying(
            initial_s=0.5, max_s=30.0, retry_on=(RecipientUnknown, PersonKeysUnavailable, *RETRYABLE), on_retry=on_retry
        ):
            # Read again before every attempt: it may have been sent meanwhile, or its recipient chosen otherwise.
            found: Mail | None = await self.blocking.run(self.mails.find, mail_id)
            if found is None or found.status is not MailStatus.QUEUED:
                return
            mail = found
            delivery = await self.blocking.run(self.mails.delivery_of, mail)
            if delivery is not Delivery.IMMEDIATELY:
                await self._hold(mail, delivery)
                return
            with attempt:  # only the sending is retried; an error of the reads above fails the batch
                outcome = await self._send(mail)
        if isinstance(outcome, str):
            await self.blocking.run(self.mails.mark_failed, mail.id, outcome)
        else:
            await self._record_sent(mail, *outcome)

    async def _send(self, mail: Mail) -> tuple[str, str] | str:
        """Address, render and send: (address, the subject to keep) once the server took it, or why it failed for
        good. Raises :class:`RecipientUnknown` (within :data:`RECIPIENT_WAIT`) and ``RETRYABLE`` errors: worth another
        attempt."""
        to = ""
        try:
            to, language, person = await self.blocking.run(self._address, mail)
            links = self.links.urls(mail, self.base_url) if self.links is not None else {}
            rendered = self.templates.render(
                mail.kind, language, shop_url=self.base_url, **person, **mail.data, **links
            )
            subject = kept_subject(
                self.templates, mail.kind, rendered, person, shop_url=self.base_url, **mail.data, **links
            )
            await self.blocking.run(self.sender.send, to, rendered, mail.message_id, mail.kind)
        except RecipientUnknown:
            if datetime.now(UTC) - mail.queued_at > RECIPIENT_WAIT:
                return "recipient unknown"
            raise
        except RecipientErased:
            self.log.info("mail dropped: its recipient was erased", mail_id=str(mail.id), kind=mail.kind)
            return ERASED
        except PermanentMailError as exc:
            reason = without_address(str(exc), to)
            self.log.error("mail refused for good", mail_id=str(mail.id), kind=mail.kind, error=reason)
            return reason
        return to, subject

    async def _hold(self, mail: Mail, delivery: Delivery) -> None:
        """The recipient chose the digest or nothing for this kind: recorded instead of sent."""
        if delivery is Delivery.NONE:
            await self.blocking.run(self.mails.suppress, mail.id)
            self.log.info("mail suppressed by the recipient's choice", mail_id=str(mail.id), kind=mail.kind)
            return
        digest = await self.blocking.run(self.mails.defer, mail.id, self.digest_hour, self.digest_zone)
        if digest is not None:
            self.log.info("mail deferred to the digest", mail_id=str(mail.id), kind=mail.kind, day=digest.day)

    async def _record_sent(self, mail: Mail, to: str, subject: str) -> None:
        """The server took the mail: record it, however long the database is away. Giving up here would send
        it again when the batch is retried."""
        await record_until_done(
            self.log, "mail", mail.id, lambda: self.blocking.run(self.mails.mark_sent, mail.id, to, subject)
        )
        self.log.info("mail sent", mail_id=str(mail.id), kind=mail.kind, cause=mail.cause)


def without_address(reason: str, address: str) -> str:
    """A mail server's refusal as it is recorded (``Mail.Failed``, stored plain): without the recipient's address,
    which servers often quote ("550 <a@b>: unknown user")."""
    return re.sub(re.escape(address), "<recipient>", reason, flags=re.IGNORECASE) if address else reason


async def record_until_done(log: Any, what: str, item: UUID, record: Callable[[], Awaitable[Any]]) -> None:
    """Record that the mail server took ``what`` (a mail, a digest), retrying for as long as the database is
    away: giving up would send it again."""

    def on_retry(exc: BaseException, wait: float) -> None:
        log.warning(f"{what} sent but not yet recorded, retrying", **{f"{what}_id": str(item)}, error=repr(exc),
                    retry_in_s=round(wait, 2))  # fmt: skip

    async for attempt in retrying(initial_s=0.2, max_s=5.0, on_retry=on_retry):
        with attempt:
            await record()


class DecisionLinkSigner:
    """The approve and reject links of an approval-request mail (ADR 0031): signed for its recipient, the order at
    the version of the request, and one decision; valid for ``ttl`` from when the mail was queued (the same links
    however often the mail is rendered)."""

    KINDS = ("approval_requested",)

    def __init__(self, secret: str, ttl: timedelta, path_template: str) -> None:
        self.secret, self.ttl, self.path_template = secret, ttl, path_template

    def urls(self, mail: Mail, base_url: str) -> dict[str, str]:
        version, order_id = mail.data.get("version"), mail.data.get("order_id")
        if mail.kind not in self.KINDS or mail.to_user_id is None or not isinstance(version, int) or not order_id:
            return {}
        expires_at = mail.queued_at + self.ttl
        out = {"links_expire_at": expires_at.isoformat()}
        for action in ACTIONS:
            link = DecisionLink(mail.to_user_id, UUID(str(order_id)), version, action, expires_at)
            path = self.path_template.format(token=quote(sign(self.secret, link), safe=""))
            out[f"{action}_url"] = base_url + path
        return out


OTHER_PEOPLE = ("on_behalf_of_name",)
"""What :func:`person_of` says of people other than the mail's reader: in the mail as sent, never in what is kept of
it (``Mail.Sent.subject`` is sealed with the reader's key, ADR 0035; the mail's data names them by id only)."""


def kept_subject(templates: Templates, kind: str, rendered: Rendered, person: dict[str, Any], **data: Any) -> str:
    """The subject recorded of a sent mail: the one sent, rendered again without other people's names where it had
    any (a substitute's "Approval requested (substitute): …" — for whom is in the mail's data, by id)."""
    if not any(name in person for name in OTHER_PEOPLE):
        return rendered.subject
    own = {key: value for key, value in person.items() if key not in OTHER_PEOPLE}
    return templates.subject(kind, rendered.language, **own, **data)


def person_of(mails: Mails, mail: Mail, recipient: Recipient) -> dict[str, Any]:
    """What a mail to a user says of people: the reader's name and, in a substitute's mail, whom they stand in for
    (as known when the mail is rendered: nothing once they are erased or their key is gone). Names of others are
    listed in :data:`OTHER_PEOPLE`: they are rendered, never kept."""
    person = {"recipient_name": recipient.name, "recipient_first_name": recipient.first_name}
    absent = mail.data.get("on_behalf_of")
    if isinstance(absent, str):
        try:
            known = mails.recipient(UUID(absent))
        except ValueError:
            known = None
        person["on_behalf_of_name"] = known.name if known is not None else ""
    return person
