"""A registration's mails to its applicant on PostgreSQL (ADR 0040, ADR 0035): when the message names the person
(``ConfirmationRequested.person_id``, ``RegistrationCompleted.main_contact.user_id``), no table of notifications'
database — the event store and the mail log included — holds the applicant's address or names in any form (plain,
URL-encoded, base64), queued or sent; the mail goes to the plain address; once the key is gone the kept mail opens to
nothing and one still waiting is dropped. Without the person, the values stay plain in the event store (as before)
and nowhere else.

notifications' event store over a fresh database, the real consumer handlers, dispatcher and mail log projection;
a key ring over a dict stands in for users' key endpoint (this test's persons are no users of the running stack)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest

from contracts.topics import REGISTRATION_REGISTRATIONS
from kc_runtime.eventstore import WorkerPool
from kc_runtime.sealing import KeyRing
from notifications.adapters.outbound.digests import SCHEMA as MAIL_LOG_SCHEMA
from notifications.adapters.outbound.digests import DigestScheduler
from notifications.adapters.outbound.dispatcher import ERASED
from notifications.adapters.outbound.templates import Templates
from notifications.application.mails import Mails
from notifications.domain.model import Mail, MailStatus
from tests.integration.notifications.test_erasure_postgres import found_in_tables
from tests.integration.test_exactly_once import es_env
from tests.service.notifications.test_erasure import RecordingSender, markers
from tests.service.notifications.test_mail_rules import handle
from tests.service.notifications.test_registration_mail_sealing import MESSAGES
from tests.service.notifications.test_sealed_events import Users, dispatcher

pytestmark = pytest.mark.integration

EVENT_STORE = {"mails_events"}


@dataclass
class NotificationsOnPostgres:
    dsn: str
    mails: Mails
    keys: Users
    ring: KeyRing
    mail_log: DigestScheduler
    position: int = 0

    async def project(self) -> None:
        """What the digest scheduler's follower does: the log since the last call, into the mail log."""
        batch = self.mails.notifications(self.position, 10_000)
        await self.mail_log.process(batch)
        if batch:
            self.position = batch[-1][0].id


@pytest.fixture
async def notifications(database) -> AsyncIterator[NotificationsOnPostgres]:
    dsn = await database("notifications")
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(MAIL_LOG_SCHEMA)
    finally:
        await conn.close()
    keys = Users()
    ring = KeyRing(keys.fetch)
    mails = Mails(env=es_env(dsn), key_ring=ring)
    mail_log = DigestScheduler(
        sender=RecordingSender(), mails=mails, templates=Templates(), base_url="https://x",  # type: ignore[arg-type]
        service="notifications", dsn=dsn, blocking=WorkerPool(2),
    )  # fmt: skip
    yield NotificationsOnPostgres(dsn, mails, keys, ring, mail_log)
    await mail_log.close()
    mails.close()


def queued(n: NotificationsOnPostgres, which: str, person: dict[str, str], person_id) -> Mail:
    (mail,) = handle(n.mails, MESSAGES[which](person, person_id), REGISTRATION_REGISTRATIONS)
    n.mails.save(mail)
    assert isinstance(mail, Mail)
    return mail


@pytest.mark.parametrize("which", MESSAGES)
async def test_no_table_holds_the_applicant_named_by_person_queued_or_sent(notifications, which):
    n, person = notifications, markers()
    mail = queued(n, which, person, n.keys.person())
    await n.project()
    assert await found_in_tables(n.dsn, list(person.values()), skip=set()) == []
    sender = RecordingSender()

    await dispatcher(n.mails, sender)._deliver(mail.id)
    await n.project()

    ((to, rendered),) = sender.sent
    assert to == person["email"]
    assert await found_in_tables(n.dsn, [*person.values(), rendered.subject], skip=set()) == []
    conn = await asyncpg.connect(n.dsn)
    try:
        assert await conn.fetchval("SELECT status FROM notifications_mail_log WHERE mail_id = $1", mail.id) == "sent"
    finally:
        await conn.close()


@pytest.mark.parametrize("which", MESSAGES)
async def test_once_the_key_is_gone_a_kept_mail_opens_to_nothing_and_a_waiting_one_is_dropped(notifications, which):
    n, person = notifications, markers()
    person_id = n.keys.person()
    sent, waiting = queued(n, which, person, person_id), queued(n, which, person, person_id)
    await dispatcher(n.mails, RecordingSender())._deliver(sent.id)
    n.keys.erase(person_id)
    n.ring.forget(person_id)
    sender = RecordingSender()

    await dispatcher(n.mails, sender)._deliver(waiting.id)
    await n.project()

    kept, dropped = n.mails.find(sent.id), n.mails.find(waiting.id)
    assert kept.status is MailStatus.SENT and (kept.to_email, kept.sent_to, kept.data["first_name"]) == (None,) * 3
    assert sender.sent == [] and (dropped.status, dropped.failure) == (MailStatus.FAILED, ERASED)
    assert await found_in_tables(n.dsn, list(person.values()), skip=set()) == []


@pytest.mark.parametrize("which", MESSAGES)
async def test_without_the_person_the_applicant_stays_plain_in_the_event_store_only(notifications, which):
    n, person = notifications, markers()
    mail = queued(n, which, person, None)
    await dispatcher(n.mails, RecordingSender())._deliver(mail.id)
    await n.project()

    assert await found_in_tables(n.dsn, list(person.values()), skip=EVENT_STORE) == []
    in_store = await found_in_tables(n.dsn, list(person.values()), skip=set())
    assert {(table, marker) for table, _, marker in in_store} == {("mails_events", v) for v in person.values()}
    assert n.keys.asked == []
