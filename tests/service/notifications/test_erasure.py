"""notifications' part of erasing a person (ADR 0035, decision 3): on ``UserErased`` the recipient's address, names
and language are forgotten in the consumer's transaction, a redelivery and a later event of users change nothing,
and no mail goes to the person any more — what still waits for them is dropped, and mails to others name them no
more. In-memory event store, the real templates, the consumer's handlers and its real consumer spec."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest

from contracts.topics import USERS_USERS
from contracts.users import v1 as users
from kc_runtime import metrics
from kc_runtime.consumer import IdempotentConsumer
from kc_runtime.eventstore import WorkerPool
from notifications.adapters.inbound.kafka import consumer_specs
from notifications.adapters.outbound.digests import DigestScheduler, render_digest
from notifications.adapters.outbound.dispatcher import ERASED, MailDispatcher, RecipientErased, person_of
from notifications.adapters.outbound.templates import Templates
from notifications.application.mails import MailRequest, Mails, UnknownCaller
from notifications.domain.digests import DigestStatus
from notifications.domain.model import MailStatus
from notifications.domain.recipients import Recipient, RecipientEmail
from tests.service.notifications.test_mail_rules import handle
from tests.service.notifications.test_preferences_and_digests import MORNING, queue, token
from tests.service.users.test_registration_consumer import FakeBatch, RecordingBroker
from tests.support.messages import consumer_record

BERLIN = ZoneInfo("Europe/Berlin")
ERASED_AT = datetime(2026, 12, 7, 9, 14, tzinfo=UTC)


@pytest.fixture
def mails() -> Mails:
    return Mails(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def markers() -> dict[str, str]:
    """Values that appear nowhere but in this person's data."""
    tag = uuid4().hex[:10]
    return {"email": f"erika-{tag}@example.com", "first_name": f"Erika{tag}", "last_name": f"Muster{tag}"}


def created(user_id: UUID, company_id: UUID, **person: str) -> users.UserCreated:
    return users.UserCreated(
        user_id=user_id, company_id=company_id, email=person["email"], first_name=person["first_name"],
        last_name=person["last_name"], language="en", status="active", role_ids=["buyer"],
        permissions=["place_orders"], budget=users.Budget(), is_main_contact=False, created_at=MORNING,
    )  # fmt: skip


def erased(user_id: UUID, company_id: UUID) -> users.UserErased:
    return users.UserErased(user_id=user_id, company_id=company_id, erased_at=ERASED_AT, changed_by=uuid4())


def known_user(mails: Mails, **person: str) -> tuple[UUID, UUID]:
    user_id, company_id = uuid4(), uuid4()
    mails.save(*handle(mails, created(user_id, company_id, **person), USERS_USERS))
    return user_id, company_id


def erase(mails: Mails, user_id: UUID, company_id: UUID) -> list[Any]:
    changed = handle(mails, erased(user_id, company_id), USERS_USERS)
    mails.save(*changed)
    return changed


def assert_forgotten(recipient: Recipient | None, person: dict[str, str]) -> None:
    assert recipient is not None and recipient.erased and not recipient.active
    state = (recipient.email, recipient.first_name, recipient.last_name, recipient.language, recipient.name)
    assert state == ("", "", "", "", "")
    assert not any(value in repr(vars(recipient)) for value in person.values())


# ---- the recipient -----------------------------------------------------------------------------------------


def test_an_erased_user_is_kept_as_a_recipient_without_address_names_or_language(mails):
    person = markers()
    user_id, company_id = known_user(mails, **person)

    erase(mails, user_id, company_id)

    assert_forgotten(mails.recipient(user_id), person)


def test_an_erased_users_address_finds_them_no_more(mails):
    person = markers()
    user_id, company_id = known_user(mails, **person)
    assert mails.caller(token(email=person["email"])).id == user_id

    erase(mails, user_id, company_id)

    index = mails.find(mails.email_index_ids(person["email"])[0])
    assert isinstance(index, RecipientEmail) and index.user_id is None
    with pytest.raises(UnknownCaller):
        mails.caller(token(email=person["email"]))


def test_erasing_twice_changes_nothing(mails):
    user_id, company_id = known_user(mails, **markers())
    erase(mails, user_id, company_id)
    stored = mails.max_notification_id()

    assert handle(mails, erased(user_id, company_id), USERS_USERS) == []
    assert mails.max_notification_id() == stored


@pytest.mark.parametrize(
    "later",
    [
        lambda u, c, p: users.UserEmailChanged(user_id=u, company_id=c, email=p["email"], previous_email="x@example.com"),
        lambda u, c, p: users.UserRenamed(user_id=u, company_id=c, first_name=p["first_name"], last_name=p["last_name"]),
        lambda u, c, p: users.UserActivated(user_id=u, company_id=c),
        lambda u, c, p: created(u, c, **p),
        lambda u, c, p: users.UserSignInBound(user_id=u, company_id=c, issuer="https://idp.example", subject="s-1",
                                             bound_at=MORNING),
    ],
    ids=["email-changed", "renamed", "activated", "created", "signed-in"],
)  # fmt: skip
def test_a_later_event_of_users_brings_no_personal_data_back(mails, later):
    person = markers()
    user_id, company_id = known_user(mails, **person)
    erase(mails, user_id, company_id)
    stored = mails.max_notification_id()

    assert handle(mails, later(user_id, company_id, person), USERS_USERS) == []

    assert mails.max_notification_id() == stored
    assert_forgotten(mails.recipient(user_id), person)


def test_a_person_erased_before_they_were_known_stays_unknown(mails):
    person = markers()
    user_id, company_id = uuid4(), uuid4()

    erase(mails, user_id, company_id)
    assert handle(mails, created(user_id, company_id, **person), USERS_USERS) == []

    assert_forgotten(mails.recipient(user_id), person)
    assert all(mails.find(index_id) is None for index_id in mails.email_index_ids(person["email"]))


def test_an_email_change_requested_of_an_erased_person_mails_nobody(mails):
    person = markers()
    user_id, company_id = known_user(mails, **person)
    erase(mails, user_id, company_id)
    requested = users.UserEmailChangeRequested(
        change_id=uuid4(), user_id=user_id, company_id=company_id, email=f"new-{person['email']}",
        previous_email=person["email"], first_name=person["first_name"], last_name=person["last_name"],
        language="en", token="tok", confirm_path="/confirm/x", expires_at=MORNING + timedelta(days=1),
    )  # fmt: skip

    assert handle(mails, requested, USERS_USERS) == []


# ---- through the real consumer: exactly once ---------------------------------------------------------------


def handled(outcome: str) -> float:
    return metrics.CONSUMED.labels("notifications", USERS_USERS.name, outcome)._value.get()


async def test_the_erasure_is_stored_in_the_consumers_transaction_and_a_redelivery_is_harmless(mails):
    (spec,) = [s for s in consumer_specs(mails) if s.topic is USERS_USERS]
    assert users.UserErased in spec.handlers
    broker = RecordingBroker()
    consumer = IdempotentConsumer(
        service="notifications", group_id="notifications", app=mails, broker=broker,  # type: ignore[arg-type]
        blocking=WorkerPool(2), spec=spec, max_attempts=2, backoff_initial_s=0.01,
    )  # fmt: skip
    person = markers()
    user_id, company_id = uuid4(), uuid4()
    await consumer.handle(FakeBatch((record(created(user_id, company_id, **person), offset=1),)))
    duplicates = handled("duplicate")

    batch = FakeBatch((record(erased(user_id, company_id), offset=2),))
    await consumer.handle(batch)
    stored = mails.max_notification_id()
    again = FakeBatch((record(erased(user_id, company_id), offset=2),))
    await consumer.handle(again)

    assert_forgotten(mails.recipient(user_id), person)
    assert batch.acked == 1 and again.acked == 1 and broker.published == []
    assert mails.max_notification_id() == stored and handled("duplicate") == duplicates + 1


def record(message: Any, offset: int) -> Any:
    return consumer_record(
        message, topic=USERS_USERS.name, key=str(message.company_id), producer="users",
        notification_id=offset, offset=offset, correlation_id="c",
    )  # fmt: skip


# ---- no more mail to them, and none that names them ---------------------------------------------------------


class RecordingSender:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    def send(self, to: str, rendered: Any, message_id: str, kind: str) -> None:
        self.sent.append((to, rendered))


def follower_kwargs(mails: Mails) -> dict[str, Any]:
    return {"service": "notifications", "dsn": "postgresql://unused", "blocking": WorkerPool(2)}


async def test_a_mail_still_waiting_for_an_erased_person_is_dropped_unsent(mails):
    user_id, company_id = known_user(mails, **markers())
    mail = queue(mails, user_id, "order_rejected", comment="Zu teuer")
    erase(mails, user_id, company_id)
    sender = RecordingSender()
    dispatcher = MailDispatcher(
        sender=sender, mails=mails, templates=Templates(), base_url="https://x",  # type: ignore[arg-type]
        **follower_kwargs(mails),
    )  # fmt: skip

    await dispatcher._deliver(mail.id)

    dropped = mails.find(mail.id)
    assert sender.sent == []
    assert dropped.status is MailStatus.FAILED and dropped.failure == ERASED


async def test_a_digest_of_an_erased_person_is_closed_unsent(mails):
    user_id, company_id = known_user(mails, **markers())
    digest = mails.defer(queue(mails, user_id, "order_approved").id, 7, BERLIN, now=MORNING)
    erase(mails, user_id, company_id)
    with pytest.raises(RecipientErased):
        render_digest(mails, Templates(), "https://x", mails.digest(digest.id))
    sender = RecordingSender()
    scheduler = DigestScheduler(
        sender=sender, mails=mails, templates=Templates(), base_url="https://x",  # type: ignore[arg-type]
        **follower_kwargs(mails),
    )  # fmt: skip

    assert await scheduler._send(digest.id) is None

    assert sender.sent == [] and mails.digest(digest.id).status is DigestStatus.FAILED
    assert mails.claim_digest(digest.id) is None  # and no later sweep sends it


@pytest.mark.parametrize("language", ["de", "en"])
def test_a_substitutes_mail_rendered_after_the_absent_approvers_erasure_does_not_name_them(mails, language):
    absent = markers()
    absent_id, company_id = known_user(mails, **absent)
    substitute_id, _ = known_user(mails, **markers())
    data = {"order_id": str(uuid4()), "order_path": "/orders/1", "total": {"amount": "10", "currency": "EUR"},
            "buyer_id": str(uuid4()), "reference": "", "exceeded": [], "round": 1, "on_behalf_of": str(absent_id),
            "until": "2026-12-24T17:00:00+00:00"}  # fmt: skip
    (mail,) = mails.queue(str(uuid4()), [MailRequest("approval_requested", data, to_user_id=substitute_id)])
    substitute = mails.recipient(substitute_id)
    assert person_of(mails, mail, substitute)["on_behalf_of_name"] == f"{absent['first_name']} {absent['last_name']}"

    erase(mails, absent_id, company_id)

    person = person_of(mails, mail, substitute)
    rendered = Templates().render(mail.kind, language, shop_url="https://x", **person, **mail.data)
    for part in (rendered.subject, rendered.text, rendered.html):
        assert absent["first_name"] not in part and absent["last_name"] not in part
