"""Which user an e-mail address finds in notifications (ADR 0035 decision 4): the index's id is a keyed hash of the
address under notifications' secret (a blind index), not a ``uuid5`` anyone could compute from a guessed address;
an address claimed before the blind index (under its ``uuid5``) still finds its user, and its claim moves to the
blind index when the index is next written. In-memory event store, the consumer's handlers."""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

import pytest

from contracts.topics import USERS_USERS
from contracts.users import v1 as users
from notifications.application.mails import Mails, UnknownCaller
from notifications.domain.recipients import Recipient, RecipientEmail
from tests.service.notifications.test_erasure import erase, known_user, markers
from tests.service.notifications.test_mail_rules import handle
from tests.service.notifications.test_preferences_and_digests import token

OLD_NAMESPACE = uuid5(NAMESPACE_URL, "urn:kundencenter:notifications:recipient-emails")
POPO = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


@pytest.fixture
def mails() -> Mails:
    return Mails(env=POPO)


def index_at(mails: Mails, index_id: UUID) -> RecipientEmail:
    index = mails.find(index_id)
    assert isinstance(index, RecipientEmail)
    return index


def known_before_the_blind_index(mails: Mails, email: str) -> UUID:
    """A user as the release before the blind index stored them: the address claimed under its uuid5."""
    user_id = uuid4()
    recipient = Recipient.known(user_id, email, "Lea", "Alt", "de", True)
    legacy = RecipientEmail._create(
        RecipientEmail.Claimed, id=uuid5(OLD_NAMESPACE, email.strip().lower()), user_id=user_id
    )
    mails.save(recipient, legacy)
    return user_id


def email_changed(mails: Mails, user_id: UUID, before: str, email: str) -> None:
    message = users.UserEmailChanged(user_id=user_id, company_id=uuid4(), email=email, previous_email=before)
    mails.save(*handle(mails, message, USERS_USERS))


def test_an_address_index_id_is_a_keyed_hash_not_the_uuid5_of_the_address(mails):
    person = markers()
    user_id, _ = known_user(mails, **person)
    blind, legacy = mails.email_index_ids(person["email"])
    assert legacy == uuid5(OLD_NAMESPACE, person["email"])
    assert blind != legacy and blind.version == 8
    assert index_at(mails, blind).user_id == user_id
    assert mails.find(legacy) is None  # nothing is stored under the id a guess of the address gives
    assert mails.caller(token(email=person["email"].upper())).id == user_id


def test_the_index_id_differs_under_another_secret():
    one, same, other = Mails(POPO, b"a" * 32), Mails(POPO, b"a" * 32), Mails(POPO, b"b" * 32)
    assert one.email_index_ids("lea@example.com")[0] == same.email_index_ids(" LEA@example.com")[0]
    assert one.email_index_ids("lea@example.com")[0] != other.email_index_ids("lea@example.com")[0]


def test_an_address_claimed_before_the_blind_index_still_finds_its_user(mails):
    user_id = known_before_the_blind_index(mails, "lea-old@example.com")
    assert mails.caller(token(email="Lea-Old@example.com")).id == user_id
    assert mails.find(mails.email_index_ids("lea-old@example.com")[0]) is None  # read, not written: not moved yet


def test_a_legacy_claim_moves_to_the_blind_index_when_the_address_is_claimed_again(mails):
    known_before_the_blind_index(mails, "shared@example.com")
    person = {**markers(), "email": "shared@example.com"}
    new_owner, _ = known_user(mails, **person)

    blind, legacy = mails.email_index_ids("shared@example.com")
    assert index_at(mails, blind).user_id == new_owner
    assert index_at(mails, legacy).user_id is None  # released in the same save: the blind index alone decides
    assert mails.caller(token(email="shared@example.com")).id == new_owner


def test_a_user_whose_legacy_address_changes_is_found_by_the_new_one_only(mails):
    user_id = known_before_the_blind_index(mails, "before@example.com")
    email_changed(mails, user_id, "before@example.com", "after@example.com")

    assert index_at(mails, mails.email_index_ids("before@example.com")[1]).user_id is None
    assert index_at(mails, mails.email_index_ids("after@example.com")[0]).user_id == user_id
    assert mails.caller(token(email="after@example.com")).id == user_id
    with pytest.raises(UnknownCaller):
        mails.caller(token(email="before@example.com"))


def test_an_erased_user_is_no_longer_found_by_an_address_claimed_before_the_blind_index(mails):
    user_id = known_before_the_blind_index(mails, "gone@example.com")
    erase(mails, user_id, uuid4())

    assert index_at(mails, mails.email_index_ids("gone@example.com")[1]).user_id is None
    assert mails.find(mails.email_index_ids("gone@example.com")[0]) is None  # no blind index for them either
    with pytest.raises(UnknownCaller):
        mails.caller(token(email="gone@example.com"))
