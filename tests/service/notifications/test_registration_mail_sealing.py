"""A registration's mails to its applicant — the double opt-in mail (``ConfirmationRequested``) and the welcome mail
(``RegistrationCompleted``) — are kept sealed with the key of the person the applicant will be as main contact
(``person_id``, ``main_contact.user_id``; ADR 0040, ADR 0035): the address, names, the address a mail went to and its
subject. They are sent to the plain address; once the person's key is gone nothing of theirs opens, and a mail still
waiting for them is dropped. Messages without the person (attempts submitted before) are kept plain and sent as
before.

In-memory event store, the real consumer handlers, templates and dispatcher; a key ring over a dict stands in for
users' key endpoint (``Users`` of ``test_sealed_events``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from contracts.registration import v1 as registration
from contracts.topics import REGISTRATION_REGISTRATIONS, USERS_USERS
from kc_runtime.consumer import IdempotentConsumer
from kc_runtime.eventstore import WorkerPool
from kc_runtime.sealed_messages import seal_body
from notifications.adapters.inbound.kafka import consumer_specs
from notifications.adapters.outbound.dispatcher import ERASED
from notifications.application.mails import Mails
from notifications.domain.model import Mail, MailStatus
from tests.service.notifications.test_erasure import RecordingSender, erased, markers
from tests.service.notifications.test_mail_rules import handle
from tests.service.notifications.test_sealed_events import assert_holds_none, dispatcher, stored
from tests.service.users.test_registration_consumer import FakeBatch, RecordingBroker
from tests.support.messages import consumer_record


def confirmation_requested(person: dict[str, str], person_id: UUID | None) -> registration.ConfirmationRequested:
    return registration.ConfirmationRequested(
        registration_id=uuid4(), email=person["email"], first_name=person["first_name"],
        last_name=person["last_name"], language="en", token="tok", company_name="Muster GmbH",
        confirm_path="/registrierung/bestaetigen?id=1&token=tok", expires_at=datetime.now(UTC) + timedelta(days=1),
        person_id=person_id,
    )  # fmt: skip


def completed(person: dict[str, str], user_id: UUID | None) -> registration.RegistrationCompleted:
    number = uuid4().hex[:8]
    return registration.RegistrationCompleted(
        registration_id=uuid4(), company_id=uuid4(),
        company=registration.CompanyMasterData(customer_number=number, name=f"Muster GmbH {number}"),
        main_contact=registration.MainContact(email=person["email"], first_name=person["first_name"],
                                              last_name=person["last_name"], language="en", user_id=user_id),
        completed_at=datetime.now(UTC),
    )  # fmt: skip


def queued(mails: Mails, message: registration.ConfirmationRequested | registration.RegistrationCompleted) -> Mail:
    (mail,) = handle(mails, message, REGISTRATION_REGISTRATIONS)
    mails.save(mail)
    assert isinstance(mail, Mail)
    return mail


MESSAGES = {"confirmation": confirmation_requested, "welcome": completed}
"""Each registration mail, from the message naming the applicant (or not: None)."""


# ---- stored sealed, sent plain ------------------------------------------------------------------------------


@pytest.mark.parametrize("which", MESSAGES)
async def test_a_registration_mail_is_stored_sealed_with_the_applicants_key_and_sent_to_the_plain_address(
    mails, keys, which
):
    person, person_id = markers(), keys.person()
    mail = queued(mails, MESSAGES[which](person, person_id))
    assert_holds_none(stored(mails, mail.id), *person.values())
    assert f"kc1:{person_id}:".encode() in stored(mails, mail.id)
    sender = RecordingSender()

    await dispatcher(mails, sender)._deliver(mail.id)

    ((to, rendered),) = sender.sent
    assert to == person["email"] and f"{person['first_name']} {person['last_name']}" in rendered.text
    sent = mails.find(mail.id)
    assert sent.status is MailStatus.SENT and (sent.sent_to, sent.subject) == (person["email"], rendered.subject)
    assert_holds_none(stored(mails, mail.id), *person.values(), rendered.subject)


@pytest.mark.parametrize("which", MESSAGES)
def test_a_registration_mail_kept_opens_with_the_applicants_key(mails, keys, which):
    person, person_id = markers(), keys.person()
    mail = queued(mails, MESSAGES[which](person, person_id))

    loaded = mails.find(mail.id)

    assert (loaded.to_email, loaded.recipient_key, loaded.language) == (person["email"], person["email"], "en")
    assert (loaded.data["first_name"], loaded.data["last_name"]) == (person["first_name"], person["last_name"])
    assert loaded.about_user_id == person_id == loaded.person_id


async def test_the_confirmation_sealed_on_the_wire_is_kept_sealed_through_the_real_consumer(mails, keys, ring):
    (spec,) = [s for s in consumer_specs(mails) if s.topic is REGISTRATION_REGISTRATIONS]
    consumer = IdempotentConsumer(
        service="notifications", group_id="notifications", app=mails, broker=RecordingBroker(),  # type: ignore[arg-type]
        blocking=WorkerPool(2), spec=spec, max_attempts=2, backoff_initial_s=0.01,
    )  # fmt: skip
    person, person_id = markers(), keys.person()
    message = confirmation_requested(person, person_id)
    body = seal_body(message, ring)  # as registration's relay publishes it
    assert person["email"].encode() not in body
    batch = FakeBatch((consumer_record(message, topic=REGISTRATION_REGISTRATIONS.name, key="10001",
                                       producer="registration", body=body),))  # fmt: skip

    await consumer.handle(batch)

    (mail_id,) = [e.originator_id for _, e, _ in mails.notifications(0, 100) if isinstance(e, Mail.Queued)]
    assert batch.acked == 1
    assert_holds_none(stored(mails, mail_id), *person.values())
    assert mails.find(mail_id).to_email == person["email"]


# ---- once the key is gone -----------------------------------------------------------------------------------


@pytest.mark.parametrize("which", MESSAGES)
def test_once_the_applicants_key_is_gone_a_sent_registration_mail_shows_nothing_of_theirs(mails, keys, ring, which):
    person, person_id = markers(), keys.person()
    mail = queued(mails, MESSAGES[which](person, person_id))
    mails.mark_sent(mail.id, person["email"], f"Welcome, {person['first_name']}")
    keys.erase(person_id)
    ring.forget(person_id)

    kept = mails.find(mail.id)

    assert kept.status is MailStatus.SENT
    assert (kept.to_email, kept.recipient_key, kept.language, kept.sent_to, kept.subject) == (None,) * 5
    assert (kept.data["first_name"], kept.data["last_name"]) == (None, None)
    assert kept.data["company_name"].startswith("Muster GmbH")  # the company's data is no one's
    assert not any(value in repr(vars(kept)) for value in person.values())


@pytest.mark.parametrize("which", MESSAGES)
async def test_a_registration_mail_still_waiting_when_the_applicants_key_is_gone_is_dropped_unsent(
    mails, keys, ring, which
):
    person, person_id = markers(), keys.person()
    mail = queued(mails, MESSAGES[which](person, person_id))
    keys.erase(person_id)
    ring.forget(person_id)  # users destroyed the key; no UserErased (nor user) needs to be here
    sender = RecordingSender()

    await dispatcher(mails, sender)._deliver(mail.id)

    dropped = mails.find(mail.id)
    assert sender.sent == [] and dropped.status is MailStatus.FAILED and dropped.failure == ERASED


async def test_a_welcome_mail_still_waiting_when_the_main_contact_is_erased_is_dropped_unsent(mails, keys):
    person, user_id = markers(), keys.person()
    mail = queued(mails, completed(person, user_id))
    keys.erase(user_id)
    mails.save(*handle(mails, erased(user_id, uuid4()), USERS_USERS))
    sender = RecordingSender()

    await dispatcher(mails, sender)._deliver(mail.id)

    dropped = mails.find(mail.id)
    assert sender.sent == [] and dropped.status is MailStatus.FAILED and dropped.failure == ERASED
    assert_holds_none(stored(mails, mail.id), *person.values())


# ---- without the person: as before ----------------------------------------------------------------------------


@pytest.mark.parametrize("which", MESSAGES)
async def test_a_registration_mail_without_the_applicants_id_is_kept_plain_and_sent_as_before(mails, keys, which):
    person = markers()
    mail = queued(mails, MESSAGES[which](person, None))
    sender = RecordingSender()

    await dispatcher(mails, sender)._deliver(mail.id)

    assert [to for to, _ in sender.sent] == [person["email"]]
    sent = mails.find(mail.id)
    assert sent.status is MailStatus.SENT and sent.person_id is None and sent.sent_to == person["email"]
    kept = stored(mails, mail.id)
    assert person["email"].encode() in kept and person["first_name"].encode() in kept
    assert keys.asked == []  # nobody's key was asked for


@pytest.mark.parametrize("which", MESSAGES)
async def test_a_registration_mail_without_the_applicants_id_goes_out_whoever_was_erased(mails, keys, ring, which):
    person, someone = markers(), keys.person()
    mail = queued(mails, MESSAGES[which](person, None))
    keys.erase(someone)
    ring.forget(someone)
    mails.save(*handle(mails, erased(someone, uuid4()), USERS_USERS))
    sender = RecordingSender()

    await dispatcher(mails, sender)._deliver(mail.id)

    assert [to for to, _ in sender.sent] == [person["email"]] and mails.find(mail.id).status is MailStatus.SENT
