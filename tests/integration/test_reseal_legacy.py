"""The re-seal runbook step on what older releases stored in shapes no new event has (``kc_runtime.reseal``,
``ServiceApplication.legacy_personal_data``; ADR 0035 "Upcasting", ADR 0040): registration attempts submitted
before ADR 0040 (no person: the applicant's values plain) get a person whose key users reserves and are sealed with
it; claims of an e-mail address made before the blind indexes (registration's ``TakenAddress``, users' ``KeyClaim``)
lose the address their events kept. users' keys a stand-in (:mod:`tests.service.registration.keys`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from uuid import UUID, uuid4

import pytest
from pydantic import SecretStr

from kc_runtime.migrations import history, upgrade
from kc_runtime.reseal import decode_state, reseal
from kc_runtime.settings import ServiceSettings
from registration.application.registrations import Applicant, Registrations
from registration.domain.lockout import AttemptCounter, CounterKind, LockoutPolicy, TooManyAttempts
from registration.domain.model import CustomerAccount
from registration.domain.taken import TakenAddress
from tests.service.registration.keys import UsersKeys
from tests.support.erasure import found_in_tables
from tests.support.infra import random_suffix
from users.domain.model import KeyClaim, email_key, role_name_key
from users.main import build_directory
from users.settings import UsersSettings

pytestmark = pytest.mark.integration


@dataclass
class Store:
    dsn: str
    keys: UsersKeys = field(default_factory=UsersKeys)
    apps: list[Registrations] = field(default_factory=list)

    def app(self, release: bool = True) -> Registrations:
        """registration as before ADR 0040 (no keys: attempts name no person, values plain) or as released."""
        env = ServiceSettings(database_url=SecretStr(self.dsn), db_pool_size=2).eventsourcing_env()
        made = (
            Registrations(env=env, key_ring=self.keys.ring(), reserve_key=self.keys.reserve)
            if release
            else Registrations(env=env)
        )
        self.apps.append(made)
        return made

    def states(self, app: Registrations, originator_id: UUID) -> list[dict]:
        with app.recorder.datastore.get_connection() as conn:  # type: ignore[attr-defined]
            rows = conn.execute(
                f"SELECT state FROM {app.recorder.events_table_name}"  # type: ignore[attr-defined]
                " WHERE originator_id = %s ORDER BY originator_version",
                [originator_id],
            ).fetchall()
        return [decode_state(app.mapper, bytes(r["state"])) for r in rows]


@dataclass(frozen=True)
class Legacy:
    """A completed attempt and a taken address, as a release before ADR 0040 and the blind indexes stored them."""

    registration_id: UUID
    customer_number: str
    markers: list[str]
    taken: str
    holder: UUID


@pytest.fixture
async def store(database) -> AsyncIterator[Store]:
    made = Store(await database("registration"))
    yield made
    for app in made.apps:
        app.close()


def stored_before_the_release(store: Store) -> Legacy:
    app = store.app(release=False)
    tag = random_suffix()
    number = f"4{uuid4().int % 10**5:05d}"
    email, first, last = f"altbestand-{tag}@example.com", f"Alt{tag}", f"Bestand{tag}"
    ip = f"203.0.{uuid4().int % 250}.{uuid4().int % 250 + 1}"
    submitted = app.submit(Applicant(number, "R-1", email, first, last, "de"), ip)
    app.save(*app.on_verified(submitted.id, {"customer_number": number, "name": "Alt GmbH"}, []))
    registration = app.registration(submitted.id)
    token = app.tokens.token_for(registration.id, registration.token_nonce)  # type: ignore[arg-type]
    done = app.confirm(registration.id, token)
    assert done.status.value == "completed" and done.person_id is None
    taken, holder = f"vergeben-{tag}@example.com", uuid4()
    app.save(TakenAddress(email=taken, user_id=holder))  # the legacy claim: uuid5 id, the address in Taken
    assert app.address_ids(taken)[1] == TakenAddress.create_id(taken)
    return Legacy(done.id, number, [email, first, last, ip], taken, holder)


async def test_a_legacy_attempt_is_given_one_reserved_person_and_its_values_are_sealed_with_their_key(store):
    legacy = await asyncio.to_thread(stored_before_the_release, store)
    assert await found_in_tables(store.dsn, legacy.markers, skip=set()), "stored plain, as before the release"

    summary = await asyncio.to_thread(reseal, store.app())

    assert await found_in_tables(store.dsn, legacy.markers, skip=set()) == []
    assert len(store.keys.reserved) == 1, "one person per attempt"
    person = store.keys.reserved[0]
    app = store.app()
    named = [s["person_id"] for s in store.states(app, legacy.registration_id) if "person_id" in s]
    assert len(named) == 3 and set(named) == {person}  # Submitted, ConfirmationRequested, Completed
    (account,) = store.states(app, CustomerAccount.create_id(legacy.customer_number))
    assert account["main_contact_id"] == person
    assert summary.legacy_values == 5 and summary.values_sealed > 0


async def test_a_legacy_attempt_reads_as_before_with_its_person_after_the_run(store):
    legacy = await asyncio.to_thread(stored_before_the_release, store)
    email, first, last, ip = legacy.markers

    await asyncio.to_thread(reseal, store.app())

    loaded = store.app().registration(legacy.registration_id)
    assert (loaded.email, loaded.first_name, loaded.last_name, loaded.client_address) == (email, first, last, ip)
    assert loaded.person_id == store.keys.reserved[0] and loaded.status.value == "completed"
    assert [r.id for r in store.app().attempts_of_customer(legacy.customer_number)] == [legacy.registration_id]


async def test_a_legacy_attempt_reads_as_nulls_once_its_persons_key_is_gone(store):
    legacy = await asyncio.to_thread(stored_before_the_release, store)
    await asyncio.to_thread(reseal, store.app())

    store.keys.erase(store.keys.reserved[0])

    erased = store.app().registration(legacy.registration_id)
    assert (erased.email, erased.first_name, erased.last_name, erased.client_address) == (None, None, None, None)
    assert erased.applicant_erased and erased.status.value == "completed"


async def test_a_legacy_address_claim_keeps_no_address_and_still_takes_the_address(store):
    legacy = await asyncio.to_thread(stored_before_the_release, store)
    assert await found_in_tables(store.dsn, [legacy.taken], skip=set())

    await asyncio.to_thread(reseal, store.app())

    assert await found_in_tables(store.dsn, [legacy.taken], skip=set()) == []
    app = store.app()
    assert app.email_taken(legacy.taken)
    claim = app.repository.get(TakenAddress.create_id(legacy.taken))
    assert (claim.user_id, claim.email) == (legacy.holder, "")


def locked_before_the_release(store: Store) -> str:
    """A client address locked by a counter made before its blind index (uuid5 id, the address in ``Opened``),
    snapshotted (the snapshot holds the address too)."""
    app = store.app(release=False)
    ip = f"198.18.{uuid4().int % 250}.{uuid4().int % 250 + 1}"
    counter = AttemptCounter(kind=CounterKind.CLIENT_ADDRESS, key=ip)
    counter.record_failure(uuid4(), app.clock(), LockoutPolicy(1, 900, 900))
    app.save(counter)
    app.take_snapshot(counter.id)
    assert counter.id == AttemptCounter.create_id(CounterKind.CLIENT_ADDRESS, ip) and counter.is_locked(app.clock())
    return ip


async def test_a_legacy_lockout_counter_keeps_no_address_and_its_lockout_stays_in_force(store):
    ip = await asyncio.to_thread(locked_before_the_release, store)
    assert await found_in_tables(store.dsn, [ip], skip=set()), "in the counter's event and its snapshot"

    summary = await asyncio.to_thread(reseal, store.app())

    assert await found_in_tables(store.dsn, [ip], skip=set()) == []
    assert summary.snapshots_dropped == 1
    app = store.app()
    counter = app.counter(CounterKind.CLIENT_ADDRESS, ip)
    assert counter is not None and counter.key == "" and counter.is_locked(app.clock())
    with pytest.raises(TooManyAttempts):
        app.submit(Applicant("612345", "R-1", "gesperrt@example.com", "G", "S", "de"), ip)


async def test_a_second_run_changes_no_row_and_reserves_no_other_person(store):
    legacy = await asyncio.to_thread(stored_before_the_release, store)
    ip = await asyncio.to_thread(locked_before_the_release, store)
    await asyncio.to_thread(reseal, store.app())
    app = store.app()
    counter_id = AttemptCounter.create_id(CounterKind.CLIENT_ADDRESS, ip)
    before = store.states(app, legacy.registration_id) + store.states(app, counter_id)

    again = await asyncio.to_thread(reseal, store.app())

    assert (again.events_resealed, again.values_sealed, again.legacy_values) == (0, 0, 0)
    assert again.snapshots_dropped == 0 and len(store.keys.reserved) == 1
    assert store.states(app, legacy.registration_id) + store.states(app, counter_id) == before


async def test_an_attempt_submitted_after_the_release_keeps_its_person(store):
    app = store.app()
    tag = random_suffix()
    sealed = app.submit(
        Applicant(f"5{uuid4().int % 10**5:05d}", "R-1", f"neu-{tag}@example.com", "N", "N", "de"), "192.0.2.7"
    )
    before = store.states(app, sealed.id)

    summary = await asyncio.to_thread(reseal, store.app())

    assert summary.legacy_values == 0 and store.keys.reserved == [sealed.person_id]
    assert store.states(app, sealed.id) == before


async def test_a_legacy_email_claim_in_users_keeps_no_address_and_still_holds_it(database):
    dsn = await database("users")
    versions = history("users")
    assert versions is not None
    await asyncio.to_thread(upgrade, versions, dsn)
    directory = build_directory(UsersSettings(database_url=SecretStr(dsn), db_pool_size=2))
    try:
        address, owner = f"legacy-{uuid4().hex[:12]}@example.com", uuid4()
        directory.save(KeyClaim(key=email_key(address), owner_id=owner))  # before the blind index: uuid5 id
        role_claim = KeyClaim(key=role_name_key(uuid4(), "Einkauf"), owner_id=uuid4())
        directory.save(role_claim)
        assert await found_in_tables(dsn, [address], skip=set())

        first = await asyncio.to_thread(reseal, directory)
        again = await asyncio.to_thread(reseal, directory)

        assert await found_in_tables(dsn, [address], skip=set()) == []
        claim = directory.email_claim(address)
        assert claim is not None and claim.owner_id == owner and claim.key == KeyClaim.EMAIL_INDEX
        assert directory.repository.get(role_claim.id).key == role_claim.key  # no one's address: kept
        assert (first.legacy_values, again.legacy_values, again.events_resealed) == (1, 0, 0)
    finally:
        directory.close()
