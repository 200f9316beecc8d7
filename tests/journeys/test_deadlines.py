"""Deadlines of waiting orders through the gateway (issue 17 item 2, ADR 0033), on the running stack (its shortest
deadline is one second, its timer asks every second): the main contact sets remind after 1 s, escalate after 3 s and
expire after 6 s; an order over budget waits for the approver, is reminded, escalated to the main contact (who is
added to its approvers and may decide it now) and, left undecided, expires — each step once, on the timeline — and
its buyer sends it again. An approver cannot lengthen the deadlines with their own token."""

from __future__ import annotations

import pytest

from tests.conftest import eventually
from tests.journeys.test_approval_absences import named
from tests.journeys.test_erp_support import erp_customer, order_in_status, registered_shop
from tests.support.orders import order_body
from tests.support.shop import BUDGET, Shop

pytestmark = pytest.mark.journey

DEADLINES = "/api/approvals/deadlines"


async def steps(shop: Shop, order_id: str, headers: dict, *wanted: str) -> dict:
    async def taken() -> dict | None:
        r = await shop.get(order_id, headers)
        assert r.status_code == 200, r.text
        events = [t["event"] for t in r.json()["timeline"]]
        return r.json() if all(w in events for w in wanted) else None

    return await eventually(taken, timeout=30, what=f"{', '.join(wanted)} on order {order_id}")


async def test_an_undecided_order_is_reminded_escalated_and_expires_then_is_sent_again(users_api, erp_simulator):
    shop = await registered_shop(users_api, (await erp_customer(erp_simulator))["customer_number"])
    _buyer, buyer_h = await shop.person(["buyer"], budget=BUDGET)
    anna, anna_h = await named(shop, ["approver"], "Anna", "Frist")
    await shop.approvers(anna, seen_by=buyer_h)
    r = await shop.gw.put(DEADLINES, json={"remind_after": "PT1S", "escalate_after": "PT3S", "expire_after": "PT6S"},
                          headers=shop.main)  # fmt: skip
    assert r.status_code == 200, r.text
    longer = await shop.gw.put(DEADLINES, json={"expire_after": "P30D"}, headers=anna_h)
    assert (longer.status_code, longer.json()["error"]["code"]) == (403, "not_allowed")

    held = await shop.order(buyer_h, quantity=50)
    assert (held["status"], [a["id"] for a in held["approvers"]]) == ("pending_approval", [anna["id"]])

    escalated = await steps(shop, held["id"], buyer_h, "Reminded", "EscalatedOnDeadline")
    if escalated["status"] == "pending_approval":  # (it may have expired already on a slow machine)
        assert {a["id"] for a in escalated["approvers"]} == {anna["id"], shop.company.main_id}
    reminded = next(t for t in escalated["timeline"] if t["event"] == "Reminded")
    assert reminded["detail"]["approvers"] == [anna["id"]]

    expired = await order_in_status(shop, held["id"], buyer_h, "expired", timeout=30)
    names = [t["event"] for t in expired["timeline"]]
    assert [n for n in names if n in ("Reminded", "EscalatedOnDeadline", "Expired")] == [
        "Reminded", "EscalatedOnDeadline", "Expired",
    ]  # fmt: skip — each once
    late = await shop.do(held["id"], "approve", anna_h)
    assert (late.status_code, late.json()["error"]["code"]) == (409, "wrong_state")

    async def listed() -> bool:
        r = await shop.gw.get("/api/orders", params={"status": "expired"}, headers=buyer_h)
        assert r.status_code == 200, r.text
        return held["id"] in [o["id"] for o in r.json()["items"]]

    await eventually(listed, what="the expired order in the buyer's list of expired orders")
    again = await shop.do(held["id"], "resubmit", buyer_h, {"comment": "Bitte noch einmal", "order": order_body(quantity=50)})
    assert (again.status_code, again.json()["status"], again.json()["round"]) == (200, "pending_approval", 2), again.text
