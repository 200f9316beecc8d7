"""Period budgets through the gateway (issue 16 item 1, ADR 0017): the main contact gives a buyer a monthly budget,
orders reserve in it, what does not fit goes to approval with the reason ``period_budget`` and the figures, and the
ERP's confirmation consumes it — the whole stack."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from uuid import uuid4

import pytest

from tests.conftest import eventually
from tests.support.orders import order_body
from tests.support.shop import Shop

pytestmark = pytest.mark.journey


def monthly(amount: str) -> dict:
    return {"period_budget": {"period": "month", "max_value": {"amount": amount, "currency": "EUR"}}}


async def figures(shop: Shop, headers: dict, user_id: str | None = None) -> dict:
    r = await shop.gw.get("/api/orders/period-budget", params={"user_id": user_id} if user_id else {}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["figures"]


def amount(money: dict | None) -> Decimal:
    assert money is not None
    return Decimal(money["amount"])


async def test_an_order_over_the_monthly_budget_goes_to_approval_with_reason_period_budget(shop: Shop):
    buyer, buyer_h = await shop.person(["buyer"], budget=monthly("100.00"))
    me = (await shop.gw.get("/api/me", headers=buyer_h)).json()
    assert me["budget"]["period_budget"]["period"] == "month"

    # the buyer cannot raise their own budget, whatever their client sends
    raised = await shop.gw.put(f"/api/users/{buyer['id']}/budget", json=monthly("100000.00"), headers=buyer_h)
    assert raised.status_code == 403, raised.text

    start = await figures(shop, buyer_h)
    assert amount(start["available_value"]) == Decimal("100.00") and start["period"].startswith("month:")

    # the shop may show a price; the amount taken is the ERP's price as approval priced it, never the caller's
    cheap = await shop.gw.post("/api/orders", json=order_body(quantity=5, unit_price="0.01"), headers=buyer_h)
    assert cheap.status_code == 409 and cheap.json()["error"]["code"] == "price_changed"
    first = await shop.order(buyer_h, quantity=5)
    assert first["status"] == "released"  # 5 × 9.90 = 49.50 of 100.00
    after = await figures(shop, buyer_h)
    assert (amount(after["reserved_value"]) + amount(after["consumed_value"]), amount(after["available_value"])) == (
        Decimal("49.50"), Decimal("50.50"),
    )  # fmt: skip

    ev = await shop.gw.post("/api/orders/evaluate", json=order_body(quantity=6), headers=buyer_h)
    assert ev.json()["within_budget"] is False
    assert amount(ev.json()["period_budget"]["available_value"]) == Decimal("50.50")

    held = await shop.order(buyer_h, quantity=6)  # 59.40 > 50.50 left
    assert held["status"] == "pending_approval"
    (limit,) = held["exceeded_limits"]
    assert (limit["limit"], limit["reason"], limit["period"]) == ("period_value", "period_budget", start["period"])
    assert (Decimal(limit["allowed"]), Decimal(limit["actual"]), Decimal(limit["budget"])) == (
        Decimal("50.50"), Decimal("59.40"), Decimal("100.00"),
    )  # fmt: skip
    main_id = (await shop.gw.get("/api/me", headers=shop.main)).json()["user"]["id"]
    assert [a["id"] for a in held["approvers"]] == [main_id]  # no approvers named: the main contact decides

    # the main contact sees the buyer's figures, decides, and the approved order takes its part
    seen = await figures(shop, shop.main, buyer["id"])
    assert amount(seen["available_value"]) == Decimal("50.50")
    r = await shop.do(held["id"], "approve", shop.main, {"comment": "einmalig"})
    assert r.status_code == 200, r.text
    taken = await figures(shop, buyer_h)
    assert amount(taken["reserved_value"]) + amount(taken["consumed_value"]) == Decimal("108.90")
    assert amount(taken["available_value"]) == Decimal(0)

    # the ERP confirms both orders: reserved becomes consumed
    async def consumed() -> bool:
        f = await figures(shop, buyer_h)
        return amount(f["consumed_value"]) == Decimal("108.90") and amount(f["reserved_value"]) == Decimal(0)

    await eventually(consumed, timeout=60, what="the ERP's confirmations to consume the reservations")


async def test_a_cancelled_order_gives_its_part_back(shop: Shop):
    _, buyer_h = await shop.person(["buyer"], budget={"max_total_quantity": 1, **monthly("100.00")})
    held = await shop.order(buyer_h, quantity=3)  # over 1 per order: held, but fits the period: reserved
    assert held["status"] == "pending_approval" and [x["limit"] for x in held["exceeded_limits"]] == ["max_quantity"]
    assert amount((await figures(shop, buyer_h))["reserved_value"]) == Decimal("29.70")
    r = await shop.do(held["id"], "cancel", buyer_h)
    assert r.status_code == 200, r.text
    assert amount((await figures(shop, buyer_h))["available_value"]) == Decimal("100.00")


async def test_concurrent_orders_through_the_gateway_never_take_more_than_the_budget(shop: Shop):
    _, buyer_h = await shop.person(["buyer"], budget=monthly("99.00"))  # ten orders of 1 × 9.90
    answers = await asyncio.gather(
        *(shop.gw.post("/api/orders", json=order_body(quantity=1), headers=buyer_h) for _ in range(30))
    )
    assert all(r.status_code == 201 for r in answers), [r.text for r in answers if r.status_code != 201]
    statuses = [r.json()["status"] for r in answers]
    assert statuses.count("released") == 10
    assert all(
        [x["reason"] for x in r.json()["exceeded_limits"]] == ["period_budget"]
        for r in answers
        if r.json()["status"] == "pending_approval"
    )
    f = await figures(shop, buyer_h)
    assert amount(f["reserved_value"]) + amount(f["consumed_value"]) == Decimal("99.00")


async def test_only_the_main_contact_sees_a_colleagues_figures(shop: Shop):
    buyer, _ = await shop.person(["buyer"], budget=monthly("100.00"))
    _, colleague_h = await shop.person(["buyer"])
    url = "/api/orders/period-budget"
    r = await shop.gw.get(url, params={"user_id": buyer["id"]}, headers=colleague_h)
    assert (r.status_code, r.json()["error"]["code"]) == (403, "not_allowed")
    r = await shop.gw.get(url, params={"user_id": str(uuid4())}, headers=shop.main)
    assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found")
    r = await shop.gw.get(url, params={"user_id": "not-a-user"}, headers=shop.main)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"
    own = await shop.gw.get(url, headers=colleague_h)
    assert own.status_code == 200 and own.json()["figures"] is None  # no period budget
