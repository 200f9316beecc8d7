"""The re-seal runbook step on PostgreSQL (``kc_runtime.reseal``, ADR 0035 "Upcasting"): events stored plain before
the release — by an application without a key ring — are written again with their personal fields sealed, in
place, so the events table holds none of their values in any form, while the application reads them as before."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, ClassVar
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import Aggregate, event

from kc_runtime.eventstore import ServiceApplication
from kc_runtime.reseal import reseal
from kc_runtime.sealing import UNKNOWN, KeyRing, Personal, is_sealed, new_key
from tests.integration.test_exactly_once import es_env
from tests.support.erasure import found_in_tables

pytestmark = pytest.mark.integration


class Person(Aggregate):
    class Registered(Aggregate.Created):
        name: str
        email: str

    class Commented(Aggregate.Event):
        author_id: UUID
        text: str

    @event(Registered)
    def __init__(self, name: str, email: str) -> None:
        self.name = name
        self.email = email
        self.comments: list[tuple[UUID, str | None]] = []

    @event(Commented)
    def comment(self, author_id: UUID, text: str) -> None:
        self.comments.append((author_id, text))


class People(ServiceApplication):
    name = "ResealPeople"
    personal_data: ClassVar[dict[type, Personal]] = {
        Person.Registered: Personal("test/person", ("name", "email")),
        Person.Commented: Personal("test/comment", ("text",), owner="author_id"),  # the author's key
    }


@dataclass
class UsersKeys:
    """users' key endpoint as the ring sees it: a key, None once erased, UNKNOWN for no person it knows."""

    keys: dict[UUID, bytes | None] = field(default_factory=dict)

    def fetch(self, person: UUID) -> bytes | None:
        return self.keys.get(person, UNKNOWN)

    def ring(self) -> KeyRing:
        return KeyRing(self.fetch)


@dataclass
class Store:
    dsn: str
    users: UsersKeys
    apps: list[People] = field(default_factory=list)

    def app(self, sealing: bool = True) -> People:
        """The application as before the release (no ring: stores plain) or after it (the ring of users' keys)."""
        made = People(env=es_env(self.dsn), key_ring=self.users.ring() if sealing else None)
        self.apps.append(made)
        return made

    def person(self, app: People, name: str, email: str, known: bool = True) -> Person:
        person = Person(name, email)
        if known:
            self.users.keys[person.id] = new_key()
        app.save(person)
        return person

    def rows(self, app: People) -> list[dict[str, Any]]:
        with app.recorder.datastore.get_connection() as conn:  # type: ignore[attr-defined]
            return conn.execute(
                f"SELECT notification_id, originator_id, originator_version, topic, state"
                f" FROM {app.recorder.events_table_name} ORDER BY notification_id"  # type: ignore[attr-defined]
            ).fetchall()


def marker(what: str) -> str:
    return f"{what}-{uuid4().hex[:12]}"


@pytest.fixture
async def store(database) -> AsyncIterator[Store]:
    made = Store(await database("reseal"), UsersKeys())
    yield made
    for app in made.apps:
        app.close()


def stored_before_the_release(store: Store) -> tuple[Person, list[str]]:
    """A known person with a name, an address and a comment by another known person, stored plain."""
    plain = store.app(sealing=False)
    name, email, text = marker("Reseal"), marker("reseal") + "@example.com", marker("Kommentar äöü")
    person = store.person(plain, name, email)
    author = store.person(plain, marker("Autor"), marker("autor") + "@example.com")
    person.comment(author.id, text)
    plain.save(person)
    return person, [name, email, text]


async def test_after_the_run_the_events_table_holds_no_plain_value_in_any_form(store):
    _, markers = stored_before_the_release(store)
    assert await found_in_tables(store.dsn, markers, skip=set()), "stored plain, as before the release"

    summary = reseal(store.app())

    assert await found_in_tables(store.dsn, markers, skip=set()) == []
    assert summary.events_resealed == 3  # the two registrations and the comment
    assert summary.values_sealed == 5


async def test_the_application_with_the_ring_reads_the_values_it_stored_plain(store):
    person, (name, email, text) = stored_before_the_release(store)
    before = store.app(sealing=False).repository.get(person.id)

    reseal(store.app())

    after = store.app().repository.get(person.id)
    assert (after.name, after.email, after.comments) == (name, email, before.comments)
    assert after.comments[0][1] == text


async def test_a_second_run_changes_no_row(store):
    stored_before_the_release(store)
    reseal(store.app())
    states = [r["state"] for r in store.rows(store.app())]

    again = reseal(store.app())

    assert (again.events_read, again.events_resealed, again.values_sealed) == (3, 0, 0)
    assert [r["state"] for r in store.rows(store.app())] == states  # sealed values keep their nonces


async def test_values_stored_sealed_after_the_release_are_left_as_they_are(store):
    stored_before_the_release(store)
    sealing = store.app()
    newer = store.person(sealing, marker("Neu"), marker("neu") + "@example.com")
    sealed_row = next(r for r in store.rows(sealing) if r["originator_id"] == newer.id)

    summary = reseal(sealing)

    assert summary.events_read == 4 and summary.events_resealed == 3
    assert next(r for r in store.rows(sealing) if r["originator_id"] == newer.id) == sealed_row


async def test_the_rows_keep_their_position_topic_and_notification_id(store):
    stored_before_the_release(store)
    app = store.app()
    before = store.rows(app)

    reseal(app)

    after = store.rows(app)
    assert [{k: v for k, v in r.items() if k != "state"} for r in after] == [
        {k: v for k, v in r.items() if k != "state"} for r in before
    ]
    assert all(a["state"] != b["state"] for a, b in zip(after, before, strict=True))


async def test_values_of_a_person_users_does_not_know_stay_plain(store):
    plain = store.app(sealing=False)
    name, email = marker("Kontakt"), marker("kontakt") + "@example.com"
    contact = store.person(plain, name, email, known=False)

    summary = reseal(store.app())

    assert summary.events_resealed == 0 and summary.values_kept_plain == 2
    assert await found_in_tables(store.dsn, [name, email], skip=set())
    assert store.app().repository.get(contact.id).name == name


async def test_the_values_read_as_none_once_the_persons_key_is_gone(store):
    person, _ = stored_before_the_release(store)
    reseal(store.app())

    store.users.keys[person.id] = None  # erased: users deleted the key
    author = store.app().repository.get(person.id).comments[0][0]
    store.users.keys[author] = None

    erased = store.app().repository.get(person.id)
    assert (erased.name, erased.email, erased.comments) == (None, None, [(author, None)])


async def test_values_of_a_person_erased_before_the_run_are_cleared(store):
    person, markers = stored_before_the_release(store)
    store.users.keys[person.id] = None

    summary = reseal(store.app())

    assert summary.values_erased == 2
    assert await found_in_tables(store.dsn, markers[:2], skip=set()) == []
    erased = store.app(sealing=False).repository.get(person.id)  # stored as None: nothing to open
    assert (erased.name, erased.email) == (None, None)


async def test_a_run_in_pages_seals_every_event(store):
    person, _ = stored_before_the_release(store)

    summary = reseal(store.app(), page_size=2)

    assert (summary.pages, summary.events_read, summary.events_resealed) == (2, 3, 3)
    as_stored = store.app(sealing=False).repository.get(person.id)  # no ring: the values as the table holds them
    assert is_sealed(as_stored.name) and is_sealed(as_stored.email) and is_sealed(as_stored.comments[0][1])
