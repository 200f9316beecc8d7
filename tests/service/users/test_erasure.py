"""Erasure and the persons' keys (ADR 0035) on the in-memory store: a key for every user however created, the
internal endpoint that hands it out, and the erasure that destroys it — with the read model and the audit
forgetting the person's name and address."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from uuid import UUID, uuid4

import httpx
import pytest

from tests.service.users.conftest import World, make_world, register
from tests.service.users.test_http import auth, verify
from tests.support.users import erp_contact, registration, signed_in, unique_email
from users.application.directory import Directory
from users.domain.errors import NotFound, PersonErased, UserErased
from users.domain.policy import MainContactOnly
from users.main import create_app
from users.settings import DEVELOPMENT_INTERNAL_TOKEN, UsersSettings

INTERNAL = {"Authorization": f"Bearer {DEVELOPMENT_INTERNAL_TOKEN}"}


def test_every_way_of_creating_a_user_makes_a_key_of_its_own():
    directory = Directory(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    world = make_world(directory, erp_contacts=[erp_contact("Carla")])
    created = world.user()
    contact_id = world.registration.erp_contacts[0].erp_contact_id
    taken_over, _ = directory.take_over_erp_contact(world.main, contact_id)
    keys = [directory.person_keys.get(u) for u in (world.main.user_id, created.user_id, taken_over.user_id)]
    assert all(k is not None and k.key is not None and len(k.key) == 32 for k in keys)
    assert len({k.key for k in keys if k is not None}) == 3
    assert {k.company_id for k in keys if k is not None} == {world.company_id}
    assert directory.person_key(created.user_id) == keys[1].key  # type: ignore[union-attr]


def test_a_user_known_from_before_keys_gets_one_on_first_request(world: World):
    user = world.user()
    world.directory.person_keys._rows.clear()  # type: ignore[attr-defined]  # as if stored before this release
    first = world.directory.person_key(user.user_id)
    assert len(first) == 32 and world.directory.person_key(user.user_id) == first


def test_an_erasure_destroys_the_key_and_the_read_models_name_address_and_audit_details(world: World):
    d, main = world.directory, world.main
    user = world.user(first_name="Gerda", last_name="Gelöscht")
    d.rename_user(main, user.user_id, "Gerda", "Gelöscht-Neu")
    d.deactivate_user(main, user.user_id)
    erased = d.erase_user(main, user.user_id)
    assert (erased.email, erased.first_name, erased.last_name, erased.is_erased) == (None, None, None, True)
    assert d.get_user(main, user.user_id) == erased
    key = d.person_keys.get(user.user_id)
    assert key is not None and key.key is None and key.erased_at == erased.erased_at
    with pytest.raises(PersonErased):
        d.person_key(user.user_id)
    entries = d.audit(main, subject_id=user.user_id, limit=50)
    assert entries[0].action == "user.erased"
    assert "Gerda" not in repr(entries) and user.email not in repr(entries)
    assert [u.user_id for u in d.list_users(main, limit=200).items].count(user.user_id) == 1


def test_an_erased_users_address_is_free_again_and_nothing_about_them_changes(world: World):
    d, main = world.directory, world.main
    user = world.user()
    d.deactivate_user(main, user.user_id)
    d.erase_user(main, user.user_id)
    again = world.user(email=user.email)
    assert again.email == user.email and again.user_id != user.user_id
    for change in (
        lambda: d.rename_user(main, user.user_id, "A", "B"),
        lambda: d.activate_user(main, user.user_id),
    ):
        with pytest.raises(UserErased):
            change()


def test_the_main_contact_of_another_company_finds_no_such_user(world: World):
    d = world.directory
    user = world.user()
    d.deactivate_user(world.main, user.user_id)
    other = make_world(d)
    with pytest.raises(NotFound):
        d.erase_user(other.main, user.user_id)
    assert d.person_key(user.user_id)  # untouched


def test_an_administrator_who_is_not_the_main_contact_may_not_erase(world: World):
    d = world.directory
    admin_role = d.define_role(world.main, name="Admin", permissions=["manage_users"])
    admin = world.user(role_ids=[admin_role.role_id])
    user = world.user()
    d.deactivate_user(world.main, user.user_id)
    assert admin.email is not None
    as_admin = d.authenticate(signed_in(admin.email))
    with pytest.raises(MainContactOnly):
        d.erase_user(as_admin, user.user_id)


def test_an_unknown_person_has_no_key():
    directory = Directory(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    with pytest.raises(NotFound) as unknown:
        directory.person_key(uuid4())
    assert unknown.value.code == "unknown_person"


# ---- HTTP ----------------------------------------------------------------------------------------------------


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


async def _new_user(client: httpx.AsyncClient, main: str) -> str:
    body = {"email": unique_email("er"), "first_name": "Erna", "last_name": "Erased"}
    r = await client.post("/api/users", json=body, headers=auth(main))
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def test_erasure_over_http_answers_with_codes_and_is_idempotent(api):
    client, _, main = api
    user_id = await _new_user(client, main)
    r = await client.post(f"/api/users/{user_id}/erasure", headers=auth(main))
    assert (r.status_code, r.json()["error"]["code"]) == (409, "user_not_deactivated")
    assert (await client.post(f"/api/users/{user_id}/deactivate", headers=auth(main))).status_code == 200
    first = await client.post(f"/api/users/{user_id}/erasure", headers=auth(main))
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["email"], body["first_name"], body["last_name"], body["erased"]) == (None, None, None, True)
    again = await client.post(f"/api/users/{user_id}/erasure", headers=auth(main))
    assert again.status_code == 200 and again.json() == body
    me = (await client.get("/api/me", headers=auth(main))).json()["user"]["id"]
    r = await client.post(f"/api/users/{me}/erasure", headers=auth(main))
    assert (r.status_code, r.json()["error"]["code"]) == (409, "cannot_erase_self")


async def test_the_internal_endpoint_hands_out_the_key_only_with_the_service_token(api):
    client, directory, main = api
    user_id = await _new_user(client, main)
    url = f"/internal/person-keys/{user_id}"
    for headers in ({}, {"Authorization": "Bearer wrong"}, auth(main)):
        r = await client.get(url, headers=headers)
        assert (r.status_code, r.json()["error"]["code"]) == (401, "invalid_internal_token"), headers
    r = await client.get(url, headers=INTERNAL)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    key = r.json()["key"]
    assert base64.urlsafe_b64decode(key + "=") == directory.person_key(UUID(user_id)) and "=" not in key
    r = await client.get(f"/internal/person-keys/{uuid4()}", headers=INTERNAL)
    assert (r.status_code, r.json()["error"]["code"]) == (404, "unknown_person")
    await client.post(f"/api/users/{user_id}/deactivate", headers=auth(main))
    await client.post(f"/api/users/{user_id}/erasure", headers=auth(main))
    r = await client.get(url, headers=INTERNAL)
    assert (r.status_code, r.json()["error"]["code"]) == (410, "person_erased")


async def test_the_internal_endpoint_hands_out_many_keys_at_once_only_with_the_service_token(api):
    client, directory, main = api
    living, erased, stranger = await _new_user(client, main), await _new_user(client, main), str(uuid4())
    await client.post(f"/api/users/{erased}/deactivate", headers=auth(main))
    await client.post(f"/api/users/{erased}/erasure", headers=auth(main))
    body = {"user_ids": [living, erased, stranger]}
    for headers in ({}, {"Authorization": "Bearer wrong"}, auth(main)):
        r = await client.post("/internal/person-keys", json=body, headers=headers)
        assert (r.status_code, r.json()["error"]["code"]) == (401, "invalid_internal_token"), headers
    r = await client.post("/internal/person-keys", json=body, headers=INTERNAL)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    persons = {p["user_id"]: p for p in r.json()["persons"]}
    assert base64.urlsafe_b64decode(persons[living]["key"] + "=") == directory.person_key(UUID(living))
    assert persons[erased] == {"user_id": erased, "state": "erased", "key": None}
    assert persons[stranger] == {"user_id": stranger, "state": "unknown", "key": None}
    for bad in ({"user_ids": []}, {"user_ids": ["not-an-id"]}, {"user_ids": [str(uuid4()) for _ in range(201)]}, {}):
        r = await client.post("/internal/person-keys", json=bad, headers=INTERNAL)
        assert r.status_code == 422 and r.json()["error"]["code"], bad


async def test_without_a_token_outside_development_the_internal_api_is_off():
    settings = UsersSettings(
        database_url="memory://", process_roles=["api"], log_format="console", profile="production",
        ops_token="an-operator-token-for-this-test", index_secret="an-index-secret-of-at-least-32-bytes",
    )  # fmt: skip
    app = create_app(settings, verify_token=verify)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://users") as client:
        r = await client.get(f"/internal/person-keys/{uuid4()}", headers=INTERNAL)
    assert (r.status_code, r.json()["error"]["code"]) == (503, "internal_api_not_configured")


def test_the_internal_api_is_not_in_the_shop_facing_document():
    app = create_app(
        UsersSettings(database_url="memory://", process_roles=["api"], log_format="console"), verify_token=verify
    )
    assert not [p for p in app.openapi()["paths"] if p.startswith("/internal")]
