"""A mail queued to an address on behalf of a user — the confirmation of their e-mail change, sent to the new address
— is dropped like their other mails when they are erased (ADR 0035): recorded failed ("recipient erased"), never
sent; one on behalf of someone else, or of nobody, still goes out. In-memory event store, the real templates, the
consumer's handlers and the dispatcher."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from contracts.registration import v1 as registration
from contracts.topics import REGISTRATION_REGISTRATIONS, USERS_USERS
from contracts.users import v1 as users
from notifications.adapters.outbound.dispatcher import ERASED, MailDispatcher
from notifications.adapters.outbound.templates import Templates
from notifications.application.mails import Mails
from notifications.domain.model import Mail, MailStatus
from tests.service.notifications.test_erasure import RecordingSender, erase, follower_kwargs, known_user, markers
from tests.service.notifications.test_mail_rules import handle
from tests.service.notifications.test_preferences_and_digests import MORNING


@pytest.fixture
def mails() -> Mails:
    return Mails(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def dispatcher(mails: Mails, sender: RecordingSender) -> MailDispatcher:
    return MailDispatcher(
        sender=sender, mails=mails, templates=Templates(), base_url="https://x",  # type: ignore[arg-type]
        **follower_kwargs(mails),
    )  # fmt: skip


def change_requested(mails: Mails, user_id: UUID, company_id: UUID, person: dict[str, str]) -> Mail:
    """users asked the user's new address to confirm their e-mail change: the confirmation mail, queued."""
    requested = users.UserEmailChangeRequested(
        change_id=uuid4(), user_id=user_id, company_id=company_id, email=f"new-{person['email']}",
        previous_email=person["email"], first_name=person["first_name"], last_name=person["last_name"],
        language="en", token="tok", confirm_path="/confirm/x", expires_at=MORNING + timedelta(days=1),
    )  # fmt: skip
    (mail,) = handle(mails, requested, USERS_USERS)
    mails.save(mail)
    assert isinstance(mail, Mail) and mail.to_email == requested.email and mail.about_user_id == user_id
    return mail


async def test_the_confirmation_of_an_email_change_still_waiting_is_dropped_when_the_user_is_erased(mails):
    person = markers()
    user_id, company_id = known_user(mails, **person)
    mail = change_requested(mails, user_id, company_id, person)
    erase(mails, user_id, company_id)
    sender = RecordingSender()

    await dispatcher(mails, sender)._deliver(mail.id)

    dropped = mails.find(mail.id)
    assert sender.sent == []
    assert dropped.status is MailStatus.FAILED and dropped.failure == ERASED


async def test_the_confirmation_of_another_users_email_change_still_goes_out(mails):
    erased_person, other = markers(), markers()
    erased_id, company_id = known_user(mails, **erased_person)
    other_id, _ = known_user(mails, **other)
    mail = change_requested(mails, other_id, company_id, other)
    erase(mails, erased_id, company_id)
    sender = RecordingSender()

    await dispatcher(mails, sender)._deliver(mail.id)

    assert [to for to, _ in sender.sent] == [f"new-{other['email']}"]
    assert mails.find(mail.id).status is MailStatus.SENT


async def test_a_mail_to_an_address_on_behalf_of_nobody_goes_out_whoever_was_erased(mails):
    person = markers()
    user_id, company_id = known_user(mails, **person)
    erase(mails, user_id, company_id)
    confirmation = registration.ConfirmationRequested(
        registration_id=uuid4(), email=f"applicant-{uuid4().hex[:8]}@example.com", first_name="Anna",
        last_name="Neu", language="de", company_name="Muster GmbH", token="t", confirm_path="/r/x",
        expires_at=MORNING + timedelta(days=1),
    )  # fmt: skip
    (mail,) = handle(mails, confirmation, REGISTRATION_REGISTRATIONS)
    mails.save(mail)
    sender = RecordingSender()

    await dispatcher(mails, sender)._deliver(mail.id)

    assert [to for to, _ in sender.sent] == [confirmation.email] and mail.person_id is None
