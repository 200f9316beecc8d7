"""approval's blind e-mail index (ADR 0035 decision 4) on PostgreSQL: the versions of an address's blind and legacy
index ids are read in one query (a request's one read), a member whose address was claimed under its uuid5 before
the blind index signs in by it in a process that never saw the claim, the claim moves on the next write, and a
process with another secret does not find an address claimed under the blind index."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import pytest
from pydantic import SecretStr

from approval.application.orders import Orders, UnknownCaller
from approval.settings import ApprovalSettings
from tests.service.approval.test_email_index import index_at, joined_before_the_blind_index
from tests.support.approval import Company
from tests.support.users import signed_in

pytestmark = pytest.mark.integration


@pytest.fixture
async def dsn(database) -> str:
    return await database("approval")


@pytest.fixture
def processes(dsn: str) -> Iterator[list[Orders]]:
    """Orders of processes sharing the database (each its own caches), closed at the end."""
    made: list[Orders] = []
    yield made
    for orders in made:
        orders.close()


def process(processes: list[Orders], dsn: str, secret: bytes | None = None) -> Orders:
    orders = Orders(env=ApprovalSettings(database_url=SecretStr(dsn)).eventsourcing_env(), index_secret=secret)
    processes.append(orders)
    return orders


class CountingQueries:
    def __init__(self, orders: Orders) -> None:
        self.calls: list[list[object]] = []
        query = orders._query_versions

        def counted(ids):  # type: ignore[no-untyped-def]
            self.calls.append(list(ids))
            return query(ids)

        orders._query_versions = counted  # type: ignore[method-assign]


def test_a_legacy_claim_signs_in_by_its_address_in_another_process_with_one_query(processes, dsn):
    writer = process(processes, dsn)
    company = Company(writer)
    email = f"lea-{uuid4().hex[:8]}@example.com"
    user_id = joined_before_the_blind_index(writer, company, email)

    reader = process(processes, dsn)
    queries = CountingQueries(reader)
    with reader.one_read():
        who = signed_in(email.upper())
        reader.prefetch(who)
        assert reader.caller(who).id == user_id
    blind, legacy = reader.email_index_ids(email)
    assert {blind, legacy} <= set(queries.calls[0])  # both ids in the first query
    assert all(blind not in ids and legacy not in ids for ids in queries.calls[1:])


def test_the_claim_moves_to_the_blind_index_and_another_process_finds_it_there(processes, dsn):
    writer = process(processes, dsn)
    company = Company(writer)
    email = f"mia-{uuid4().hex[:8]}@example.com"
    old_owner = joined_before_the_blind_index(writer, company, email)
    new_owner = uuid4()
    writer.save(*writer.member_joined(new_owner, company.id, email, "Mia", "Neu", "de", active=True))

    reader = process(processes, dsn)
    blind, legacy = reader.email_index_ids(email)
    assert index_at(reader, blind).user_id == new_owner and index_at(reader, legacy).user_id is None
    assert reader.caller(signed_in(email)).id == new_owner != old_owner


def test_a_process_with_another_secret_does_not_find_an_address_of_the_blind_index(processes, dsn):
    writer = process(processes, dsn, b"w" * 32)
    buyer = Company(writer).buyer()
    assert process(processes, dsn, b"w" * 32).caller(signed_in(buyer.email)).id == buyer.id
    with pytest.raises(UnknownCaller):
        process(processes, dsn, b"x" * 32).caller(signed_in(buyer.email))
