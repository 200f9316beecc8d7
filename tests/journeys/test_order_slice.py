"""The thin slice through every layer, and the API's manners: tokens, bad input, scoping, concurrency."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.conftest import eventually
from tests.journeys.conftest import bearer
from tests.support.orders import order_body
from tests.support.shop import BUDGET, Shop

pytestmark = pytest.mark.journey


async def test_an_order_posted_through_the_gateway_arrives_once_at_the_erp_with_all_its_details(
    shop: Shop, erp_sync, erp_simulator
):
    _, buyer = await shop.person(["buyer"], budget=BUDGET)
    await shop.price("A-100", "12.50")
    response = await shop.gw.post("/api/orders", json=order_body(quantity=3, unit_price="12.50"), headers=buyer)
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["status"] == "released"
    assert order["total"] == {"amount": "37.50", "currency": "EUR"}
    assert response.headers.get("X-Correlation-ID")

    async def recorded_by_erp_sync():
        r = await erp_sync.get(f"/ops/sales-orders/{order['id']}")
        return r.json() if r.status_code == 200 else None

    exchange = await eventually(recorded_by_erp_sync, what="erp-sync to record the released order")
    assert exchange["version"] >= 1

    async def at_the_erp():
        r = await erp_simulator.get(f"/sales-orders/{order['id']}")
        return r.json() if r.status_code == 200 else None

    sales_order = await eventually(at_the_erp, what="the ERP simulator to receive the sales order")
    payload = sales_order.get("payload", sales_order)
    assert payload["idempotency_key"] == f"sales-order/{order['id']}"
    assert payload["total"] == {"amount": "37.50", "currency": "EUR"}
    assert payload["lines"][0]["quantity"] == 3
    assert payload["delivery_address"]["city"] == "Berlin"
    assert payload["payment_method"] == "invoice"
    assert payload["reference"] == "PO-4711"
    assert sales_order.get("duplicates_discarded", 0) == 0


async def test_an_order_without_a_token_is_refused_with_401(gateway):
    response = await gateway.post("/api/orders", json=order_body())
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"


async def test_a_forged_token_is_refused_with_401(shop: Shop):
    header, payload, signature = shop.main["Authorization"].removeprefix("Bearer ").split(".")
    forged = f"{header}.{payload}.{signature[::-1]}"
    response = await shop.gw.post("/api/orders", json=order_body(), headers=bearer(forged))
    assert response.status_code == 401


async def test_an_expired_token_is_refused_with_401(shop: Shop, token):
    expired = await token(email=shop.company.main_email, extra_claims={"exp": int(time.time()) - 120})
    response = await shop.gw.post("/api/orders", json=order_body(), headers=bearer(expired))
    assert response.status_code == 401


async def test_a_token_for_another_audience_is_refused_with_401(shop: Shop, token):
    other = await token(email=shop.company.main_email, audience="other-app")
    response = await shop.gw.post("/api/orders", json=order_body(), headers=bearer(other))
    assert response.status_code == 401


async def test_an_invalid_order_gets_422_with_a_machine_readable_code(shop: Shop):
    body = order_body()
    body["lines"][0]["quantity"] = -1
    response = await shop.gw.post("/api/orders", json=body, headers=shop.main)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert any(d["field"].endswith("quantity") for d in error["details"])


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"\x00\xff\xfe", b'{"lines": "' + b"A" * 200_000 + b'"}', b"[]", b'{"lines": [{"sku": "\\u0000"}]}'],
)
async def test_hostile_bodies_get_4xx_never_500(shop: Shop, raw):
    headers = {**shop.main, "Content-Type": "application/json"}
    response = await shop.gw.post("/api/orders", content=raw, headers=headers)
    assert 400 <= response.status_code < 500
    assert response.json()["error"]["code"]


async def test_a_comment_against_a_stale_version_is_refused_with_412(shop: Shop):
    # An order waiting for approval: nothing else changes it meanwhile (a released one moves with the ERP).
    _, buyer = await shop.person(["buyer"], budget=BUDGET)
    order = (await shop.gw.post("/api/orders", json=order_body(quantity=12), headers=buyer)).json()
    assert order["status"] == "pending_approval"
    stale = {**buyer, "If-Match": f'"{order["version"]}"'}
    ok = await shop.gw.post(f"/api/orders/{order['id']}/comments", json={"text": "eins"}, headers=stale)
    assert ok.status_code == 200
    again = await shop.gw.post(f"/api/orders/{order['id']}/comments", json={"text": "zwei"}, headers=stale)
    assert again.status_code == 412
    assert again.json()["error"]["code"] == "version_mismatch"


async def test_racing_comments_never_lose_an_update(shop: Shop):
    order = (await shop.gw.post("/api/orders", json=order_body(), headers=shop.main)).json()
    responses = await asyncio.gather(
        *(
            shop.gw.post(f"/api/orders/{order['id']}/comments", json={"text": f"c{i}"}, headers=shop.main)
            for i in range(12)
        )
    )
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 409}
    final = (await shop.gw.get(f"/api/orders/{order['id']}", headers=shop.main)).json()
    comments = [m for m in final["conversation"] if m["kind"] == "comment"]
    assert len(comments) == statuses.count(200)
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} <= {"conflict"}


@pytest.mark.parametrize("path", ["/api/orders/%00", "/api/registrations/%00", "/api/users/%00"])
async def test_a_malformed_path_gets_a_json_400_from_the_gateway(gateway, path):
    response = await gateway.get(path)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


async def test_a_request_uri_too_long_for_the_gateway_gets_a_json_414(gateway):
    # found by the API fuzzer: a long query string drew nginx's HTML page
    response = await gateway.get("/api/reports/figures", params={"reference": "a" * 9000})
    assert response.status_code == 414
    assert response.json()["error"]["code"] == "uri_too_long"


async def test_a_request_header_too_large_for_the_gateway_gets_a_json_431(gateway):
    response = await gateway.get("/api/orders", headers={"X-Filler": "b" * 9000})
    assert response.status_code == 431
    assert response.json()["error"]["code"] == "headers_too_large"
