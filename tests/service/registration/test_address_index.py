"""Which addresses registration knows as taken (ADR 0035 decision 4): the id of an address's index is a keyed hash of
the address under registration's secret (a blind index) and the index keeps no address, not a ``uuid5`` anyone
could compute from a guessed address; an address taken before the blind index (under its ``uuid5``) is still
refused, its index moves to the blind one when users next tells who holds it, and erasure frees it wherever it
is. In-memory event store, the service's HTTP API and its real consumer of users.users.v1."""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

import pytest
from pydantic import SecretStr

from kc_runtime.blind_index import IndexSecretMissing
from registration.application.registrations import Registrations
from registration.domain.taken import AddressHolder, TakenAddress
from registration.main import create_app
from registration.settings import RegistrationSettings
from tests.service.registration.conftest import System, body
from tests.service.registration.test_erasure import created, erase, later, registers
from tests.service.registration.test_taken_addresses import user_holds, user_moves

OLD_NAMESPACE = uuid5(NAMESPACE_URL, "urn:kundencenter:registration:taken-addresses")
POPO = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


def index_at(system: System, index_id: UUID) -> TakenAddress:
    index = system.registrations.find(index_id, TakenAddress)
    assert index is not None
    return index


def taken_before_the_blind_index(system: System, email: str, *, with_holder: bool = True) -> UUID:
    """A user's address as the release before the blind index stored it: the index under the address's uuid5,
    with the address in its event (and, ``with_holder``, the holder naming that id, as the erasure release did)."""
    user_id = uuid4()
    legacy = TakenAddress(email=email, user_id=user_id)
    assert legacy.id == uuid5(OLD_NAMESPACE, email.strip().lower())
    holder = [AddressHolder.known(user_id, legacy.id)] if with_holder else []
    system.registrations.save(legacy, *holder)
    return user_id


async def test_an_address_index_id_is_a_keyed_hash_not_the_uuid5_of_the_address(system: System):
    email, user_id = body()["email"], uuid4()
    await user_holds(system, email, user_id)

    blind, legacy = system.registrations.address_ids(email)
    assert legacy == uuid5(OLD_NAMESPACE, email.lower())
    assert blind != legacy and blind.version == 8
    assert index_at(system, blind).user_id == user_id
    assert system.registrations.find(legacy) is None  # nothing is stored under the id a guess of the address gives
    # the index keeps no address, and the holder names the blind id
    assert not any(email in repr(vars(e)) for e in system.registrations.events.get(blind))
    holder = system.registrations.find(AddressHolder.create_id(user_id), AddressHolder)
    assert holder is not None and holder.address_id == blind


def test_the_index_id_differs_under_another_secret_and_is_the_same_under_the_same():
    email = "lea@example.com"
    one = Registrations(env=POPO, index_secret=b"a" * 32)
    same = Registrations(env=POPO, index_secret=b"a" * 32)
    other = Registrations(env=POPO, index_secret=b"b" * 32)
    assert one.address_ids(email)[0] == same.address_ids(" Lea@Example.COM ")[0]
    assert one.address_ids(email)[0] != other.address_ids(email)[0]


def test_a_short_index_secret_is_refused():
    with pytest.raises(ValueError, match="32 bytes"):
        Registrations(env=POPO, index_secret=b"short")


async def test_an_address_taken_before_the_blind_index_is_still_refused(system: System):
    email = body()["email"]
    taken_before_the_blind_index(system, email)

    assert system.registrations.email_taken(email.upper())
    r = await system.submit(email=email)
    await system.erp_says(r.json()["id"])
    status = await system.status(r.json()["id"])
    assert (status["status"], status["reason"]) == ("rejected", "email_taken")
    blind, legacy = system.registrations.address_ids(email)
    assert system.registrations.find(blind) is None  # read, not written: nothing moved
    assert index_at(system, legacy).taken


async def test_a_legacy_index_moves_to_the_blind_index_when_users_tells_its_holder_again(system: System):
    email = body()["email"]
    user_id = taken_before_the_blind_index(system, email)

    await later(system, created(user_id, email))  # e.g. users' topic replayed

    blind, legacy = system.registrations.address_ids(email)
    assert index_at(system, blind).user_id == user_id
    assert index_at(system, legacy).user_id is None  # released in the same save: the blind index alone decides
    holder = system.registrations.find(AddressHolder.create_id(user_id), AddressHolder)
    assert holder is not None and holder.address_id == blind
    assert system.registrations.email_taken(email)


async def test_a_legacy_index_moves_to_the_blind_index_when_another_user_takes_the_address(system: System):
    email = body()["email"]
    taken_before_the_blind_index(system, email)
    newcomer = uuid4()

    await user_holds(system, email, newcomer)

    blind, legacy = system.registrations.address_ids(email)
    assert index_at(system, blind).user_id == newcomer
    assert index_at(system, legacy).user_id is None
    assert system.registrations.email_taken(email)


async def test_an_address_a_legacy_holder_gave_up_is_free_and_the_new_one_taken_in_the_blind_index(system: System):
    old, new = body()["email"], body()["email"]
    user_id = taken_before_the_blind_index(system, old)

    await user_moves(system, user_id, old, new)

    assert index_at(system, system.registrations.address_ids(old)[1]).user_id is None
    assert index_at(system, system.registrations.address_ids(new)[0]).user_id == user_id
    assert not system.registrations.email_taken(old)
    assert await registers(system, old) == "completed"


@pytest.mark.parametrize("with_holder", [True, False], ids=["holder", "no-holder"])
async def test_an_erasure_frees_an_address_taken_before_the_blind_index(system: System, with_holder: bool):
    email = body()["email"]
    user_id = taken_before_the_blind_index(system, email, with_holder=with_holder)

    await erase(system, user_id)

    blind, legacy = system.registrations.address_ids(email)
    assert (index_at(system, legacy).user_id, index_at(system, legacy).email) == (None, "")
    assert system.registrations.find(blind) is None  # an erased person's address gets no blind index either
    assert not system.registrations.email_taken(email)
    assert await registers(system, email) == "completed"


async def test_an_erasure_frees_an_address_of_the_blind_index(system: System):
    email, user_id = body()["email"], uuid4()
    await user_holds(system, email, user_id)

    await erase(system, user_id)

    assert index_at(system, system.registrations.address_ids(email)[0]).user_id is None
    assert await registers(system, email) == "completed"


async def test_an_erasure_frees_an_address_moved_from_a_legacy_index(system: System):
    email = body()["email"]
    user_id = taken_before_the_blind_index(system, email)
    await later(system, created(user_id, email))

    await erase(system, user_id)

    blind, legacy = system.registrations.address_ids(email)
    assert index_at(system, blind).user_id is None and index_at(system, legacy).user_id is None
    assert await registers(system, email) == "completed"


def test_registration_refuses_to_start_in_production_without_its_index_secret():
    production = RegistrationSettings(
        database_url="memory://", process_roles=["api"], log_format="console", profile="production",  # type: ignore[arg-type]
        ops_token=SecretStr("o" * 40),
    )  # fmt: skip
    with pytest.raises(IndexSecretMissing, match="REGISTRATION_INDEX_SECRET"):
        create_app(production)


def test_registration_uses_the_configured_index_secret():
    configured = RegistrationSettings(database_url="memory://", index_secret=SecretStr("c" * 40))  # type: ignore[arg-type]
    registrations: Registrations = create_app(configured).state.runtime.app
    expected = Registrations(env=POPO, index_secret=b"c" * 40).address_ids("lea@example.com")[0]
    assert registrations.address_ids("lea@example.com")[0] == expected
    assert expected != Registrations(env=POPO).address_ids("lea@example.com")[0]
