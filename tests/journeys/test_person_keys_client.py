"""The runtime's key client against the real users service of the local stack (ADR 0035): a user created through the
gateway has a key the client fetches from users' own port, a value sealed with it opens in a key ring, and once the
main contact has erased the user, the client and the ring report them erased."""

from __future__ import annotations

import asyncio
import os
from uuid import UUID, uuid4

import pytest

from kc_runtime.person_keys import KeyState, PersonKeyClient, PersonKeysRefused
from kc_runtime.sealing import KEY_BYTES
from kc_runtime.settings import ServiceSettings
from tests.support.users import UsersApi, journey_fixtures

pytestmark = pytest.mark.journey

registrar, users_api = journey_fixtures()

PLACE = "approval/member/email"


def client() -> PersonKeyClient:
    """What a service of the local stack builds from its settings (users' address and development token), unless
    the test run points elsewhere."""
    settings = ServiceSettings(profile="development")
    url = os.environ.get("KC_TEST_USERS", settings.users_internal_url)
    token = os.environ.get("KC_TEST_USERS_INTERNAL_TOKEN")
    if token is None:
        return PersonKeyClient.from_settings(settings.model_copy(update={"users_internal_url": url}))
    return PersonKeyClient(url, token)


async def test_the_client_fetches_a_users_key_and_reports_them_erased_once_the_main_contact_erased_them(
    users_api: UsersApi,
):
    gw = users_api.gateway
    company = await users_api.company()
    target, _ = await users_api.user(company, first_name="Kira", last_name="Keyring")
    person = UUID(target["id"])

    with client() as keys:
        ring = keys.key_ring()
        key = await asyncio.to_thread(keys.fetch, person)
        assert key is not None and len(key) == KEY_BYTES
        assert await asyncio.to_thread(keys.fetch, person) == key  # the same key each time
        sealed = await asyncio.to_thread(ring.seal, person, PLACE, target["email"])
        assert await asyncio.to_thread(ring.reveal, PLACE, sealed) == target["email"]

        assert (await gw.post(f"/api/users/{person}/deactivate", headers=company.main)).status_code == 200
        erased = await gw.post(f"/api/users/{person}/erasure", headers=company.main)
        assert erased.status_code == 200, erased.text

        answer = await asyncio.to_thread(keys.lookup, person)
        assert answer.state is KeyState.ERASED and answer.key is None
        assert await asyncio.to_thread(keys.fetch, person) is None
        assert await asyncio.to_thread(ring.reveal, PLACE, sealed) == target["email"]  # still within its ttl …
        ring.forget(person)  # … until UserErased reaches the service
        assert await asyncio.to_thread(ring.reveal, PLACE, sealed) is None

        # the main contact keeps theirs; an id users never saw is unknown, not erased
        assert await asyncio.to_thread(keys.fetch, UUID(company.main_id)) is not None
        assert (await asyncio.to_thread(keys.lookup, uuid4())).state is KeyState.UNKNOWN

        # many at once, in one request, from users' PostgreSQL: the same answers
        stranger, main = uuid4(), UUID(company.main_id)
        many = await asyncio.to_thread(keys.lookup_many, [person, main, stranger])
        assert [many[p].state for p in (person, main, stranger)] == [KeyState.ERASED, KeyState.LIVE, KeyState.UNKNOWN]
        assert many[main].key == await asyncio.to_thread(keys.fetch, main)


async def test_the_client_with_a_wrong_token_is_refused_by_users(users_api: UsersApi):
    company = await users_api.company()
    url = os.environ.get("KC_TEST_USERS", ServiceSettings().users_internal_url)
    with PersonKeyClient(url, "not-the-token") as keys, pytest.raises(PersonKeysRefused):
        await asyncio.to_thread(keys.fetch, UUID(company.main_id))
