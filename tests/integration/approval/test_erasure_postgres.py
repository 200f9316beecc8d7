"""approval's read models after an erasure (ADR 0035, decision 3), on PostgreSQL: a person who decided orders with
comments is erased; once the projections have followed the log past ``Member.Erased``, no text, jsonb or array column
of any of approval's tables outside the event store holds their names, e-mail or words — also when the log is
projected again from the start (a batch handled twice, a rebuilt read model) — while the decisions stay counted.

Without a key ring (these tests' processes know no users' key endpoint: the stack's users answers unknown_person, so
values stay plain), the event store's tables hold the plain values and are skipped; with a key ring (a stand-in for
users' keys) approval's events are stored sealed, and after the erasure no table at all holds the person's values."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any
from uuid import uuid4

import asyncpg
import pytest
from pydantic import SecretStr

from approval.adapters.outbound.figures import FiguresStore
from approval.adapters.outbound.read_model import OrderSummaries
from approval.adapters.outbound.what_if_facts import WhatIfStore
from approval.application.orders import Orders
from approval.domain.budget import Budget
from approval.settings import ApprovalSettings
from kc_runtime.sealing import KeyRing, new_key
from tests.service.approval.test_erasure import ERASED_AT, request
from tests.support.approval import Company
from tests.support.erasure import found_in_tables

pytestmark = pytest.mark.integration

BUDGET = Budget(max_quantity=10, max_value=Decimal("100.00"), currency="EUR")


@pytest.fixture
async def dsn(database) -> str:
    return await database("approval")


@pytest.fixture
async def world(dsn: str) -> AsyncIterator[tuple[Orders, list[Any]]]:
    orders = Orders(env=ApprovalSettings(database_url=SecretStr(dsn)).eventsourcing_env())
    stores: list[Any] = [OrderSummaries(dsn), FiguresStore(dsn), WhatIfStore(dsn)]
    for store in stores:
        await store.pool()
    yield orders, stores
    for store in stores:
        await store.close()
    orders.close()


async def event_store_tables(conn: asyncpg.Connection, orders: Orders) -> set[str]:
    """The tables eventsourcing's recorder made for ``orders`` (events, snapshots, tracking): searched elsewhere."""
    prefix = (orders.events_table_name or "").removesuffix("_events")
    rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {r["tablename"] for r in rows if prefix and r["tablename"].startswith(prefix + "_")}


async def found(dsn: str, orders: Orders, markers: list[str]) -> list[tuple[str, str, str]]:
    """(table, column, marker) for each searched column of the read-model tables that holds a marker in a form."""
    conn = await asyncpg.connect(dsn)
    try:
        skip = await event_store_tables(conn, orders)
    finally:
        await conn.close()
    assert skip, "the event store's tables are known (else the search would cover them and mean nothing)"
    return await found_in_tables(dsn, markers, skip)


async def project(orders: Orders, stores: list[Any]) -> None:
    """Every store follows the whole log (as a new or rebuilt projection does; applied again it changes nothing)."""
    events = orders.notifications(0, 100_000)
    for store in stores:
        await store.apply(events)


def history(orders: Orders) -> tuple[Company, Any, dict[str, str]]:
    """An approver with marker names decides orders with marker words: a comment, a rejection, approvals."""
    tag = uuid4().hex[:10]
    person = {
        "email": f"erika-{tag}@example.com", "first_name": f"Erika{tag}", "last_name": f"Muster{tag}",
        "comment": f"Kommentar{tag}", "rejection": f"Abgelehnt{tag}", "approval": f"Genehmigt{tag}",
    }  # fmt: skip
    company = Company(orders)
    approver_id = uuid4()
    orders.save(
        *orders.member_joined(
            approver_id, company.id, person["email"], person["first_name"], person["last_name"], "de",
            active=True, permissions=["approve_orders"], budget=BUDGET,
        )
    )  # fmt: skip
    approver = orders.repository.get(approver_id)
    company.approvers(approver)
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    first = orders.submit(buyer, request(20))
    orders.comment(approver, first.id, person["comment"])
    orders.reject(approver, first.id, person["rejection"])
    orders.resubmit(buyer, first.id, "weniger", request(15))
    orders.approve(approver, first.id, person["approval"])
    second = orders.submit(buyer, request(12))
    orders.reject(approver, second.id, person["rejection"])
    return company, approver, person


def erase(orders: Orders, approver: Any) -> None:
    orders.save(*orders.member_changed(approver.id, active=False))
    orders.save(*orders.member_erased(approver.id, approver.company_id, ERASED_AT))


class EveryoneHasAKey:
    """users' key endpoint, standing in: everyone is a user with a key, until erased (None)."""

    def __init__(self) -> None:
        self.keys: dict[Any, bytes | None] = {}

    def fetch(self, person: Any) -> bytes | None:
        return self.keys.setdefault(person, new_key())


async def test_with_sealing_no_table_the_event_store_included_holds_the_erased_persons_values(dsn):
    users = EveryoneHasAKey()
    orders = Orders(env=ApprovalSettings(database_url=SecretStr(dsn)).eventsourcing_env(), key_ring=KeyRing(users.fetch))
    stores: list[Any] = [OrderSummaries(dsn), FiguresStore(dsn), WhatIfStore(dsn)]
    for store in stores:
        await store.pool()
    try:
        _company, approver, person = history(orders)
        await project(orders, stores)
        conn = await asyncpg.connect(dsn)
        try:
            event_store = await event_store_tables(conn, orders)
        finally:
            await conn.close()
        before = await found_in_tables(dsn, list(person.values()), set())
        assert ("approval_fig_decisions", "comment", person["approval"]) in before  # the search finds what is there
        assert not [hit for hit in before if hit[0] in event_store]  # stored sealed: none in the event store

        users.keys[approver.id] = None  # users destroys the key, then says UserErased
        erase(orders, approver)
        await project(orders, stores)

        assert await found_in_tables(dsn, list(person.values()), set()) == []
        assert orders.repository.get(approver.id).erased
    finally:
        for store in stores:
            await store.close()
        orders.close()


async def test_the_search_finds_the_persons_words_before_the_erasure(world, dsn):
    """The search below can fail: before the erasure, the figures hold what the approver wrote."""
    orders, stores = world
    _company, _approver, person = history(orders)
    await project(orders, stores)
    hits = await found(dsn, orders, list(person.values()))
    assert {(t, c) for t, c, m in hits if m == person["rejection"]} >= {
        ("approval_fig_decisions", "comment"), ("approval_fig_orders", "rejection_comment"),
    }  # fmt: skip
    assert ("approval_fig_decisions", "comment", person["approval"]) in hits


async def test_after_the_erasure_no_read_model_table_holds_the_persons_names_email_or_words(world, dsn):
    orders, stores = world
    company, approver, person = history(orders)
    await project(orders, stores)

    erase(orders, approver)
    await project(orders, stores)  # the history again (nothing changes), then the erasure

    assert await found(dsn, orders, list(person.values())) == []
    conn = await asyncpg.connect(dsn)
    try:  # the decisions are still there, by the erased approver's id, their words gone
        decisions = await conn.fetch(
            "SELECT outcome, comment FROM approval_fig_decisions WHERE approver_id = $1 ORDER BY outcome", approver.id
        )
        assert [(d["outcome"], d["comment"]) for d in decisions] == [
            ("approved", None), ("rejected", None), ("rejected", None),
        ]  # fmt: skip
        statuses = await conn.fetch(
            "SELECT status FROM approval_order_summaries WHERE company_id = $1 ORDER BY status", company.id
        )
        assert [r["status"] for r in statuses] == ["rejected", "released"]
    finally:
        await conn.close()


async def test_a_read_model_rebuilt_from_the_log_after_the_erasure_holds_nothing_of_the_person(world, dsn):
    orders, stores = world
    _company, approver, person = history(orders)
    erase(orders, approver)
    await project(orders, stores)  # a projection that starts after the erasure: it meets the words, then Erased
    assert await found(dsn, orders, list(person.values())) == []


async def test_only_the_erased_persons_words_are_scrubbed(world, dsn):
    orders, stores = world
    _company, approver, person = history(orders)
    other = Company(orders)  # no approvers named: its main contact decides
    kept = f"Bleibt{uuid4().hex[:10]}"
    held = orders.submit(other.member("buyer", ["place_orders"], BUDGET), request(30))
    orders.reject(other.main, held.id, kept)
    erase(orders, approver)
    await project(orders, stores)
    assert ("approval_fig_decisions", "comment", kept) in await found(dsn, orders, [kept])
    assert await found(dsn, orders, list(person.values())) == []
