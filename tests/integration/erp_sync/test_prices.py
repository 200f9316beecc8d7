"""The ERP's customer prices against real Kafka and PostgreSQL with real processes (erp-sync and the ERP simulator
on a topic namespace and databases of their own): a customer's price list and a change with its revert reach
erp-sync.prices.v1 once each, also what the ERP sent while erp-sync was down; a poison message goes to the
dead-letter topic without stopping the partition; an operator's resend request is answered and unlists, through the
price index in PostgreSQL, what the ERP lost."""

from __future__ import annotations

import json
import signal
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from contracts import Envelope, Headers, Money
from contracts.erp.v1 import CustomerArticlePriceChanged
from contracts.erp_sync.v1 import ArticlePriceChanged
from contracts.topics import ERP_INBOUND_CUSTOMER_PRICES, ERP_SYNC_PRICES
from tests.conftest import eventually
from tests.integration.conftest import read_topic
from tests.integration.erp_sync.test_erp_faults import OPS, erp_sync_process, get, post, simulator_process
from tests.integration.test_exactly_once import ready, start
from tests.support.infra import KAFKA, random_suffix

pytestmark = pytest.mark.integration


async def prices_on_topic(prefix: str, number: str) -> list[ArticlePriceChanged]:
    records = await read_topic(prefix + ERP_SYNC_PRICES.name, key=number.encode(), timeout=30)
    return [ArticlePriceChanged.model_validate(json.loads(r.value)) for r in records]


async def until_prices(prefix: str, number: str, done, what: str, timeout: float = 60) -> list[ArticlePriceChanged]:
    async def probe():
        prices = await prices_on_topic(prefix, number)
        return prices if done(prices) else None

    return await eventually(probe, timeout=timeout, interval=0.3, what=what)


async def new_customer(sim_url: str) -> tuple[str, int]:
    async with httpx.AsyncClient(base_url=sim_url, timeout=10) as sim:
        r = await sim.post("/admin/customers", json={})
        assert r.status_code == 201, r.text
        number = r.json()["customer_number"]
        return number, len((await sim.get(f"/customers/{number}/prices")).json())


async def put_price(sim_url: str, number: str, sku: str, body: dict) -> dict:
    async with httpx.AsyncClient(base_url=sim_url, timeout=10) as sim:
        r = await sim.put(f"/admin/customers/{number}/prices/{sku}", json=body)
        assert r.status_code == 200, r.text
        return r.json()


def once_each(prices: list[ArticlePriceChanged]) -> bool:
    states = Counter((p.sku, p.changed_at, p.unit_price.amount, p.listed) for p in prices)
    return all(n == 1 for n in states.values())


async def test_prices_reach_the_prices_topic_once_each_also_what_the_erp_sent_while_erp_sync_was_down(
    database, topic_prefix, processes
):
    sync_dsn, sim_dsn = await database("erp-sync"), await database("erp-sim")
    group = f"it-erp-sync-{random_suffix()}"
    sync = await start(erp_sync_process(sync_dsn, topic_prefix, group), processes)
    sim = await start(simulator_process(sim_dsn, topic_prefix), processes)

    first, size = await new_customer(sim.url)
    prices = await until_prices(topic_prefix, first, lambda ps: len(ps) >= size, "the first price list")
    assert once_each(prices) and {p.company_id for p in prices} == {None}

    sync.kill(signal.SIGKILL)
    second, _ = await new_customer(sim.url)
    changed = await put_price(sim.url, first, "A-100", {"unit_price": "12.00"})
    await put_price(sim.url, first, "A-100", {"unit_price": "9.90"})  # and back, right after
    await ready(sync.restarted(), processes)

    later = await until_prices(topic_prefix, second, lambda ps: len(ps) >= size, "the list sent while it was down")
    assert once_each(later)
    firsts = await until_prices(topic_prefix, first, lambda ps: len(ps) >= size + 2, "the change and its revert")
    a100 = [(str(p.unit_price.amount), p.changed_at.isoformat()) for p in firsts if p.sku == "A-100"]
    assert [amount for amount, _ in a100] == ["9.90", "12.00", "9.90"]
    assert a100[1][1].replace("+00:00", "Z") == changed["changed_at"]
    assert once_each(firsts)


async def test_a_poison_price_message_is_dead_lettered_and_the_partition_flows_on(database, topic_prefix, processes):
    sync_dsn = await database("erp-sync")
    await start(erp_sync_process(sync_dsn, topic_prefix, f"it-erp-sync-{random_suffix()}"), processes)
    number = f"P{random_suffix()}"
    good = CustomerArticlePriceChanged(
        idempotency_key=f"price/{number}/A-100/1", customer_number=number, sku="A-100",
        unit_price=Money(amount=Decimal("9.90"), currency="EUR"), changed_at=datetime.now(UTC),
    )  # fmt: skip
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, enable_idempotence=True)
    await producer.start()
    try:
        poison = b'{"customer_number": "' + number.encode() + b'", "sku": 7}'
        for n, body in enumerate((poison, good.model_dump_json().encode()), 1):
            envelope = Envelope(
                event_id=uuid4(), event_type=good.event_type, schema_version=1, occurred_at=datetime.now(UTC),
                correlation_id="it", causation_id="it", producer=f"erp-test-{random_suffix()}", source_notification_id=n,
            )  # fmt: skip
            await producer.send_and_wait(
                topic_prefix + ERP_INBOUND_CUSTOMER_PRICES.name, body, key=number.encode(),
                headers=[(k, v.encode()) for k, v in envelope.to_headers().items()],
            )  # fmt: skip
    finally:
        await producer.stop()

    (price,) = await until_prices(topic_prefix, number, lambda ps: len(ps) >= 1, "the good message after the poison")
    assert (price.sku, str(price.unit_price.amount)) == ("A-100", "9.90")
    (dead,) = await read_topic(topic_prefix + ERP_INBOUND_CUSTOMER_PRICES.dlt, key=number.encode(), timeout=30)
    assert {k: v.decode() for k, v in dead.headers}[Headers.DLT_REASON] == "invalid_message"


async def test_an_operators_resend_request_is_answered_and_unlists_what_the_erp_lost(database, topic_prefix, processes):
    sync_dsn, sim_dsn = await database("erp-sync"), await database("erp-sim")
    sync = await start(erp_sync_process(sync_dsn, topic_prefix, f"it-erp-sync-{random_suffix()}"), processes)
    sim = await start(simulator_process(sim_dsn, topic_prefix), processes)
    number, size = await new_customer(sim.url)
    await until_prices(topic_prefix, number, lambda ps: len(ps) >= size, "the price list")
    async with httpx.AsyncClient(base_url=sim.url, timeout=10) as erp:
        assert (await erp.delete(f"/customers/{number}/prices/M-300")).status_code == 404  # (not the hook's path)
        assert (await erp.delete(f"/admin/customers/{number}/prices/M-300")).status_code == 200

    refused = await post(f"{sync.url}/ops/customers/{number}/price-list-requests")
    assert refused.status_code == 401
    asked = await post(f"{sync.url}/ops/customers/{number}/price-list-requests", headers=OPS)
    assert asked.status_code == 202, asked.text

    async def answered():
        r = await get(f"{sync.url}/ops/price-list-requests/{asked.json()['id']}")
        return r.json() if r.status_code == 200 and r.json()["status"] == "answered" else None

    done = await eventually(answered, timeout=60, what="the resend to end")
    assert (done["article_count"], done["unlisted"]) == (size - 1, 1)
    prices = await until_prices(topic_prefix, number, lambda ps: any(not p.listed for p in ps), "M-300 unlisted")
    assert [(p.sku, p.listed) for p in prices if not p.listed] == [("M-300", False)]
    assert once_each(prices)
