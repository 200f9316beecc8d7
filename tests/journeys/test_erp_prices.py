"""The ERP's customer prices on the running stack: a price changed in the ERP (the simulator's test hook) reaches
``erp-sync.prices.v1`` through Kafka, and a full resend asked for through erp-sync's operator API completes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts.erp_sync.v1 import ArticlePriceChanged
from contracts.topics import ERP_SYNC_PRICES
from tests.conftest import eventually
from tests.support.infra import KAFKA
from tests.support.users import UsersApi


class PriceTopic:
    """``erp-sync.prices.v1`` read from the offsets it had when the test began (every partition)."""

    def __init__(self) -> None:
        self.consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, enable_auto_commit=False)
        self.seen: list[ArticlePriceChanged] = []

    async def start(self) -> None:
        await self.consumer.start()
        partitions = self.consumer.partitions_for_topic(ERP_SYNC_PRICES.name)
        if not partitions:
            await self.consumer._client.force_metadata_update()
            partitions = self.consumer.partitions_for_topic(ERP_SYNC_PRICES.name)
        assert partitions, f"topic {ERP_SYNC_PRICES.name} does not exist"
        tps = [TopicPartition(ERP_SYNC_PRICES.name, p) for p in sorted(partitions)]
        self.consumer.assign(tps)
        for tp, offset in (await self.consumer.end_offsets(tps)).items():
            self.consumer.seek(tp, offset)

    async def prices_of(self, customer_number: str) -> list[ArticlePriceChanged]:
        for records in (await self.consumer.getmany(timeout_ms=200)).values():
            for r in records:
                if r.key == customer_number.encode():
                    self.seen.append(ArticlePriceChanged.model_validate(json.loads(r.value)))
        return [p for p in self.seen if p.customer_number == customer_number]

    async def until(
        self, customer_number: str, done: Any, what: str, timeout: float = 120
    ) -> list[ArticlePriceChanged]:
        async def probe() -> list[ArticlePriceChanged] | None:
            prices = await self.prices_of(customer_number)
            return prices if done(prices) else None

        return await eventually(probe, timeout=timeout, what=what)


@pytest.fixture
async def price_topic() -> AsyncIterator[PriceTopic]:
    topic = PriceTopic()
    await topic.start()
    try:
        yield topic
    finally:
        await topic.consumer.stop()


async def new_customer(erp_simulator: httpx.AsyncClient, **fields: Any) -> tuple[str, int]:
    """A new customer of the ERP and the size of its price list (the default list)."""
    r = await erp_simulator.post("/admin/customers", json=fields)
    assert r.status_code == 201, r.text
    number = str(r.json()["customer_number"])
    prices = await erp_simulator.get(f"/customers/{number}/prices")
    assert prices.status_code == 200 and len(prices.json()) >= 60, prices.text
    return number, len(prices.json())


async def test_a_price_changed_in_the_erp_reaches_the_prices_topic(
    erp_simulator: httpx.AsyncClient, price_topic: PriceTopic
):
    number, size = await new_customer(erp_simulator)
    await price_topic.until(number, lambda ps: len(ps) >= size, "the default price list")

    body = {"unit_price": "7.45", "price_breaks": [{"min_quantity": 50, "unit_price": "7.00"}]}
    r = await erp_simulator.put(f"/admin/customers/{number}/prices/A-100", json=body)
    assert r.status_code == 200, r.text
    changed_at = r.json()["changed_at"]

    def changed(prices: list[ArticlePriceChanged]) -> bool:
        return any(p.sku == "A-100" and str(p.unit_price.amount) == "7.45" for p in prices)

    prices = await price_topic.until(number, changed, "the new price of A-100 on erp-sync.prices.v1")
    (new,) = [p for p in prices if p.sku == "A-100" and str(p.unit_price.amount) == "7.45"]
    assert new.unit_price.currency == "EUR" and new.company_id is None  # never registered
    assert [(b.min_quantity, str(b.unit_price.amount)) for b in new.price_breaks] == [(50, "7.00")]
    assert new.changed_at.isoformat().replace("+00:00", "Z") == changed_at
    defaults = {p.sku: p for p in prices if p.changed_at < new.changed_at}
    assert str(defaults["A-100"].unit_price.amount) == "9.90"
    assert defaults["BLK-1"].blocked and str(defaults["SAMPLE-1"].unit_price.amount) == "0.00"


async def test_a_resend_asked_for_through_the_operator_api_completes_and_unlists_what_the_erp_dropped(
    erp_simulator: httpx.AsyncClient, erp_sync: httpx.AsyncClient, price_topic: PriceTopic
):
    number, size = await new_customer(erp_simulator)
    await price_topic.until(number, lambda ps: len(ps) >= size, "the default price list")
    # An article erp-sync was told about that the ERP then lost without a word (restored from an older backup).
    r = await erp_simulator.put(f"/admin/customers/{number}/prices/GHOST-1", json={"unit_price": "1.00"})
    assert r.status_code == 200, r.text
    await price_topic.until(number, lambda ps: any(p.sku == "GHOST-1" for p in ps), "GHOST-1 on the prices topic")
    r = await erp_simulator.delete(f"/admin/customers/{number}/prices/GHOST-1")
    assert r.status_code == 200, r.text

    async with httpx.AsyncClient(base_url=erp_sync.base_url, timeout=30) as anonymous:
        r = await anonymous.post(f"/ops/customers/{number}/price-list-requests")
        assert r.status_code == 401  # the operator token is needed
    r = await erp_sync.post(f"/ops/customers/{number}/price-list-requests")  # the fixture sends the token
    assert r.status_code == 202, r.text
    request = r.json()
    assert request["idempotency_key"] and request["status"] == "requested"

    async def answered() -> dict | None:
        got = await erp_sync.get(r.headers["Location"])
        assert got.status_code == 200, got.text
        return got.json() if got.json()["status"] == "answered" else None

    done = await eventually(answered, timeout=60, what="the ERP's resend to end")
    assert (done["article_count"], done["unlisted"]) == (size, 1)
    prices = await price_topic.until(
        number, lambda ps: any(p.sku == "GHOST-1" and not p.listed for p in ps), "GHOST-1 unlisted"
    )
    assert [p.listed for p in prices if p.sku == "GHOST-1"] == [True, False]
    received = await erp_simulator.get("/received", params={"idempotency_key": request["idempotency_key"]})
    assert [m["outcome"] for m in received.json()] == ["resent"]


async def test_a_registration_asks_for_the_prices_and_they_are_handed_on_with_the_company(
    erp_simulator: httpx.AsyncClient, users_api: UsersApi, price_topic: PriceTopic
):
    number, size = await new_customer(erp_simulator, contacts=[])
    await price_topic.until(number, lambda ps: len(ps) >= size, "the default price list")
    company = await users_api.company(customer_number=number)

    def with_company(prices: list[ArticlePriceChanged]) -> bool:
        return len({p.sku for p in prices if str(p.company_id) == company.id}) >= size

    prices = await price_topic.until(number, with_company, "the prices with the company id", timeout=90)
    linked = {p.sku: p for p in prices if str(p.company_id) == company.id}
    assert str(linked["A-100"].unit_price.amount) == "9.90" and linked["A-100"].listed
