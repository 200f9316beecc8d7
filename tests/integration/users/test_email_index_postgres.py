"""users' blind index of e-mail addresses (ADR 0035 decision 4) on PostgreSQL: an address claimed under its uuid5
before the blind index is refused in a process that never saw the claim; claims racing for an address freed from a
legacy claim collide on its blind id (one user gets it); a claim moved to the blind index is found there by another
process; a process with another secret does not find an address of the blind index."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest
from pydantic import SecretStr

from kc_runtime.migrations import history, upgrade
from tests.integration.users.test_read_model_postgres import race
from tests.service.users.conftest import make_world
from tests.service.users.test_email_index import claim_at, created_before_the_blind_index
from tests.support.users import unique_email
from users.application.directory import Directory
from users.domain.errors import EmailTaken
from users.main import build_directory
from users.settings import UsersSettings

pytestmark = pytest.mark.integration


@pytest.fixture
async def dsn(database) -> str:
    dsn = await database("users")
    versions = history("users")
    assert versions is not None
    await asyncio.to_thread(upgrade, versions, dsn)
    return dsn


@pytest.fixture
def open_directory(dsn: str) -> Iterator[Callable[..., Directory]]:
    """Directories of processes sharing the database, each with the given index secret (None: the development
    one), closed at the end."""
    opened: list[Directory] = []

    def make(secret: str | None = None) -> Directory:
        settings = UsersSettings(
            database_url=SecretStr(dsn), db_pool_size=8, index_secret=SecretStr(secret) if secret else None
        )
        directory = build_directory(settings)
        opened.append(directory)
        return directory

    yield make
    for directory in opened:
        directory.close()


def test_a_legacy_claim_is_refused_in_a_process_that_never_saw_it(open_directory):
    world = make_world(open_directory())
    email = unique_email("lea-old")
    holder = created_before_the_blind_index(world, email)

    other = open_directory()
    with pytest.raises(EmailTaken):
        other.create_user(world.main, email=email.upper(), first_name="Mia", last_name="Neu")
    claim = other.email_claim(email)
    assert claim is not None and claim.owner_id == holder
    assert other.find(other.email_claim_ids(email)[0]) is None  # read, not written


def test_racing_claims_of_an_address_freed_from_a_legacy_claim_make_one_user(open_directory):
    world = make_world(open_directory())
    email = unique_email("race")
    holder = created_before_the_blind_index(world, email)
    world.directory.change_email(world.main, holder, unique_email("moved"))

    racers = [open_directory() for _ in range(4)]
    results = race(
        *(
            lambda d=d, i=i: d.create_user(world.main, email=email.upper() if i % 2 else email, first_name="R", last_name="X")
            for i, d in enumerate(racers)
        )
    )  # fmt: skip
    assert sum(not isinstance(r, Exception) for r in results) == 1, results
    assert all(isinstance(r, EmailTaken) for r in results if isinstance(r, Exception)), results
    winner = next(r for r in results if not isinstance(r, Exception))
    blind, legacy = world.directory.email_claim_ids(email)
    assert claim_at(world.directory, blind).owner_id == winner.user_id
    assert claim_at(world.directory, legacy).owner_id is None


def test_a_claim_moved_to_the_blind_index_is_found_there_by_another_process(open_directory):
    world = make_world(open_directory())
    email = unique_email("mia")
    holder = created_before_the_blind_index(world, email)
    world.directory.save(*world.directory._claim_email(email, holder))

    reader = open_directory()
    blind, legacy = reader.email_claim_ids(email)
    assert claim_at(reader, blind).owner_id == holder and claim_at(reader, legacy).owner_id is None
    with pytest.raises(EmailTaken):
        reader.create_user(world.main, email=email, first_name="Mia", last_name="Neu")


def test_a_process_with_another_secret_does_not_find_an_address_of_the_blind_index(open_directory):
    world = make_world(open_directory("w" * 32))
    user = world.user()
    assert open_directory("w" * 32).email_claim(user.email) is not None
    assert open_directory("x" * 32).email_claim(user.email) is None
