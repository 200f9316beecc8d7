"""The re-seal's steps for states older releases stored (``ServiceApplication.legacy_personal_data``, ADR 0035
"Upcasting", ADR 0040): an attempt submitted before ADR 0040 is given one person whose key users reserves, the same
for every event of the attempt and its customer account; a claim of an address made before the blind indexes
loses the address; states stored today are left as they are."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.utils import resolve_topic

from erp_sync.application.exchanges import Exchanges
from erp_sync.domain.verification import CustomerCenterActivation
from kc_runtime import reseal as reseal_module
from kc_runtime.eventstore import WorkerPool
from kc_runtime.person_keys import PersonKeyClient
from kc_runtime.reseal import Resealed, decode_state, reseal_state
from kc_runtime.sealing import is_sealed, new_key
from kc_runtime.settings import ServiceSettings
from notifications.application.mails import MailRequest, Mails
from notifications.domain.model import Mail
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
    app.main_contact_lookup = users.main_contact
    return app


def test_a_completed_legacy_attempt_names_the_main_contact_users_created_and_reserves_nobody(
    completed_app, keys, users
):
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


def legacy_activation() -> dict[str, Any]:
    """erp-sync's customer-center activation as a release before ADR 0040 stored it: no ``main_contact.user_id``."""
    return {
        "originator_id": uuid4(),
        "company_id": uuid4(),
        "registration_id": uuid4(),
        "customer_number": "10001",
        "main_contact": {"email": "alt@example.com", "first_name": "Alt", "last_name": "Bestand", "user_id": None},
    }


def test_a_legacy_activation_names_the_main_contact_users_created_and_is_sealed_with_their_key(keys, users):
    exchanges = Exchanges(key_ring=keys.ring())
    exchanges.main_contact_lookup = users.main_contact
    state, main_contact = legacy_activation(), uuid4()
    keys.keys[main_contact] = new_key()
    users.main_contacts[(state["registration_id"], state["company_id"])] = main_contact

    assert step(exchanges, CustomerCenterActivation.Requested, state) == 1
    outcome = reseal_state(exchanges.key_ring, exchanges.personal_data[CustomerCenterActivation.Requested], state)  # type: ignore[arg-type]

    assert state["main_contact"]["user_id"] == str(main_contact) and outcome.sealed == 3
    place = "erp-sync/customer-center-activation/main_contact.email"
    assert keys.ring().reveal(place, state["main_contact"]["email"]) == "alt@example.com"
    keys.erase(main_contact)
    assert keys.ring().reveal(place, state["main_contact"]["email"]) is None
    exchanges.close()


def test_a_legacy_activation_users_created_no_main_contact_from_stays_as_it_is(keys, users):
    exchanges = Exchanges(key_ring=keys.ring())
    exchanges.main_contact_lookup = users.main_contact
    state = legacy_activation()

    assert step(exchanges, CustomerCenterActivation.Requested, state) == 0
    assert state["main_contact"]["user_id"] is None and len(users.asked) == 1
    exchanges.close()


def test_an_activation_that_names_its_main_contact_is_left_without_asking_users(keys, users):
    exchanges = Exchanges(key_ring=keys.ring())
    exchanges.main_contact_lookup = users.main_contact
    state, named = legacy_activation(), str(uuid4())
    state["main_contact"]["user_id"] = named

    assert step(exchanges, CustomerCenterActivation.Requested, state) == 0
    assert state["main_contact"]["user_id"] == named and users.asked == []
    exchanges.close()


def test_a_legacy_activation_needs_users_lookup_of_its_main_contact(keys):
    exchanges = Exchanges(key_ring=keys.ring())
    with pytest.raises(ValueError, match="users' lookup"):
        step(exchanges, CustomerCenterActivation.Requested, legacy_activation())
    exchanges.close()


def legacy_mail(mails: Mails, kind: str = "registration_confirmation", *, sent: bool) -> UUID:
    """A registration's mail to its applicant as a release before ADR 0040 queued it (about nobody), sent or not."""
    request = MailRequest(kind, {"first_name": "Alt", "last_name": "Bestand", "confirm_path": "/c/1"},
                          to_email="alt@example.com", language="de")  # fmt: skip
    (mail,) = mails.queue(str(uuid4()), [request])
    mails.save(mail)
    if sent:
        mails.mark_sent(mail.id, "Alt Bestand <alt@example.com>", "Bitte bestätigen Sie Ihre Registrierung")
    return mail.id


def stepped(mails: Mails, mail_id: UUID) -> list[tuple[int, dict[str, Any]]]:
    out = []
    for stored in mails.recorder.select_events(mail_id):
        cls = resolve_topic(stored.topic)
        state = decode_state(mails.mapper, stored.state) | {"originator_id": stored.originator_id}
        out.append((step(mails, cls, state) if cls in mails.legacy_personal_data else 0, state))
    return out


@pytest.mark.parametrize("kind", ["registration_confirmation", "registration_completed"])
def test_a_sent_legacy_registration_mail_keeps_neither_the_address_nor_the_names_but_its_kind_and_times(kind):
    mails = Mails()
    mail_id = legacy_mail(mails, kind, sent=True)

    (queued_changed, queued), (sent_changed, sent) = stepped(mails, mail_id)

    assert (queued_changed, sent_changed) == (4, 1)
    assert (queued["to_email"], queued["recipient_key"], sent["to"]) == ("", "", "")
    assert (queued["data"]["first_name"], queued["data"]["last_name"]) == ("", "")
    assert queued["kind"] == kind and queued["queued_at"] and sent["at"] and sent["subject"]
    assert "alt@example.com" not in repr([queued, sent]) and "Bestand" not in repr([queued, sent])
    mails.close()


def test_a_legacy_registration_mail_still_waiting_keeps_what_it_is_to_be_sent_with():
    mails = Mails()
    mail_id = legacy_mail(mails, sent=False)

    ((changed, queued),) = stepped(mails, mail_id)

    assert changed == 0 and queued["to_email"] == "alt@example.com" and queued["data"]["first_name"] == "Alt"
    mails.close()


def test_a_registration_mail_about_its_applicant_is_left_to_be_sealed_with_their_key():
    mails = Mails()
    request = MailRequest("registration_completed", {"first_name": "Neu", "last_name": "Kunde"},
                          to_email="neu@example.com", language="de", about_user_id=uuid4())  # fmt: skip
    (mail,) = mails.queue(str(uuid4()), [request])
    mails.save(mail)
    mails.mark_sent(mail.id, "neu@example.com", "Willkommen")

    assert [changed for changed, _ in stepped(mails, mail.id)] == [0, 0]
    mails.close()


def test_a_second_run_over_a_blanked_legacy_mail_changes_nothing():
    mails = Mails()
    mail_id = legacy_mail(mails, sent=True)
    states = stepped(mails, mail_id)

    assert [step(mails, cls, state) for cls, (_, state) in zip((Mail.Queued, Mail.Sent), states, strict=True)] == [0, 0]
    mails.close()


class FakeRuntime:
    """What ``kc_runtime.schema.build_runtime`` answers, around an application (nothing to shut down)."""

    def __init__(self, app: Any, profile: str) -> None:
        self.app = app
        self.settings = ServiceSettings(profile=profile, users_internal_url="http://users.test")  # type: ignore[arg-type]
        self.on_shutdown: list[Any] = []
        self.blocking = WorkerPool(1)


def run_command(monkeypatch, app: Any, profile: str = "development") -> list[Any]:
    ran: list[Any] = []
    monkeypatch.setattr("kc_runtime.schema.build_runtime", lambda package, create: FakeRuntime(app, profile))
    monkeypatch.setattr(reseal_module, "reseal", lambda app, page_size: ran.append(app) or Resealed(table="t"))
    assert reseal_module.main(["registration"]) == 0
    return ran


def test_the_command_gives_an_application_with_legacy_registrations_users_lookup_of_their_main_contact(
    monkeypatch, keys
):
    app = Registrations(key_ring=keys.ring(), reserve_key=keys.reserve)

    assert run_command(monkeypatch, app) == [app]

    lookup = app.main_contact_lookup
    assert lookup is not None and lookup.__name__ == "registration_main_contact"
    assert isinstance(lookup.__self__, PersonKeyClient)  # type: ignore[attr-defined]


def test_the_command_makes_no_users_client_for_an_application_without_legacy_registrations(monkeypatch):
    directory = Directory()  # users' own run: in production it has no token for itself, and needs none
    assert run_command(monkeypatch, directory, profile="production") == [directory]
    assert not hasattr(directory, "main_contact_lookup")
