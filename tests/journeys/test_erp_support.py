"""Helpers of the ERP exchange journeys: companies the ERP simulator knows, orders, the operator API of erp-sync.

erp-sync's operator API is on its own port (not routed by the gateway); its commands need the operator token
(``ERP_SYNC_OPS_TOKEN``, the development token by default).
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from erp_sync.settings import DEVELOPMENT_OPS_TOKEN
from tests.conftest import eventually
from tests.support.orders import order_body
from tests.support.shop import Shop
from tests.support.users import UsersApi

OPS_TOKEN = (
    os.environ.get("KC_TEST_ERP_SYNC_OPS_TOKEN") or os.environ.get("ERP_SYNC_OPS_TOKEN") or DEVELOPMENT_OPS_TOKEN
)
OPS = {"Authorization": f"Bearer {OPS_TOKEN}"}


async def erp_customer(erp_simulator: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    """A fresh customer of the simulated ERP."""
    r = await erp_simulator.post("/admin/customers", json=fields)
    assert r.status_code == 201, r.text
    return r.json()


async def registered_shop(users_api: UsersApi, customer_number: str) -> Shop:
    """A company registered (over Kafka, as registration would) with the ERP's customer number, ready to order."""
    company = await users_api.company(customer_number=customer_number)
    shop = Shop(users_api, company)
    await eventually(lambda: shop.known_to_approval(company.main), what="approval to know the main contact")
    return shop


async def sales_orders_at_erp(erp_simulator: httpx.AsyncClient, order_id: str) -> list[dict[str, Any]]:
    r = await erp_simulator.get("/sales-orders", params={"order_id": order_id})
    assert r.status_code == 200, r.text
    return r.json()


async def order_in_status(shop: Shop, order_id: str, headers: dict, *statuses: str, timeout: float = 60) -> dict:
    async def reached() -> dict | None:
        r = await shop.get(order_id, headers)
        assert r.status_code == 200, r.text
        return r.json() if r.json()["status"] in statuses else None

    return await eventually(reached, timeout=timeout, what=f"order {order_id} to be {' or '.join(statuses)}")


async def finished_run(erp_sync: httpx.AsyncClient, run: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
    async def finished() -> dict | None:
        r = await erp_sync.get(f"/ops/runs/{run['id']}")
        assert r.status_code == 200, r.text
        return r.json() if r.json()["status"] != "requested" else None

    return await eventually(finished, timeout=timeout, what=f"operator run {run['id']} to finish")


def rejected_order_body() -> dict[str, Any]:
    """An order with an article the simulated ERP does not sell (its default rule: SKU prefix REJECT-)."""
    return order_body(quantity=1, sku="REJECT-4711")


async def test_the_operator_commands_refuse_a_request_without_the_operator_token(erp_sync: httpx.AsyncClient):
    for path, body in (("/ops/replay", {"since": "2026-01-01T00:00:00Z"}), ("/ops/dead-letters/retry", {})):
        r = await erp_sync.post(path, json=body, headers={"Authorization": ""})  # the client's token left out
        assert r.status_code == 401, r.text
        assert r.json()["error"]["code"] == "invalid_ops_token"
        r = await erp_sync.post(path, json=body, headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401


async def test_a_replay_without_a_time_zone_is_refused_with_422(erp_sync: httpx.AsyncClient):
    r = await erp_sync.post("/ops/replay", json={"since": "2026-01-01T00:00:00"}, headers=OPS)
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_request"
