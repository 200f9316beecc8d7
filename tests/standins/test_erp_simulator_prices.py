"""The ERP simulator's customer prices on the PostgreSQL of the local stack (a database of its own, dropped
afterwards; no Kafka): the seed is published once, every new customer gets the default list, the test hook changes a
price as a new version, and a request for the price list is answered once per key with a full resend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from contracts.erp.v1 import CustomerPriceListRequested
from contracts.topics import ERP_INBOUND_CUSTOMER_PRICES, ERP_OUTBOUND_CUSTOMER_PRICE_REQUESTS
from standins.erp_simulator import db, prices
from standins.erp_simulator.app import Simulator, create_app
from standins.erp_simulator.seed import SEED_CUSTOMERS
from standins.erp_simulator.settings import ErpSimulatorSettings
from tests.standins.test_erp_simulator import _envelope
from tests.support.infra import PG_ADMIN_DSN, dsn_for, random_suffix
from tests.support.messages import consumer_record


@dataclass
class FakeFetch:
    raw_message: tuple
    acked: int = 0

    async def ack(self) -> None:
        self.acked += 1


@dataclass
class World:
    pool: asyncpg.Pool
    simulator: Simulator
    http: httpx.AsyncClient

    async def sent(self) -> list[dict[str, Any]]:
        return list(reversed(await db.sent(self.pool)))


@pytest.fixture
async def world() -> AsyncIterator[World]:
    name = f"test_erp_prices_{random_suffix()}"
    admin = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    await admin.execute(f'CREATE DATABASE "{name}"')
    pool = await db.connect(dsn_for(name))
    try:
        await db.create_schema(pool)
        app = create_app(ErpSimulatorSettings(database_url=dsn_for(name)))  # type: ignore[arg-type]
        simulator: Simulator = app.state.simulator
        simulator.pool = simulator.consumer.pool = simulator.outbox.pool = pool  # (the lifespan is not run)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://erp") as http:
            yield World(pool, simulator, http)
    finally:
        await pool.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def payloads(rows: list[dict[str, Any]], customer_number: str) -> dict[str, dict[str, Any]]:
    return {r["payload"]["sku"]: r["payload"] for r in rows if r["key"] == customer_number and "sku" in r["payload"]}


async def test_the_seed_prices_are_published_once_also_across_restarts(world: World):
    await db.seed(world.pool, SEED_CUSTOMERS)
    published = await world.simulator._seed_prices(world.pool)
    assert published == sum(len(prices.price_list(c["customer_number"])) for c in SEED_CUSTOMERS)
    assert await world.simulator._seed_prices(world.pool) == 0  # a restart publishes nothing again
    sent = await world.sent()
    assert {r["topic"] for r in sent} == {ERP_INBOUND_CUSTOMER_PRICES.name} and len(sent) == published
    assert [r["id"] for r in sent] == sorted(r["id"] for r in sent)

    first, second = payloads(sent, "10001"), payloads(sent, "10002")
    assert (first["A-100"]["unit_price"], second["A-100"]["unit_price"]) == (
        {"amount": "9.90", "currency": "EUR"},
        {"amount": "8.50", "currency": "EUR"},
    )
    assert second["PUMP-9000"]["price_breaks"] == [
        {"min_quantity": 5, "unit_price": {"amount": "1099.00", "currency": "EUR"}}
    ]
    assert first["BLK-1"]["blocked"] and first["SAMPLE-1"]["unit_price"]["amount"] == "0.00"
    assert payloads(sent, "10004")["PUMP-9000"]["blocked"]
    assert payloads(sent, "10005")["A-100"]["unit_price"] == {"amount": "8.40", "currency": "GBP"}


async def test_a_new_customer_gets_the_default_price_list_in_its_currency_published_with_it(world: World):
    r = await world.http.post("/admin/customers", json={"currency": "CHF"})
    assert r.status_code == 201, r.text
    number = r.json()["customer_number"]
    sent = payloads(await world.sent(), number)
    assert set(sent) == {a["sku"] for a in prices.DEFAULT_PRICE_LIST}
    assert {"A-100", "SKU-0", "SKU-49", "REJECT-9", "REJECT-4711", "A-1", "LOST-1", "IDEM-1"} <= set(sent)
    assert {p["unit_price"]["currency"] for p in sent.values()} == {"CHF"}
    assert sent["A-100"]["unit_price"]["amount"] == "9.90" and sent["A-100"]["description"] == "Schraube M8"
    assert sent["B-200"]["price_breaks"] == [{"min_quantity": 100, "unit_price": {"amount": "2.00", "currency": "CHF"}}]
    listed = (await world.http.get(f"/customers/{number}/prices")).json()
    assert len(listed) == len(sent) and all(p["published_version"] == p["version"] == 1 for p in listed)


async def test_the_test_hook_changes_a_price_as_a_new_version_sent_like_any_erp_change(world: World):
    number = (await world.http.post("/admin/customers", json={})).json()["customer_number"]
    body = {"unit_price": "8.75", "valid_from": "2026-01-01T00:00:00Z", "blocked": True}
    r = await world.http.put(f"/admin/customers/{number}/prices/A-100", json=body)
    assert r.status_code == 200, r.text
    changed = r.json()
    assert (changed["version"], changed["sent"]["idempotency_key"]) == (2, f"price/{number}/A-100/2")
    last = (await world.sent())[-1]
    assert last["payload"]["unit_price"]["amount"] == "8.75" and last["payload"]["blocked"] is True
    assert last["payload"]["description"] == "Schraube M8"  # left out: unchanged
    assert last["payload"]["valid_from"] == "2026-01-01T00:00:00Z"

    added = await world.http.put(f"/admin/customers/{number}/prices/NEW-1", json={"unit_price": "1.00", "unit": "m"})
    assert added.status_code == 200 and added.json()["version"] == 1

    nulls = {"unit_price": None, "blocked": None, "description": None, "price_breaks": None, "valid_from": None}
    again = await world.http.put(f"/admin/customers/{number}/prices/A-100", json=nulls)
    assert again.status_code == 200, again.text  # null: unchanged (the validity bound: none)
    kept = again.json()
    assert (kept["unit_price"], kept["blocked"], kept["description"], kept["valid_from"]) == (
        "8.75",
        True,
        "Schraube M8",
        None,
    )


async def test_the_test_hook_refuses_what_the_erp_would_not_keep(world: World):
    number = (await world.http.post("/admin/customers", json={})).json()["customer_number"]
    before = len(await world.sent())
    for sku, body, status in (
        ("NEW-2", {"blocked": True}, 422),  # a new article needs a price
        ("NEW-3", {"unit_price": None}, 422),
        ("A-100", {"unit_price": "-1"}, 422),
        ("A-100", {"price_breaks": [{"min_quantity": 1, "unit_price": "1"}]}, 422),
        ("A-100", {"valid_from": "2026-01-01T00:00:00"}, 422),  # no time zone
        ("A-100", {"colour": "red"}, 422),
    ):
        r = await world.http.put(f"/admin/customers/{number}/prices/{sku}", json=body)
        assert r.status_code == status, (body, r.text)
    assert (await world.http.put("/admin/customers/nope/prices/A-100", json={"unit_price": "1"})).status_code == 404
    assert len(await world.sent()) == before


def request_record(number: str, key: str, offset: int) -> Any:
    message = CustomerPriceListRequested(idempotency_key=key, customer_number=number, requested_at=datetime.now(UTC))
    envelope = _envelope().model_copy(update={"event_type": message.event_type})
    return consumer_record(
        message, topic=ERP_OUTBOUND_CUSTOMER_PRICE_REQUESTS.name, key=number, offset=offset,
        headers=envelope.to_headers(),
    )  # fmt: skip


async def test_a_price_list_request_is_answered_once_per_key_with_a_full_resend(world: World):
    number = (await world.http.post("/admin/customers", json={})).json()["customer_number"]
    size = len(prices.DEFAULT_PRICE_LIST)
    before = len(await world.sent())
    key = f"price-list-request/{number}/operator/1"
    fetch = FakeFetch((request_record(number, key, 0), request_record(number, key, 1)))
    await world.simulator.consumer.handle(fetch)  # type: ignore[arg-type]
    assert fetch.acked == 1

    resend = (await world.sent())[before:]
    assert len(resend) == size + 1  # the copy of the request (same key) is not answered again
    *articles, end = resend
    resend_id = end["payload"]["resend_id"]
    assert {a["payload"]["resend_id"] for a in articles} == {resend_id}
    assert {a["key"] for a in resend} == {number}
    assert end["event_type"] == "CustomerPriceListResent"
    assert (end["payload"]["in_reply_to"], end["payload"]["article_count"]) == (key, size)
    outcomes = [r["outcome"] for r in reversed(await db.received(world.pool, None))]
    assert outcomes == ["resent", "duplicate"]


async def test_a_price_list_request_for_a_customer_the_erp_does_not_know_is_not_answered(world: World):
    fetch = FakeFetch((request_record("NOBODY-1", "price-list-request/NOBODY-1/x", 0),))
    await world.simulator.consumer.handle(fetch)  # type: ignore[arg-type]
    assert await world.sent() == []
    assert [r["outcome"] for r in await db.received(world.pool, None)] == ["unknown_customer"]


async def test_the_stats_count_prices_and_price_list_requests(world: World):
    number = (await world.http.post("/admin/customers", json={})).json()["customer_number"]
    key = f"price-list-request/{number}/operator/2"
    fetch = FakeFetch((request_record(number, key, 0), request_record(number, key, 1)))
    await world.simulator.consumer.handle(fetch)  # type: ignore[arg-type]
    stats = (await world.http.get("/stats")).json()
    assert stats["prices"] == len(prices.DEFAULT_PRICE_LIST)
    assert (stats["price_list_requests"], stats["price_list_request_duplicates_discarded"]) == (1, 1)
