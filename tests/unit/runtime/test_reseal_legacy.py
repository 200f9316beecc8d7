"""The re-seal's steps for states older releases stored (``ServiceApplication.legacy_personal_data``, ADR 0035
"Upcasting", ADR 0040): an attempt submitted before ADR 0040 is given one person whose key users reserves, the same
for every event of the attempt and its customer account; a claim of an address made before the blind indexes
loses the address; states stored today are left as they are."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from kc_runtime.reseal import reseal_state
from registration.application.registrations import Registrations
from registration.domain.lockout import AttemptCounter, CounterKind
from registration.domain.model import CustomerAccount, Registration
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
