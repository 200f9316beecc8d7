"""registration's blind index of taken addresses (ADR 0035 decision 4) on PostgreSQL: an address taken under its
uuid5 before the blind index is refused in a process that never saw it; the index moves to the blind one on the
next write and another process finds it there; a process with another secret does not find an address of the blind
index; the erasure's scan of the index's own events finds a user's blind and legacy indexes alike."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from pydantic import SecretStr

from kc_runtime.settings import ServiceSettings
from registration.application.registrations import Registrations
from registration.domain.taken import TakenAddress
from tests.support.infra import random_suffix

pytestmark = pytest.mark.integration


@pytest.fixture
async def dsn(database) -> str:
    return await database("registration")


@pytest.fixture
def process(dsn: str) -> Iterator[Callable[..., Registrations]]:
    """Registrations of processes sharing the database, each with the given index secret (None: the development
    one), closed at the end."""
    made: list[Registrations] = []

    def make(secret: bytes | None = None) -> Registrations:
        env = ServiceSettings(database_url=SecretStr(dsn), db_pool_size=2).eventsourcing_env()
        registrations = Registrations(env=env, index_secret=secret)
        made.append(registrations)
        return registrations

    yield make
    for registrations in made:
        registrations.close()


def address() -> str:
    return f"erika-{random_suffix()}@example.com"


def test_a_legacy_index_is_refused_in_a_process_that_never_saw_it(process):
    email = address()
    process().save(TakenAddress(email=email, user_id=uuid4()))

    reader = process()
    assert reader.email_taken(email.upper())
    assert reader.find(reader.address_ids(email)[0]) is None  # read, not written


def test_the_index_moves_to_the_blind_index_and_another_process_finds_it_there(process):
    email, user_id = address(), uuid4()
    writer = process()
    writer.save(TakenAddress(email=email, user_id=user_id))
    writer.save(*writer.on_address_taken(email, user_id))

    reader = process()
    blind, legacy = reader.address_ids(email)
    assert (reader.find(blind, TakenAddress).user_id, reader.find(legacy, TakenAddress).user_id) == (user_id, None)
    assert reader.email_taken(email)


def test_a_process_with_another_secret_does_not_find_an_address_of_the_blind_index(process):
    email = address()
    writer = process(b"w" * 32)
    writer.save(*writer.on_address_taken(email, uuid4()))
    assert process(b"w" * 32).email_taken(email)
    assert not process(b"x" * 32).email_taken(email)


def test_the_erasure_scan_finds_a_users_blind_and_legacy_indexes(process):
    """The scan of the index's events (for users recorded before the holders) reads blind indexes' events too."""
    app = process()
    user_id, old, new = uuid4(), address(), address()
    blind = app.address_ids(new)[0]
    app.save(TakenAddress(email=old, user_id=user_id), TakenAddress(email=address(), user_id=uuid4()))
    app.save(TakenAddress.claim(blind, user_id), TakenAddress.claim(app.address_ids(address())[0], uuid4()))
    assert app._addresses_taken_by(user_id, page=1) == {TakenAddress.create_id(old), blind}

    app.save(*app.on_user_erased(user_id, datetime.now(UTC)))

    assert not app.email_taken(old) and not app.email_taken(new)
    assert app.is_erased(user_id)
