"""notifications' event store keeps what mails know of people sealed with each person's key (ADR 0035, plan step 1):
a recipient's address and names, an address a mail goes to on a user's behalf, the address and subject a mail was
sent to, an approver's comment (with its author's key). The dispatcher still sends to the plain address (opened
with the key); once the person is erased nothing of theirs opens, and what still waits for them is dropped. A value
stored plain before sealing still reads, and an id users does not know keeps plain values.

In-memory event store, the real templates and consumer handlers; a :class:`KeyRing` over a dict stands in for users'
key endpoint (None: erased, UNKNOWN: not a person users knows)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from contracts.approval import v1 as approval
from contracts.topics import APPROVAL_ORDERS, USERS_USERS
from contracts.users import v1 as users
from kc_runtime.person_keys import PersonKeyClient, PersonKeysUnavailable
from kc_runtime.sealing import UNKNOWN, KeyRing, is_sealed, new_key
from notifications.adapters.outbound.digests import render_digest
from notifications.adapters.outbound.dispatcher import ERASED, MailDispatcher, RecipientErased, without_address
from notifications.adapters.outbound.templates import Templates
from notifications.application.mails import Mails, UnknownCaller
from notifications.domain.model import Mail, MailStatus
from notifications.domain.recipients import RecipientEmail
from notifications.main import create_app
from notifications.settings import NotificationsSettings
from tests.service.notifications.test_erasure import RecordingSender, created, erased, follower_kwargs, markers
from tests.service.notifications.test_mail_rules import handle
from tests.service.notifications.test_preferences_and_digests import BERLIN, MORNING, TOTAL, queue, token

MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


class Users:
    """users' key endpoint as a dict: a key while the person lives, None once erased, UNKNOWN for a stranger."""

    def __init__(self) -> None:
        self.keys: dict[UUID, bytes | None] = {}
        self.asked: list[UUID] = []
        self.away = False

    def fetch(self, person: UUID) -> bytes | None:
        self.asked.append(person)
        if self.away:
            raise PersonKeysUnavailable("users is away")
        return self.keys.get(person, UNKNOWN)

    def person(self) -> UUID:
        person = uuid4()
        self.keys[person] = new_key()
        return person

    def erase(self, person: UUID) -> None:
        self.keys[person] = None


def stored(mails: Mails, aggregate_id: UUID) -> bytes:
    """Every state the event store holds of the aggregate, as it is stored."""
    return b"\n".join(e.state for e in mails.recorder.select_events(aggregate_id))


def known(mails: Mails, user_id: UUID, person: dict[str, str]) -> UUID:
    mails.save(*handle(mails, created(user_id, uuid4(), **person), USERS_USERS))
    return user_id


def dispatcher(mails: Mails, sender: RecordingSender) -> MailDispatcher:
    return MailDispatcher(
        sender=sender, mails=mails, templates=Templates(), base_url="https://x",  # type: ignore[arg-type]
        **follower_kwargs(mails),
    )  # fmt: skip


def assert_holds_none(state: bytes, *values: str) -> None:
    for value in values:
        assert value.encode() not in state, value


# ---- stored sealed, read plain ------------------------------------------------------------------------------


def test_a_recipients_address_and_names_are_stored_sealed_and_read_plain(mails, keys):
    person = markers()
    user_id = known(mails, keys.person(), person)
    mails.save(*handle(mails, users.UserRenamed(user_id=user_id, company_id=uuid4(), first_name=person["first_name"],
                                                last_name="Neu" + person["last_name"]), USERS_USERS))  # fmt: skip

    assert_holds_none(stored(mails, user_id), *person.values())
    recipient = mails.recipient(user_id)
    assert recipient is not None
    assert (recipient.email, recipient.first_name, recipient.last_name, recipient.language) == (
        person["email"], person["first_name"], "Neu" + person["last_name"], "en"
    )  # fmt: skip
    assert mails.caller(token(email=person["email"])).id == user_id  # the blind index of the address still finds them


async def test_a_mail_is_rendered_and_sent_to_the_plain_address_and_recorded_sealed(mails, keys):
    person = markers()
    user_id = known(mails, keys.person(), person)
    mail = queue(mails, user_id, "order_approved")
    sender = RecordingSender()

    await dispatcher(mails, sender)._deliver(mail.id)

    ((to, rendered),) = sender.sent
    assert to == person["email"] and person["first_name"] in rendered.text
    sent = mails.find(mail.id)
    assert sent.status is MailStatus.SENT and (sent.sent_to, sent.subject) == (person["email"], rendered.subject)
    assert_holds_none(stored(mails, mail.id), person["email"], rendered.subject)


async def test_an_email_change_confirmation_is_stored_sealed_and_sent_to_the_new_address(mails, keys):
    person = markers()
    user_id = known(mails, keys.person(), person)
    new_address = f"new-{person['email']}"
    requested = users.UserEmailChangeRequested(
        change_id=uuid4(), user_id=user_id, company_id=uuid4(), email=new_address, previous_email=person["email"],
        first_name=person["first_name"], last_name=person["last_name"], language="en", token="tok",
        confirm_path="/confirm/x", expires_at=MORNING + timedelta(days=1),
    )  # fmt: skip
    (mail,) = handle(mails, requested, USERS_USERS)
    mails.save(mail)
    sender = RecordingSender()

    await dispatcher(mails, sender)._deliver(mail.id)

    ((to, rendered),) = sender.sent
    assert to == new_address and person["first_name"] in rendered.text
    assert_holds_none(stored(mails, mail.id), *person.values())
    loaded = mails.find(mail.id)
    assert (loaded.to_email, loaded.recipient_key, loaded.data["first_name"]) == (
        new_address, new_address, person["first_name"]
    )  # fmt: skip


def rejection(buyer: UUID, approver: UUID, comment: str) -> approval.OrderRejected:
    return approval.OrderRejected(
        order_id=uuid4(), company_id=uuid4(), buyer_id=buyer, approver_id=approver, comment=comment, total=TOTAL,
        rejected_at=datetime.now(UTC),
    )  # fmt: skip


async def test_an_approvers_comment_is_sealed_with_the_approvers_key_and_shown_no_more_once_they_are_erased(
    mails, keys, ring
):
    buyer, approver = known(mails, keys.person(), markers()), keys.person()
    comment = f"Zu teuer, Gruss {uuid4().hex[:8]}"
    (mail,) = handle(mails, rejection(buyer, approver, comment), APPROVAL_ORDERS)
    mails.save(mail)
    assert_holds_none(stored(mails, mail.id), comment)
    assert mails.find(mail.id).data["comment"] == comment

    keys.erase(approver)
    ring.forget(approver)  # approver's UserErased
    sender = RecordingSender()
    await dispatcher(mails, sender)._deliver(mail.id)

    ((_, rendered),) = sender.sent
    assert comment not in rendered.text and "Reason: –" in rendered.text


# ---- once erased ------------------------------------------------------------------------------------------


def test_once_erased_nothing_of_the_person_opens_and_the_ring_forgets_their_key(mails, keys):
    person = markers()
    user_id = known(mails, keys.person(), person)
    mail = queue(mails, user_id, "order_approved")
    mails.mark_sent(mail.id, person["email"], "Ihre Bestellung")
    keys.erase(user_id)
    asked = len(keys.asked)

    mails.save(*handle(mails, erased(user_id, uuid4()), USERS_USERS))

    sent = mails.find(mail.id)
    assert keys.asked[asked:].count(user_id) >= 1  # asked again after the erasure: the cached key was forgotten
    assert (sent.sent_to, sent.subject) == (None, None)
    recipient = mails.recipient(user_id)
    assert recipient is not None and recipient.erased and (recipient.email, recipient.name) == ("", "")


async def test_a_mail_waiting_when_the_key_is_gone_before_the_erasure_arrives_is_dropped(mails, keys, ring):
    person = markers()
    user_id = known(mails, keys.person(), person)
    mail = queue(mails, user_id, "order_approved")
    keys.erase(user_id)
    ring.forget(user_id)  # users destroyed the key; its UserErased is not here yet
    sender = RecordingSender()

    await dispatcher(mails, sender)._deliver(mail.id)

    dropped = mails.find(mail.id)
    assert sender.sent == [] and dropped.status is MailStatus.FAILED and dropped.failure == ERASED
    assert mails.is_erased(user_id)
    renamed = users.UserRenamed(user_id=user_id, company_id=uuid4(), first_name="Wieder", last_name="Da")
    assert handle(mails, renamed, USERS_USERS) == []  # nothing of users makes them readable again


def test_an_erasure_releases_the_address_index_although_the_address_no_longer_opens(mails, keys, ring):
    person = markers()
    user_id = known(mails, keys.person(), person)
    keys.erase(user_id)
    ring.forget(user_id)  # no key held here when UserErased arrives
    assert mails.recipient(user_id).email is None

    mails.save(*handle(mails, erased(user_id, uuid4()), USERS_USERS))

    index = mails.find(mails.email_index_ids(person["email"])[0])
    assert isinstance(index, RecipientEmail) and index.user_id is None
    with pytest.raises(UnknownCaller):
        mails.caller(token(email=person["email"]))


def test_a_changed_address_is_released_although_the_old_one_no_longer_opens_and_the_new_one_is_claimed(
    mails, keys, ring
):
    person = markers()
    user_id = known(mails, keys.person(), person)
    new_address = f"new-{person['email']}"
    mails.save(*handle(mails, users.UserEmailChanged(user_id=user_id, company_id=uuid4(), email=new_address,
                                                     previous_email=person["email"]), USERS_USERS))  # fmt: skip
    keys.erase(user_id)
    ring.forget(user_id)

    mails.save(*handle(mails, erased(user_id, uuid4()), USERS_USERS))

    for address in (person["email"], new_address):
        index = mails.find(mails.email_index_ids(address)[0])
        assert isinstance(index, RecipientEmail) and index.user_id is None, address


def test_a_digest_of_a_person_whose_key_is_gone_is_not_rendered(mails, keys, ring):
    user_id = known(mails, keys.person(), markers())
    digest = mails.defer(queue(mails, user_id, "order_approved").id, 7, BERLIN, now=MORNING)
    assert digest is not None and render_digest(mails, Templates(), "https://x", digest) is not None
    keys.erase(user_id)
    ring.forget(user_id)

    with pytest.raises(RecipientErased):
        render_digest(mails, Templates(), "https://x", digest)


async def test_a_mail_waits_while_users_cannot_give_the_key(mails, keys, ring):
    person = markers()
    user_id = known(mails, keys.person(), person)
    mail = queue(mails, user_id, "order_approved")
    ring.forget(user_id)
    keys.away = True
    sender = RecordingSender()
    deliver = dispatcher(mails, sender)

    attempts: list[Any] = []

    def away_then_back(person: UUID) -> bytes | None:
        attempts.append(person)
        keys.away = len(attempts) < 2
        return keys.fetch(person)

    ring.fetch = away_then_back
    await deliver._deliver(mail.id)

    assert [to for to, _ in sender.sent] == [person["email"]] and len(attempts) >= 2


# ---- before sealing, and people users does not know ---------------------------------------------------------


def test_a_plain_value_stored_before_sealing_still_reads(mails, keys):
    person = markers()
    user_id = keys.person()
    before = Mails(env=MEMORY)  # this service before the release: no key ring
    known(before, user_id, person)
    assert person["email"].encode() in stored(before, user_id)
    mails.recorder.insert_events(before.recorder.select_events(user_id))

    recipient = mails.recipient(user_id)

    assert recipient is not None and (recipient.email, recipient.first_name) == (person["email"], person["first_name"])


def test_an_id_users_does_not_know_keeps_plain_values(mails):
    person = markers()
    stranger = uuid4()  # test data, an ERP contact: no key, nobody to erase

    known(mails, stranger, person)

    assert person["email"].encode() in stored(mails, stranger)
    recipient = mails.recipient(stranger)
    assert recipient is not None and not is_sealed(recipient.email) and recipient.email == person["email"]


def test_a_mail_servers_refusal_is_recorded_without_the_address():
    reason = "550 b'5.1.1 <Erika.Marker@Example.com>: Recipient address rejected'"

    assert without_address(reason, "erika.marker@example.com") == (
        "550 b'5.1.1 <<recipient>>: Recipient address rejected'"
    )


def test_the_mail_kept_in_memory_keeps_its_plain_values(mails, keys):
    user_id = known(mails, keys.person(), markers())
    (mail,) = handle(mails, rejection(user_id, keys.person(), "Zu teuer"), APPROVAL_ORDERS)
    mails.save(mail)
    assert isinstance(mail, Mail) and mail.data["comment"] == "Zu teuer"


def test_the_service_seals_with_keys_from_users_internal_endpoint_unless_given_a_ring():
    settings = NotificationsSettings(database_url="memory://", process_roles=["api"], log_format="console",
                                     fence_timeout_s=0)  # fmt: skip
    ring = create_app(settings, caller=lambda: None).state.runtime.app.key_ring
    given = KeyRing(lambda who: UNKNOWN)

    assert isinstance(ring, KeyRing) and isinstance(getattr(ring.fetch, "__self__", None), PersonKeyClient)
    assert ring.ttl_s == 600.0  # kept 10 minutes at most (ADR 0035 decision 2)
    assert create_app(settings, caller=lambda: None, key_ring=given).state.runtime.app.key_ring is given
    ring.fetch.__self__.close()  # type: ignore[attr-defined]
