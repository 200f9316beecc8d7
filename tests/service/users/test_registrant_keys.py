"""A key for registration's future main contact before they are a user (ADR 0040) on the in-memory store: reserved
under the id registration minted (``PUT /internal/person-keys/{user_id}``), taken by the main contact users creates
with that id when the registration completes — never by anyone else, never handing over an existing user — and
destroyed with them."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from uuid import UUID, uuid4

import httpx
import pytest

from contracts.registration.v1 import RegistrationCompleted
from contracts.topics import REGISTRATION_REGISTRATIONS
from kc_runtime.consumer import IdempotentConsumer
from kc_runtime.eventstore import WorkerPool
from kc_runtime.sealed_messages import seal_body
from kc_runtime.sealing import KeyRing, Unreadable, is_sealed, unseal
from tests.service.users.conftest import World, make_world, register
from tests.service.users.test_http import auth, verify
from tests.service.users.test_registration_consumer import FakeBatch, RecordingBroker, record
from tests.support.users import registration, signed_in
from users.adapters.inbound.kafka import consumer_specs
from users.application.directory import Directory
from users.domain.errors import PersonErased
from users.main import create_app
from users.settings import DEVELOPMENT_INTERNAL_TOKEN, UsersSettings

INTERNAL = {"Authorization": f"Bearer {DEVELOPMENT_INTERNAL_TOKEN}"}


def memory_directory() -> Directory:
    return Directory(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def naming(msg: RegistrationCompleted, person_id: UUID) -> RegistrationCompleted:
    """The completion as registration sends it for an attempt submitted under ADR 0040."""
    return msg.model_copy(update={"main_contact": msg.main_contact.model_copy(update={"user_id": person_id})})


def stored_names(directory: Directory, user_id: UUID) -> dict[str, str]:
    """The e-mail address and names in the stored ``User.Created`` of ``user_id``, as the event store holds them."""
    created = directory.recorder.select_events(user_id)[0]
    assert created.topic.endswith("User.Created")
    state = json.loads(created.state)
    return {field: state[field] for field in ("email", "first_name", "last_name")}


def erase_main_contact(world: World) -> None:
    """The main contact cannot be erased: another user takes over the role first, then erases them."""
    d = world.directory
    successor = world.user()
    d.transfer_main_contact(world.main, successor.user_id)
    new_main = world.actor(successor)
    d.deactivate_user(new_main, world.main.user_id)
    d.erase_user(new_main, world.main.user_id)


# ---- reserving -----------------------------------------------------------------------------------------------


def test_a_person_users_does_not_know_gets_a_pending_key_and_asking_again_answers_the_same():
    d, person = memory_directory(), uuid4()
    key = d.reserve_person_key(person)
    assert len(key) == 32 and d.reserve_person_key(person) == key
    row = d.person_keys.get(person)
    assert row is not None and row.is_pending and row.key == key
    assert d.person_key(person) == key and d.person_keys_of([person]) == {person: key}


def test_the_event_stores_key_ring_finds_a_pending_persons_key():
    d, person = memory_directory(), uuid4()
    key = d.reserve_person_key(person)
    assert d.key_ring is not None and d.key_ring.key(person) == key


def test_reserving_a_users_id_answers_their_own_key_and_leaves_their_row_as_it_is(world: World):
    user = world.user()
    before = world.directory.person_keys.get(user.user_id)
    assert world.directory.reserve_person_key(user.user_id) == world.directory.person_key(user.user_id)
    assert world.directory.person_keys.get(user.user_id) == before and before is not None
    assert before.company_id == world.company_id


def test_reserving_an_erased_persons_id_is_refused_as_erased_and_makes_no_key(world: World):
    user = world.user()
    world.directory.deactivate_user(world.main, user.user_id)
    world.directory.erase_user(world.main, user.user_id)
    with pytest.raises(PersonErased):
        world.directory.reserve_person_key(user.user_id)
    row = world.directory.person_keys.get(user.user_id)
    assert row is not None and row.key is None


# ---- the main contact created from a registration ------------------------------------------------------------


def test_the_main_contact_gets_the_registrations_id_and_is_sealed_with_the_reserved_key():
    d, person = memory_directory(), uuid4()
    reserved = d.reserve_person_key(person)
    msg = naming(registration(), person)
    register(d, msg)
    main = d.authenticate(signed_in(str(msg.main_contact.email)))
    assert main.user_id == person and main.company_id == msg.company_id and main.is_main_contact
    row = d.person_keys.get(person)
    assert row is not None and (row.company_id, row.key) == (msg.company_id, reserved)
    stored = stored_names(d, person)
    assert all(is_sealed(v) for v in stored.values())
    assert unseal(reserved, "users/user/email", stored["email"]) == str(msg.main_contact.email)
    assert unseal(reserved, "users/user/last_name", stored["last_name"]) == msg.main_contact.last_name


def test_a_registration_naming_an_id_without_a_reservation_uses_it_with_a_fresh_key():
    d, person = memory_directory(), uuid4()
    msg = naming(registration(), person)
    register(d, msg)
    row = d.person_keys.get(person)
    assert d.authenticate(signed_in(str(msg.main_contact.email))).user_id == person
    assert row is not None and row.company_id == msg.company_id and row.key is not None


def test_a_registration_naming_an_existing_user_of_another_company_does_not_hand_them_over(world: World):
    d = world.directory
    victim = world.user(first_name="Vera", last_name="Victim")
    victims_key = d.person_key(victim.user_id)
    victims_row = d.person_keys.get(victim.user_id)
    assert d.reserve_person_key(victim.user_id) == victims_key  # what registration was told, at worst
    msg = naming(registration(), victim.user_id)
    register(d, msg)
    newcomer = d.authenticate(signed_in(str(msg.main_contact.email)))
    assert newcomer.user_id != victim.user_id and newcomer.company_id == msg.company_id
    assert d.person_key(newcomer.user_id) != victims_key
    assert d.person_keys.get(victim.user_id) == victims_row
    still = d.get_user(world.main, victim.user_id)
    assert (still.company_id, still.email, still.first_name, still.role_ids) == (
        world.company_id, victim.email, "Vera", victim.role_ids
    )  # fmt: skip
    assert unseal(victims_key, "users/user/first_name", stored_names(d, victim.user_id)["first_name"]) == "Vera"
    with pytest.raises(Unreadable):  # the newcomer's values are not sealed with the victim's key
        unseal(victims_key, "users/user/email", stored_names(d, newcomer.user_id)["email"])


def test_a_registration_naming_a_main_contact_of_another_company_does_not_take_the_role_or_company(world: World):
    d = world.directory
    msg = naming(registration(), world.main.user_id)
    register(d, msg)
    newcomer = d.authenticate(signed_in(str(msg.main_contact.email)))
    assert newcomer.user_id != world.main.user_id
    assert d.company(world.main).main_contact_id == world.main.user_id
    assert d.company(newcomer).main_contact_id == newcomer.user_id


def test_a_registration_naming_an_erased_persons_id_gets_a_fresh_id_and_key(world: World):
    d = world.directory
    gone = world.user()
    d.deactivate_user(world.main, gone.user_id)
    d.erase_user(world.main, gone.user_id)
    msg = naming(registration(), gone.user_id)
    register(d, msg)
    newcomer = d.authenticate(signed_in(str(msg.main_contact.email)))
    assert newcomer.user_id != gone.user_id and len(d.person_key(newcomer.user_id)) == 32
    row = d.person_keys.get(gone.user_id)
    assert row is not None and row.key is None and row.company_id == world.company_id


def test_a_registration_naming_an_id_that_is_no_user_but_stored_gets_a_fresh_id(world: World):
    d = world.directory
    d.reserve_person_key(world.company_id)  # a company's id: reserved, but never a user's
    msg = naming(registration(), world.company_id)
    register(d, msg)
    assert d.authenticate(signed_in(str(msg.main_contact.email))).user_id != world.company_id


def test_a_registration_without_an_id_creates_the_main_contact_as_before_leaving_reservations_alone():
    d, someone = memory_directory(), uuid4()
    reserved = d.reserve_person_key(someone)
    msg = registration()
    register(d, msg)
    main = d.authenticate(signed_in(str(msg.main_contact.email)))
    assert main.user_id != someone and d.person_key(main.user_id) != reserved
    assert d.person_keys.get(someone).is_pending  # type: ignore[union-attr]


def test_erasing_the_main_contact_created_from_a_registration_destroys_the_reserved_key():
    d, person = memory_directory(), uuid4()
    reserved = d.reserve_person_key(person)
    world = make_world(d)
    msg = naming(registration(), person)
    register(d, msg)
    registrant = World(d, msg.company_id, d.authenticate(signed_in(str(msg.main_contact.email))), "", msg)
    assert registrant.main.user_id == person and world.company_id != msg.company_id
    erase_main_contact(registrant)
    row = d.person_keys.get(person)
    assert row is not None and row.key is None and row.erased_at is not None and row.company_id == msg.company_id
    with pytest.raises(PersonErased):
        d.reserve_person_key(person)
    stored = stored_names(d, person)
    assert is_sealed(stored["email"]) and unseal(reserved, "users/user/email", stored["email"])  # only with it
    assert d.key_ring is not None and d.key_ring.reveal("users/user/email", stored["email"]) is None


# ---- the completion over Kafka: sealed fields opened with the reserved key -----------------------------------


async def test_a_sealed_completion_is_opened_with_the_reserved_key_and_makes_that_person_the_main_contact():
    d, person = memory_directory(), uuid4()
    reserved = d.reserve_person_key(person)
    msg = naming(registration(), person)
    body = seal_body(msg, KeyRing(lambda _: reserved))  # as registration's relay publishes it
    assert str(msg.main_contact.email).encode() not in body and msg.main_contact.last_name.encode() not in body
    consumer = IdempotentConsumer(
        service="users", group_id="users", app=d, broker=RecordingBroker(),  # type: ignore[arg-type]
        blocking=WorkerPool(2), specs=consumer_specs(d), max_attempts=2, backoff_initial_s=0.01,
    )  # fmt: skip
    batch = FakeBatch((record(msg, 1, body=body),))
    await consumer.handle(batch)
    assert batch.acked == 1
    main = d.authenticate(signed_in(str(msg.main_contact.email)))
    assert main.user_id == person and d.person_keys.get(person).company_id == msg.company_id  # type: ignore[union-attr]
    assert d.get_user(main, person).last_name == "Main"
    assert d.max_tracking_id(f"registration/{REGISTRATION_REGISTRATIONS.name}/0") == 1


# ---- HTTP: PUT /internal/person-keys/{user_id} ---------------------------------------------------------------


@pytest.fixture
async def api() -> AsyncIterator[tuple[httpx.AsyncClient, Directory, str]]:
    app = create_app(
        UsersSettings(database_url="memory://", process_roles=["api"], log_format="console"), verify_token=verify
    )
    directory = app.state.runtime.app
    msg = registration()
    register(directory, msg)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://users") as client:
        yield client, directory, str(msg.main_contact.email)


def key_of(response: httpx.Response) -> bytes:
    text = response.json()["key"]
    assert "=" not in text
    return base64.urlsafe_b64decode(text + "=")


async def test_reserving_needs_the_service_token_and_a_refused_call_makes_no_key(api):
    client, directory, main = api
    person = uuid4()
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": DEVELOPMENT_INTERNAL_TOKEN}, auth(main)):
        r = await client.put(f"/internal/person-keys/{person}", headers=headers)
        assert (r.status_code, r.json()["error"]["code"]) == (401, "invalid_internal_token"), headers
    assert directory.person_keys.get(person) is None


async def test_reserving_answers_a_key_that_stays_the_same_and_that_the_other_endpoints_hand_out(api):
    client, directory, _ = api
    person = uuid4()
    first = await client.put(f"/internal/person-keys/{person}", headers=INTERNAL)
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-store"
    assert first.json()["user_id"] == str(person) and set(first.json()) == {"user_id", "key"}
    again = await client.put(f"/internal/person-keys/{person}", headers=INTERNAL)
    assert again.status_code == 200 and key_of(again) == key_of(first) == directory.person_key(person)
    got = await client.get(f"/internal/person-keys/{person}", headers=INTERNAL)
    assert got.status_code == 200 and key_of(got) == key_of(first)
    many = await client.post("/internal/person-keys", json={"user_ids": [str(person)]}, headers=INTERNAL)
    (state,) = many.json()["persons"]
    assert state["state"] == "live" and base64.urlsafe_b64decode(state["key"] + "=") == key_of(first)


async def test_reserving_an_erased_persons_id_answers_410(api):
    client, directory, main = api
    r = await client.post("/api/users", json={"email": f"gone-{uuid4().hex[:8]}@example.com",
                                              "first_name": "Gone", "last_name": "Soon"}, headers=auth(main))  # fmt: skip
    user_id = r.json()["id"]
    await client.post(f"/api/users/{user_id}/deactivate", headers=auth(main))
    assert (await client.post(f"/api/users/{user_id}/erasure", headers=auth(main))).status_code == 200
    r = await client.put(f"/internal/person-keys/{user_id}", headers=INTERNAL)
    assert (r.status_code, r.json()["error"]["code"]) == (410, "person_erased")
    assert "key" not in r.json() and directory.person_keys.get(UUID(user_id)).key is None


async def test_reserving_something_that_is_not_an_id_is_refused_with_422(api):
    client, _, _ = api
    r = await client.put("/internal/person-keys/not-an-id", headers=INTERNAL)
    assert r.status_code == 422 and r.json()["error"]["code"]


async def test_the_registrant_created_after_a_reservation_over_http_is_sealed_with_the_key_handed_out(api):
    client, directory, _ = api
    person = uuid4()
    handed_out = key_of(await client.put(f"/internal/person-keys/{person}", headers=INTERNAL))
    msg = naming(registration(), person)
    register(directory, msg)
    assert unseal(handed_out, "users/user/email", stored_names(directory, person)["email"]) == str(
        msg.main_contact.email
    )
    got = await client.get(f"/internal/person-keys/{person}", headers=INTERNAL)
    assert key_of(got) == handed_out
