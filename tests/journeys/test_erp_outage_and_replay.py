"""Faults at the ERP: it is away for a while under a stream of orders, and it loses what it received (a restore
from backup) — every order arrives once, and a replay brings back what was lost without doubling anything."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from contracts.topics import ERP_OUTBOUND_CONTACTS, ERP_OUTBOUND_CUSTOMER_CENTER_ACTIVATIONS, ERP_OUTBOUND_SALES_ORDERS
from tests.conftest import eventually
from tests.journeys.test_erp_support import OPS, finished_run, order_in_status, sales_orders_at_erp
from tests.support.orders import order_body
from tests.support.shop import BUDGET, Shop

pytestmark = pytest.mark.journey


async def test_orders_placed_while_the_erp_is_away_all_arrive_once_when_it_returns(shop, erp_simulator, erp_sync):
    buyers = [(await shop.person(["buyer"], budget=BUDGET))[1] for _ in range(3)]
    paused = await erp_simulator.post("/admin/pause")
    assert paused.status_code == 200, paused.text
    try:
        placed = await asyncio.gather(
            *(
                shop.gw.post("/api/orders", json=order_body(quantity=1 + i % 5), headers=buyers[i % 3])
                for i in range(30)
            )
        )
        assert [r.status_code for r in placed] == [201] * 30, [r.text for r in placed if r.status_code != 201]
        orders = [r.json()["id"] for r in placed]
        # erp-sync hands them over while the ERP is away; nothing comes back yet.
        await order_in_status(shop, orders[-1], buyers[29 % 3], "transmitted")
        assert (await erp_simulator.get("/admin/status")).json()["consuming"] is False
    finally:
        resumed = await erp_simulator.post("/admin/resume")
        assert resumed.status_code == 200, resumed.text

    for i, order_id in enumerate(orders):
        await order_in_status(shop, order_id, buyers[i % 3], "confirmed", timeout=90)
    at_erp = await asyncio.gather(*(sales_orders_at_erp(erp_simulator, o) for o in orders))
    assert [len(rows) for rows in at_erp] == [1] * 30
    assert len({rows[0]["sales_order_number"] for rows in at_erp}) == 30


async def test_a_replay_after_an_erp_restore_republishes_the_companys_messages_and_the_erp_discards_copies(
    users_api, erp_simulator, erp_sync
):
    since = datetime.now(UTC) - timedelta(seconds=1)  # the ERP's backup was taken before the company registered
    company = await users_api.company()
    shop = Shop(users_api, company)
    await eventually(lambda: shop.known_to_approval(company.main), what="approval to know the main contact")
    buyer, buyer_auth = await shop.person(["buyer"], budget=BUDGET)
    orders = [(await shop.order(buyer_auth, quantity=q))["id"] for q in (1, 2, 3)]
    for order_id in orders:
        await order_in_status(shop, order_id, buyer_auth, "confirmed")
    contacts = [company.main_id, buyer["id"]]

    async def contact_applied(user_id: str):
        r = await erp_simulator.get(f"/messages/contact/{user_id}/1")
        return r.json() if r.status_code == 200 else None

    for user_id in contacts:
        await eventually(lambda u=user_id: contact_applied(u), what=f"the ERP to apply contact {user_id}")

    requested = await erp_sync.post(
        "/ops/replay", json={"since": since.isoformat(), "company_id": company.id}, headers=OPS
    )
    assert requested.status_code == 202, requested.text
    run = await finished_run(erp_sync, requested.json())
    assert run["status"] == "completed", run
    by_topic = run["result"]["by_topic"]
    assert by_topic[ERP_OUTBOUND_SALES_ORDERS.name] == 3
    assert by_topic[ERP_OUTBOUND_CONTACTS.name] == 2
    assert by_topic[ERP_OUTBOUND_CUSTOMER_CENTER_ACTIVATIONS.name] == 1

    async def discarded_as_copies():
        rows = [r for o in orders for r in await sales_orders_at_erp(erp_simulator, o)]
        return rows if [r["duplicates_discarded"] for r in rows] == [1, 1, 1] else None

    await eventually(discarded_as_copies, what="the ERP to discard each replayed order as a copy")
    for user_id in contacts:
        await eventually(
            lambda u=user_id: _duplicates(erp_simulator, f"contact/{u}/1", 1), what=f"a discarded copy of {user_id}"
        )
    for order_id in orders:  # the buyer's view is unchanged
        assert (await shop.get(order_id, buyer_auth)).json()["status"] == "confirmed"


async def _duplicates(erp_simulator, key: str, expected: int) -> bool:
    r = await erp_simulator.get(f"/messages/{key}")
    return r.status_code == 200 and r.json()["duplicates_discarded"] == expected
