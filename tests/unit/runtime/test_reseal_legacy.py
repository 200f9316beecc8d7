"""The re-seal's steps for states older releases stored (``ServiceApplication.legacy_personal_data``, ADR 0035
"Upcasting", ADR 0040): an attempt submitted before ADR 0040 is given one person whose key users reserves, the same
for every event of the attempt and its customer account; a claim of an address made before the blind indexes
loses the address; states stored today are left as they are."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.utils import resolve_topic

from kc_runtime.reseal import decode_state, reseal_state
from kc_runtime.sealing import is_sealed, new_key
from registration.application.registrations import Applicant, Registrations
from registration.domain.lockout import AttemptCounter, CounterKind
from registration.domain.model import CustomerAccount, Registration, company_id_for
from registration.domain.taken import TakenAddress
from tests.service.registration.keys import UsersKeys
from users.application.directory import Directory
from users.domain.model import KeyClaim, email_key, role_name_key


@pytest.fixture
def keys() -> UsersKeys:
    return UsersKeys()


@pytest.fixture
def app(keys: UsersKeys) -> Registrations:
    return Registrations(key_ring=keys.ring(), reserve_key=keys.reserve)


def step(app: Any, cls: type, state: dict[str, Any]) -> int:
    changed: int = app.legacy_personal_data[cls](app, state)
    return changed


def legacy_attempt() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    attempt = uuid4()
    submitted = {
        "originator_id": attempt,
        "email": "alt@example.com",
        "first_name": "Alt",
        "last_name": "Bestand",
        "client_address": "203.0.113.9",
        "person_id": None,
    }
    completed = {
        "originator_id": attempt,
        "main_contact": {"email": "alt@example.com", "first_name": "Alt", "last_name": "Bestand"},
        "person_id": None,
    }
    account = {
        "originator_id": uuid4(),
        "registration_id": attempt,
        "main_contact_email": "alt@example.com",
        "main_contact_id": None,
    }
    return submitted, completed, account


def test_every_event_of_a_legacy_attempt_names_the_one_person_users_reserved(app, keys):
    submitted, completed, account = legacy_attempt()

    changed = [
        step(app, Registration.Submitted, submitted),
        step(app, Registration.Completed, completed),
        step(app, CustomerAccount.Registered, account),
    ]

    assert changed == [1, 1, 1] and len(keys.reserved) == 1
    assert submitted["person_id"] == completed["person_id"] == account["main_contact_id"] == keys.reserved[0]


def test_the_named_persons_key_then_seals_the_attempts_values(app, keys):
    submitted, _, _ = legacy_attempt()
    step(app, Registration.Submitted, submitted)

    outcome = reseal_state(app.key_ring, app.personal_data[Registration.Submitted], submitted)  # type: ignore[arg-type]

    assert outcome.sealed == 4
    assert app.key_ring.reveal("registration/registration/email", submitted["email"]) == "alt@example.com"  # type: ignore[union-attr]


def test_two_legacy_attempts_are_two_persons(app, keys):
    first, second = legacy_attempt()[0], legacy_attempt()[0]

    step(app, Registration.Submitted, first)
    step(app, Registration.Submitted, second)

    assert first["person_id"] != second["person_id"] and len(keys.reserved) == 2


def test_a_later_event_of_an_attempt_that_names_its_person_already_takes_that_person(app, keys):
    submitted, completed, _ = legacy_attempt()
    person = uuid4()
    submitted["person_id"] = person  # sealed today, or named by an earlier run

    assert step(app, Registration.Submitted, submitted) == 0
    assert step(app, Registration.Completed, completed) == 1

    assert completed["person_id"] == person and keys.reserved == []


def test_legacy_attempts_need_users_reservations(keys):
    submitted, _, _ = legacy_attempt()
    app = Registrations(key_ring=keys.ring())

    with pytest.raises(ValueError, match="users' key reservations"):
        step(app, Registration.Submitted, submitted)


def test_a_legacy_taken_address_loses_its_address_and_a_blind_one_is_left(app):
    legacy = {
        "originator_id": TakenAddress.create_id("alt@example.com"),
        "email": "alt@example.com",
        "user_id": uuid4(),
    }
    blind = {"originator_id": uuid4(), "email": "", "user_id": uuid4()}

    assert step(app, TakenAddress.Taken, legacy) == 1 and legacy["email"] == ""
    assert step(app, TakenAddress.Taken, blind) == 0 and blind["email"] == ""


def test_a_legacy_lockout_counter_of_a_client_address_loses_its_key_and_a_customer_numbers_keeps_it(app):
    by_address = {"kind": "client_address", "key": "203.0.113.9"}
    by_pair = {"kind": "customer_at_address", "key": "612345@203.0.113.9"}
    by_customer = {"kind": "customer_number", "key": "612345"}
    blind = {"kind": "client_address", "key": ""}

    assert [step(app, AttemptCounter.Opened, s) for s in (by_address, by_pair, by_customer, blind)] == [1, 1, 0, 0]
    assert (by_address["key"], by_pair["key"], by_customer["key"]) == ("", "", "612345")
    assert CounterKind.CLIENT_ADDRESS == by_address["kind"]


def test_a_legacy_email_claim_of_users_loses_its_address_and_other_claims_keep_their_keys():
    directory = Directory()
    legacy = {"key": email_key("Alt@Example.com"), "owner_id": uuid4()}
    blind = {"key": KeyClaim.EMAIL_INDEX, "owner_id": uuid4()}
    role = {"key": role_name_key(uuid4(), "Einkauf"), "owner_id": uuid4()}

    assert step(directory, KeyClaim.Claimed, legacy) == 1 and legacy["key"] == KeyClaim.EMAIL_INDEX
    assert step(directory, KeyClaim.Claimed, blind) == 0 and step(directory, KeyClaim.Claimed, role) == 0
    assert role["key"].startswith("role-name/")
    directory.close()


class Users:
    """users' lookup of the main contact a registration created (``PersonKeyClient.registration_main_contact``)."""

    def __init__(self) -> None:
        self.main_contacts: dict[tuple[UUID, UUID], UUID] = {}
        self.asked: list[tuple[UUID, UUID]] = []

    def main_contact(self, registration_id: UUID, company_id: UUID) -> UUID | None:
        self.asked.append((registration_id, company_id))
        return self.main_contacts.get((registration_id, company_id))


def stored_plain(app: Registrations, *, complete: bool) -> UUID:
    """An attempt as a release before ADR 0040 stored it in ``app``'s store: no person, the values plain."""
    reserve, app.reserve_key = app.reserve_key, None  # the release before: no reservations, so no person
    number = f"4{uuid4().int % 10**5:05d}"
    submitted = app.submit(Applicant(number, "R-1", "alt@example.com", "Alt", "Bestand", "de"), "203.0.113.9")
    if complete:
        app.save(*app.on_verified(submitted.id, {"customer_number": number, "name": "Alt GmbH"}, []))
        registration = app.registration(submitted.id)
        token = app.tokens.token_for(registration.id, registration.token_nonce)  # type: ignore[arg-type]
        assert app.confirm(registration.id, token).person_id is None
    app.reserve_key = reserve
    return submitted.id


def resealed(app: Registrations, attempt: UUID) -> list[dict[str, Any]]:
    """The attempt's events as the re-seal writes them: each stepped, then sealed (``kc_runtime.reseal``)."""
    states = []
    for stored in app.recorder.select_events(attempt):
        cls = resolve_topic(stored.topic)
        state = decode_state(app.mapper, stored.state)
        state["originator_id"] = stored.originator_id
        if cls in app.legacy_personal_data:
            step(app, cls, state)
        if cls in app.personal_data:
            reseal_state(app.key_ring, app.personal_data[cls], state)  # type: ignore[arg-type]
        states.append(state)
    return states


@pytest.fixture
def users() -> Users:
    return Users()


@pytest.fixture
def completed_app(keys: UsersKeys, users: Users) -> Registrations:
    app = Registrations(key_ring=keys.ring(), reserve_key=keys.reserve)
    app.registration_main_contact = users.main_contact
    return app


def test_a_completed_legacy_attempt_names_the_main_contact_users_created_and_reserves_nobody(completed_app, keys, users):
    attempt = stored_plain(completed_app, complete=True)
    main_contact = uuid4()
    keys.keys[main_contact] = new_key()  # a user: their key is users'
    users.main_contacts[(attempt, company_id_for(completed_app.registration(attempt).customer_number))] = main_contact

    states = resealed(completed_app, attempt)

    named = [s["person_id"] for s in states if "person_id" in s]
    assert len(named) == 3 and set(named) == {main_contact}  # Submitted, ConfirmationRequested, Completed
    assert keys.reserved == [] and len(users.asked) == 1


def test_the_customer_account_of_a_completed_legacy_attempt_names_the_same_main_contact(completed_app, keys, users):
    attempt = stored_plain(completed_app, complete=True)
    number = completed_app.registration(attempt).customer_number
    main_contact = uuid4()
    keys.keys[main_contact] = new_key()
    users.main_contacts[(attempt, company_id_for(number))] = main_contact
    resealed(completed_app, attempt)
    (stored,) = completed_app.recorder.select_events(CustomerAccount.create_id(number))
    account = decode_state(completed_app.mapper, stored.state)

    assert step(completed_app, CustomerAccount.Registered, account) == 1
    assert account["main_contact_id"] == main_contact and keys.reserved == []


def test_destroying_the_main_contacts_key_leaves_nothing_of_a_completed_legacy_attempt_readable(
    completed_app, keys, users
):
    attempt = stored_plain(completed_app, complete=True)
    main_contact = uuid4()
    keys.keys[main_contact] = new_key()
    users.main_contacts[(attempt, company_id_for(completed_app.registration(attempt).customer_number))] = main_contact
    states = resealed(completed_app, attempt)
    submitted, completed = states[0], next(s for s in states if "main_contact" in s)
    assert is_sealed(submitted["email"]) and is_sealed(completed["main_contact"]["email"])
    assert keys.ring().reveal("registration/registration/email", submitted["email"]) == "alt@example.com"

    keys.erase(main_contact)

    after = keys.ring()  # a ring asking users again, as every replica's does once its keys' time is up
    assert after.reveal("registration/registration/email", submitted["email"]) is None
    assert after.reveal("registration/registration/first_name", submitted["first_name"]) is None
    assert after.reveal("registration/registration/main_contact.email", completed["main_contact"]["email"]) is None


def test_a_legacy_attempt_that_never_completed_is_given_a_reserved_person_without_asking_users(
    completed_app, keys, users
):
    attempt = stored_plain(completed_app, complete=False)

    named = [s["person_id"] for s in resealed(completed_app, attempt) if "person_id" in s]

    assert named == keys.reserved and len(named) == 1 and users.asked == []


def test_a_completed_legacy_attempt_users_created_no_main_contact_from_is_given_a_reserved_person(
    completed_app, keys, users
):
    attempt = stored_plain(completed_app, complete=True)

    named = [s["person_id"] for s in resealed(completed_app, attempt) if "person_id" in s]

    assert len(users.asked) == 1 and len(keys.reserved) == 1 and set(named) == {keys.reserved[0]}


def test_a_completed_legacy_attempt_needs_users_lookup_of_its_main_contact(keys):
    app = Registrations(key_ring=keys.ring(), reserve_key=keys.reserve)
    attempt = stored_plain(app, complete=True)
    (submitted, *_) = app.recorder.select_events(attempt)
    state = decode_state(app.mapper, submitted.state)

    with pytest.raises(ValueError, match="registration lookup"):
        step(app, Registration.Submitted, state | {"originator_id": attempt})
    assert keys.reserved == []
