"""The shop retries a submission (timeout, 502, 503) with the same Idempotency-Key: one order, once at the ERP."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from tests.conftest import eventually
from tests.support.orders import order_body
from tests.support.shop import BUDGET, Shop

pytestmark = pytest.mark.journey

ERP_SIMULATOR = "http://127.0.0.1:8111"


async def test_a_submission_sent_several_times_with_one_key_is_one_order_once_at_the_erp(shop: Shop):
    _, buyer = await shop.person(["buyer"], budget=BUDGET)
    key = str(uuid.uuid4())
    body = order_body(quantity=3, unit_price="9.90", sku="IDEM-1")
    headers = {**buyer, "Idempotency-Key": key}
    answers = await asyncio.gather(*(shop.gw.post("/api/orders", json=body, headers=headers) for _ in range(5)))
    assert {r.status_code for r in answers} == {201}, [r.text for r in answers]
    ids = {r.json()["id"] for r in answers}
    assert len(ids) == 1
    (order_id,) = ids

    listed = (await shop.gw.get("/api/orders", params={"limit": 200}, headers=buyer)).json()
    assert [o["id"] for o in listed["items"]].count(order_id) <= 1

    async with httpx.AsyncClient(base_url=ERP_SIMULATOR, timeout=10) as erp:

        async def at_erp() -> list:
            return (await erp.get("/sales-orders", params={"order_id": order_id})).json()

        rows = await eventually(at_erp, timeout=30, what="the order at the ERP")
    assert len(rows) == 1

    async def listed_once() -> bool:
        page = (await shop.gw.get("/api/orders", params={"limit": 200}, headers=buyer)).json()
        return [o["id"] for o in page["items"]].count(order_id) == 1 and page["total"] == 1

    await eventually(listed_once, timeout=15, what="the buyer's list holding the order once")


async def test_the_key_with_other_lines_is_refused(shop: Shop):
    _, buyer = await shop.person(["buyer"], budget=BUDGET)
    headers = {**buyer, "Idempotency-Key": str(uuid.uuid4())}
    first = await shop.gw.post("/api/orders", json=order_body(quantity=2), headers=headers)
    assert first.status_code == 201, first.text
    other = await shop.gw.post("/api/orders", json=order_body(quantity=4), headers=headers)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"


@pytest.mark.parametrize("key", ["short", "x" * 201, "with space in it", "umlaut-ä-key".encode()])
async def test_a_malformed_key_is_a_422_naming_the_header(shop: Shop, key: str | bytes):
    _, buyer = await shop.person(["buyer"], budget=BUDGET)
    r = await shop.gw.post("/api/orders", json=order_body(quantity=2), headers={**buyer, "Idempotency-Key": key})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_request"
    assert any("idempotency-key" in d["field"].lower() for d in r.json()["error"]["details"])
