"""The daily digests go out, and what became of every mail can be seen (ADR 0027).

:class:`DigestScheduler` follows the service's log (one active per service: the follower's advisory lock) and
keeps two tables from it: the mail log (each mail's kind, recipient and fate — sent, failed, suppressed by the
recipient's choice, deferred into a digest) and the digests (whose, which day, due when, how many mails, sent or
not). While it is the active follower it sends every digest that is due, every ``interval_s``; an operator (or a
test) can have it send now (``POST /ops/digests/send``).

Sending a digest: the Digest aggregate is *claimed* first (saved under the store's version check: of two senders
only one wins), rendered — every mail it collects, whole, in the recipient's language — and sent with a Message-ID
derived from the digest, then recorded sent. The tables only say which digests to look at; whether one is still to
be sent is decided by the aggregate. A sender that dies between the claim and the record leaves the digest claimed:
the next sweep sends it again with the same Message-ID (the window is that of every mail, see the dispatcher).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import asyncpg

from kc_runtime.faults import failpoint
from kc_runtime.follower import Batch, LogFollower, wait_or_stop
from kc_runtime.pools import create_pool
from kc_runtime.retrying import retrying
from kc_runtime.schema import Tables
from notifications.adapters.outbound.dispatcher import (
    ERASED,
    RETRYABLE,
    RecipientErased,
    person_of,
    record_until_done,
    without_address,
)
from notifications.adapters.outbound.smtp import PermanentMailError, SmtpSender
from notifications.adapters.outbound.templates import Rendered, Templates
from notifications.application.mails import Mails
from notifications.domain.digests import Digest
from notifications.domain.model import Mail
from notifications.domain.preferences import preference_kind

SCHEMA = """
CREATE TABLE IF NOT EXISTS notifications_mail_log (
    mail_id uuid PRIMARY KEY,
    user_id uuid,
    kind text NOT NULL,
    status text NOT NULL,
    cause text NOT NULL,
    digest_id uuid,
    queued_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    version integer NOT NULL
);
CREATE INDEX IF NOT EXISTS notifications_mail_log_user ON notifications_mail_log (user_id, queued_at);
CREATE TABLE IF NOT EXISTS notifications_digests (
    digest_id uuid PRIMARY KEY,
    user_id uuid NOT NULL,
    day date NOT NULL,
    due_at timestamptz NOT NULL,
    mails integer NOT NULL DEFAULT 0,
    status text NOT NULL,
    sent_at timestamptz,
    version integer NOT NULL
);
CREATE INDEX IF NOT EXISTS notifications_digests_pending ON notifications_digests (due_at) WHERE status NOT IN ('sent', 'failed');
CREATE INDEX IF NOT EXISTS notifications_digests_user ON notifications_digests (user_id, day);
"""
TABLES = Tables.of(SCHEMA)

SEND_ATTEMPTS = 3
"""SMTP attempts of one digest in one sweep; a digest still unsent waits for the next sweep."""
LISTED = 200


class NotTheLeader(Exception):
    """This process does not run the active digest scheduler: ask the one that does."""


class DigestScheduler(LogFollower):
    kind = "digest-scheduler"

    def __init__(
        self,
        *,
        sender: SmtpSender,
        mails: Mails,
        templates: Templates,
        base_url: str,
        interval_s: float = 60.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(app=mails, **kwargs)
        self.sender = sender
        self.mails = mails
        self.templates = templates
        self.base_url = base_url
        self.interval_s = interval_s
        self._pool: asyncpg.Pool | None = None
        self._pool_lock = asyncio.Lock()
        self._sweeping = asyncio.Lock()

    # ---- the tables ---------------------------------------------------------------------------------------

    async def pool(self) -> asyncpg.Pool:
        async with self._pool_lock:
            if self._pool is None:
                self._pool = await create_pool(self.dsn, min_size=0, max_size=2)
        return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def process(self, batch: Batch) -> None:
        statements = [s for _, event, _ in batch if (s := _statement(event)) is not None]
        if not statements:
            return
        pool = await self.pool()
        async with pool.acquire() as conn, conn.transaction():
            for sql, args in statements:
                await conn.execute(sql, *args)

    async def digests(self, user_id: UUID | None = None, pending_only: bool = False) -> list[dict[str, Any]]:
        pool = await self.pool()
        rows = await pool.fetch(
            "SELECT digest_id, user_id, day, due_at, mails, status, sent_at FROM notifications_digests"
            " WHERE ($1::uuid IS NULL OR user_id = $1) AND (NOT $2 OR status NOT IN ('sent', 'failed'))"
            " ORDER BY due_at DESC LIMIT $3",
            user_id,
            pending_only,
            LISTED,
        )
        return [dict(r) for r in rows]

    async def mail_log(self, user_id: UUID) -> list[dict[str, Any]]:
        pool = await self.pool()
        rows = await pool.fetch(
            "SELECT mail_id, user_id, kind, status, cause, digest_id, queued_at, updated_at"
            " FROM notifications_mail_log WHERE user_id = $1 ORDER BY queued_at DESC LIMIT $2",
            user_id,
            LISTED,
        )
        return [dict(r) for r in rows]

    # ---- sending ------------------------------------------------------------------------------------------

    async def run(self, stopping: asyncio.Event) -> None:
        ticker = asyncio.create_task(self._tick(stopping), name="digest-ticker")
        try:
            await super().run(stopping)
        finally:
            ticker.cancel()
            await self.close()

    async def _tick(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            await wait_or_stop(stopping, self.interval_s)
            if self.active and not stopping.is_set():
                try:
                    await self.sweep()
                except Exception as exc:  # the next tick tries again
                    self.log.warning("digest sweep failed", error=repr(exc))

    async def sweep(
        self, *, include_not_due: bool = False, user_id: UUID | None = None, now: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Send the digests due by ``now`` (``include_not_due``: every pending one), of one user or all; only in the
        process whose scheduler is active. Returns what was sent."""
        if not self.active:
            raise NotTheLeader("Digests are sent by the process that runs the active digest scheduler.")
        async with self._sweeping:  # a trigger and the ticker never send side by side in this process
            pool = await self.pool()
            rows = await pool.fetch(
                "SELECT digest_id FROM notifications_digests WHERE status NOT IN ('sent', 'failed') AND mails > 0"
                " AND ($1 OR due_at <= $2) AND ($3::uuid IS NULL OR user_id = $3) ORDER BY due_at LIMIT 500",
                include_not_due,
                now or datetime.now(UTC),
                user_id,
            )
            sent = []
            for row in rows:
                done = await self._send(row["digest_id"])
                if done is not None:
                    sent.append(done)
            return sent

    async def _send(self, digest_id: UUID) -> dict[str, Any] | None:
        digest = await self.blocking.run(self.mails.claim_digest, digest_id)
        if digest is None:
            return None  # sent already, empty, or claimed by another sender this moment
        failpoint("digest.after_claim")
        try:
            found = await self.blocking.run(self.render, digest)
        except RecipientErased:  # ADR 0035: an erased person gets no more mail; the digest is closed unsent
            await self.blocking.run(self.mails.mark_digest_failed, digest.id, ERASED)
            self.log.info("digest dropped: its recipient was erased", digest_id=str(digest.id))
            return None
        if found is None:
            self.log.warning("digest recipient not known, left for the next sweep", digest_id=str(digest.id))
            return None
        to, rendered = found

        def on_retry(exc: BaseException, wait: float) -> None:
            self.log.warning("mail server unavailable for a digest", error=repr(exc), retry_in_s=round(wait, 2))

        try:
            async for attempt in retrying(
                initial_s=0.5,
                max_s=4.0,
                retry_on=RETRYABLE,
                on_retry=on_retry,
                stop=lambda state: state.attempt_number >= SEND_ATTEMPTS,
            ):
                with attempt:
                    await self.blocking.run(self.sender.send, to, rendered, digest.message_id, "digest")
                    failpoint("digest.after_send")
        except PermanentMailError as exc:
            reason = without_address(str(exc), to)
            self.log.error("digest refused for good", digest_id=str(digest.id), error=reason)
            await self.blocking.run(self.mails.mark_digest_failed, digest.id, reason)
            return None
        except RETRYABLE as exc:
            self.log.warning("mail server unavailable for a digest, left for the next sweep", error=repr(exc))
            return None
        await self._record_sent(digest, to, rendered.subject)
        return {"digest_id": str(digest.id), "user_id": str(digest.user_id), "day": digest.day,
                "mails": len(digest.mail_ids)}  # fmt: skip

    async def _record_sent(self, digest: Digest, to: str, subject: str) -> None:
        """The server took the digest: record it, however long the database is away (as the dispatcher does)."""
        await record_until_done(
            self.log,
            "digest",
            digest.id,
            lambda: self.blocking.run(self.mails.mark_digest_sent, digest.id, to, subject),
        )
        self.log.info("digest sent", digest_id=str(digest.id), day=digest.day, mails=len(digest.mail_ids))

    def render(self, digest: Digest) -> tuple[str, Rendered] | None:
        """The digest as one mail to its recipient (blocking); None while the recipient is not known."""
        return render_digest(self.mails, self.templates, self.base_url, digest)


def render_digest(mails: Mails, templates: Templates, base_url: str, digest: Digest) -> tuple[str, Rendered] | None:
    """Every mail the digest collects, rendered whole in the recipient's language, as one mail to their address.
    Raises :class:`RecipientErased` when the recipient was erased: the digest is not to be sent."""
    recipient = mails.recipient(digest.user_id)
    if recipient is None:
        return None
    if recipient.forgotten:
        raise RecipientErased(str(digest.user_id))
    items = []
    for mail_id in digest.mail_ids:
        mail = mails.find(mail_id)
        if not isinstance(mail, Mail):
            continue
        person = person_of(mails, mail, recipient)
        items.append(templates.render(mail.kind, recipient.language, shop_url=base_url, **person, **mail.data))
    rendered = templates.render_digest(
        recipient.language, items, shop_url=base_url, recipient_name=recipient.name, day=digest.day
    )
    return recipient.email, rendered


def _statement(event: Any) -> tuple[str, tuple[Any, ...]] | None:
    """The change of the tables one event makes; each guarded by the aggregate's version, so a batch handled again
    changes nothing."""
    version = event.originator_version
    match event:
        case Mail.Queued():
            kind = preference_kind(event.kind, event.data)
            return (
                "INSERT INTO notifications_mail_log (mail_id, user_id, kind, status, cause, queued_at, updated_at,"
                " version) VALUES ($1, $2, $3, 'queued', $4, $5, $5, $6) ON CONFLICT (mail_id) DO NOTHING",
                (event.originator_id, event.to_user_id, kind, event.cause, event.queued_at, version),
            )
        case Mail.Sent() | Mail.Failed() | Mail.Suppressed() | Mail.Deferred():
            fates = {
                Mail.Sent: "sent",
                Mail.Failed: "failed",
                Mail.Suppressed: "suppressed",
                Mail.Deferred: "deferred",
            }
            return (
                "UPDATE notifications_mail_log SET status = $2, digest_id = coalesce($3, digest_id), updated_at = $4,"
                " version = $5 WHERE mail_id = $1 AND version < $5",
                (event.originator_id, fates[type(event)], getattr(event, "digest_id", None), event.at, version),
            )
        case Digest.Opened():
            return (
                "INSERT INTO notifications_digests (digest_id, user_id, day, due_at, status, version)"
                " VALUES ($1, $2, $3, $4, 'open', $5) ON CONFLICT (digest_id) DO NOTHING",
                (event.originator_id, event.user_id, date.fromisoformat(event.day), event.due_at, version),
            )
        case Digest.MailAdded():
            return (
                "UPDATE notifications_digests SET mails = mails + 1, version = $2 WHERE digest_id = $1 AND version < $2",
                (event.originator_id, version),
            )
        case Digest.Claimed():
            return (
                "UPDATE notifications_digests SET status = 'claimed', version = $2 WHERE digest_id = $1 AND version < $2",
                (event.originator_id, version),
            )
        case Digest.Sent() | Digest.Failed():
            fate = "sent" if isinstance(event, Digest.Sent) else "failed"
            return (
                "UPDATE notifications_digests SET status = $3, sent_at = $4, version = $2"
                " WHERE digest_id = $1 AND version < $2",
                (event.originator_id, version, fate, event.at),
            )
    return None
