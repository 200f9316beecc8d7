"""Personal fields of events stored sealed with their person's key and opened when read (ADR 0035): what an event
store holds after an erasure is ciphertext under a key that no longer exists."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import Aggregate, event

from kc_runtime.eventstore import ServiceApplication
from kc_runtime.sealing import UNKNOWN, KeyRing, Personal, Unreadable, is_sealed, new_key
from kc_runtime.transcoding import dataclass_transcoding

MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


class Person(Aggregate):
    class Created(Aggregate.Created):
        email: str
        name: str
        team: str

    @event(Created)
    def __init__(self, email: str, name: str, team: str) -> None:
        self.email = email
        self.name: str | None = name
        self.team = team
        self.notes: list[str | None] = []

    class Noted(Aggregate.Event):
        author_id: UUID | None
        text: str | None

    @event(Noted)
    def note(self, author_id: UUID | None, text: str | None) -> None:
        self.notes.append(text)


class People(ServiceApplication):
    personal_data: ClassVar = {
        Person.Created: Personal("test/person", ("email", "name")),
        Person.Noted: Personal("test/note", ("text",), owner="author_id"),
    }


class Keys:
    """users' side: who has which key (None: erased)."""

    def __init__(self) -> None:
        self.keys: dict[UUID, bytes | None] = {}
        self.asked = 0

    def fetch(self, person: UUID) -> bytes | None:
        self.asked += 1
        return self.keys.get(person)


def stored_states(app: People, aggregate_id: UUID) -> list[bytes]:
    return [e.state for e in app.recorder.select_events(aggregate_id)]


def made(keys: Keys, **kwargs: Any) -> tuple[People, Person]:
    app = People(env=MEMORY, key_ring=KeyRing(keys.fetch))
    person = Person(**kwargs)
    keys.keys[person.id] = new_key()
    return app, person


def test_personal_fields_are_stored_sealed_and_read_plain() -> None:
    keys = Keys()
    app, person = made(keys, email="erika.marker@example.com", name="Erika Marker", team="Purchasing")
    app.save(person)
    (state,) = stored_states(app, person.id)
    assert b"erika.marker" not in state and b"Erika Marker" not in state
    assert b"Purchasing" in state  # what is not declared personal stays as it is
    assert person.email == "erika.marker@example.com"  # the aggregate in memory keeps its plain values
    loaded = app.repository.get(person.id)
    assert (loaded.email, loaded.name, loaded.team) == ("erika.marker@example.com", "Erika Marker", "Purchasing")


def test_a_comment_is_sealed_with_its_authors_key_and_a_value_of_nobody_stays_plain() -> None:
    keys = Keys()
    app, person = made(keys, email="a@example.com", name="A", team="T")
    author = uuid4()
    keys.keys[author] = new_key()
    person.note(author, "the author's marker words")
    person.note(None, "a note by nobody")
    app.save(person)
    states = stored_states(app, person.id)
    assert b"marker words" not in states[1] and b"a note by nobody" in states[2]
    assert app.repository.get(person.id).notes == ["the author's marker words", "a note by nobody"]
    keys.keys[author] = None  # the author is erased, the person is not
    fresh = People(env=MEMORY, key_ring=KeyRing(keys.fetch))
    fresh.recorder = app.recorder  # the same store, read by a process that never had the author's key
    fresh.repository.event_store.recorder = app.recorder
    assert fresh.repository.get(person.id).notes == [None, "a note by nobody"]


def test_an_erased_persons_values_read_as_none_and_their_events_still_load() -> None:
    keys = Keys()
    ring = KeyRing(keys.fetch)
    app = People(env=MEMORY, key_ring=ring)
    person = Person(email="gone@example.com", name="Gone Person", team="Sales")
    keys.keys[person.id] = new_key()
    app.save(person)
    keys.keys[person.id] = None  # users destroyed the key
    ring.forget(person.id)  # on UserErased
    loaded = app.repository.get(person.id)
    assert (loaded.email, loaded.name, loaded.team) == (None, None, "Sales")
    (state,) = stored_states(app, person.id)
    assert b"gone@example.com" not in state


def test_a_person_without_a_key_gets_nothing_stored() -> None:
    keys = Keys()
    app = People(env=MEMORY, key_ring=KeyRing(keys.fetch))
    person = Person(email="late@example.com", name="Late", team="T")  # erased (no key) before this was saved
    app.save(person)
    (state,) = stored_states(app, person.id)
    assert b"late@example.com" not in state and b"Late" not in state
    assert app.repository.get(person.id).email is None


def test_values_stored_before_sealing_read_as_they_are() -> None:
    keys = Keys()
    plain = People(env=MEMORY)  # no key ring: as before this release
    person = Person(email="old@example.com", name="Old", team="T")
    plain.save(person)
    (state,) = stored_states(plain, person.id)
    assert b"old@example.com" in state
    sealing = People(env=MEMORY, key_ring=KeyRing(keys.fetch))
    sealing.recorder = plain.recorder
    sealing.repository.event_store.recorder = plain.recorder
    assert sealing.repository.get(person.id).email == "old@example.com"


def test_a_text_that_looks_sealed_is_sealed_like_any_other_and_reads_back_as_typed() -> None:
    keys = Keys()
    app, victim = made(keys, email="v@example.com", name="Victim", team="T")
    app.save(victim)
    (victims,) = stored_states(app, victim.id)
    copied = next(v for v in victims.decode().split('"') if is_sealed(v))  # someone got hold of a sealed value
    app2, mallory = made(keys, email="m@example.com", name=copied, team="T")
    app2.save(mallory)
    assert app2.repository.get(mallory.id).name == copied  # never opened as the victim's value


def test_an_altered_sealed_value_does_not_load() -> None:
    keys = Keys()
    app, person = made(keys, email="x@example.com", name="X", team="T")
    app.save(person)
    (stored,) = app.recorder.select_events(person.id)
    sealed = next(v for v in stored.state.decode().split('"') if is_sealed(v))
    other = Personal("test/person", ("email",))
    state = {"originator_id": person.id, "email": sealed.replace(sealed[-6:], "AAAAAA")}
    with pytest.raises(Unreadable):
        other.open(KeyRing(keys.fetch), state)


def test_keys_are_asked_once_per_person_and_event() -> None:
    keys = Keys()
    app, person = made(keys, email="k@example.com", name="K", team="T")
    app.save(person)
    assert keys.asked == 1  # two fields, one key
    app.repository.get(person.id)
    assert keys.asked == 1  # the ring keeps it


@dataclass(frozen=True)
class Content:
    lines: int
    comment: str | None


class Order(Aggregate):
    class Placed(Aggregate.Created):
        buyer_id: UUID
        content: Content
        extra: dict

    @event(Placed)
    def __init__(self, buyer_id: UUID, content: Content, extra: dict) -> None:
        self.content = content
        self.extra = extra


class Orders(ServiceApplication):
    personal_data: ClassVar = {
        Order.Placed: Personal("test/order", ("content.comment", "extra.note"), owner="buyer_id"),
    }

    def register_transcodings(self, transcoder: Any) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(dataclass_transcoding(Content))


def test_a_field_inside_a_value_object_or_a_dict_is_sealed_and_opened() -> None:
    keys = Keys()
    buyer = uuid4()
    keys.keys[buyer] = new_key()
    ring = KeyRing(keys.fetch)
    app = Orders(env=MEMORY, key_ring=ring)
    order = Order(buyer, Content(3, "deliver to gate marker-7"), {"note": "call marker-8", "n": 1})
    app.save(order)
    (state,) = stored_states(app, order.id)
    assert b"marker-7" not in state and b"marker-8" not in state and b'"n":1' in state.replace(b" ", b"")
    assert order.content.comment == "deliver to gate marker-7"  # the value object in memory is not touched
    loaded = app.repository.get(order.id)
    assert (loaded.content, loaded.extra) == (Content(3, "deliver to gate marker-7"), {"note": "call marker-8", "n": 1})
    keys.keys[buyer] = None
    ring.forget(buyer)
    gone = app.repository.get(order.id)
    assert (gone.content, gone.extra) == (Content(3, None), {"note": None, "n": 1})


def test_a_person_users_does_not_know_keeps_plain_values_and_an_erased_one_nothing() -> None:
    keys = Keys()
    app, person = made(keys, email="p@example.com", name="P", team="T")
    stranger, erased = uuid4(), uuid4()
    keys.keys[erased] = None
    ring = app.key_ring
    assert ring is not None
    ring.fetch = lambda who: UNKNOWN if who == stranger else keys.fetch(who)
    person.note(stranger, "words of an ERP contact")
    person.note(erased, "words of an erased person")
    app.save(person)
    states = stored_states(app, person.id)
    assert b"words of an ERP contact" in states[1] and b"erased person" not in states[2]
    assert app.repository.get(person.id).notes == ["words of an ERP contact", None]


class Request(Aggregate):
    class Made(Aggregate.Created):
        request: dict

    @event(Made)
    def __init__(self, request: dict) -> None:
        self.request = request


class Requests(ServiceApplication):
    personal_data: ClassVar = {
        Request.Made: (
            Personal("test/request/buyer", ("request.buyer_name",), owner="request.buyer_id"),
            Personal("test/request/approver", ("request.approver_name",), owner="request.approver_id"),
        ),
    }


def test_values_of_several_people_in_one_event_are_each_sealed_with_their_own_key() -> None:
    keys = Keys()
    buyer, approver = uuid4(), uuid4()
    keys.keys.update({buyer: new_key(), approver: new_key()})
    ring = KeyRing(keys.fetch)
    app = Requests(env=MEMORY, key_ring=ring)
    kept = {"buyer_id": str(buyer), "buyer_name": "Bruno Buyer", "approver_id": str(approver), "approver_name": "Anna"}
    made_request = Request(kept)
    app.save(made_request)
    (state,) = stored_states(app, made_request.id)
    assert b"Bruno" not in state and b"Anna" not in state
    keys.keys[approver] = None
    ring.forget(approver)
    assert app.repository.get(made_request.id).request == {**kept, "approver_name": None}
