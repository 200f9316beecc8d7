"""Bulk decisions through the gateway (issue 17 item 3): an approver decides several orders in one request, with a
result per order, and the approved ones travel to the ERP like any other."""

from __future__ import annotations

from uuid import uuid4

import pytest

from tests.journeys.test_erp_support import erp_customer, order_in_status, registered_shop, sales_orders_at_erp
from tests.support.shop import BUDGET, Shop

pytestmark = pytest.mark.journey

DECISIONS = "/api/orders/decisions"


async def _team(shop: Shop, with_main_contact: bool = False) -> tuple[dict, dict, dict, dict]:
    """A buyer and a named approver; ``with_main_contact``: the main contact is named an approver as well (by a
    user administrator: nobody names themselves), so both decide the buyer's orders over budget."""
    buyer, buyer_h = await shop.person(["buyer"], budget=BUDGET)
    approver, approver_h = await shop.person(["approver"])
    if not with_main_contact:
        await shop.approvers(approver, seen_by=buyer_h)
        return buyer, buyer_h, approver, approver_h
    r = await shop.gw.post(
        "/api/roles", json={"name": f"Benutzerverwaltung {uuid4().hex[:6]}", "permissions": ["manage_users"]},
        headers=shop.main,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    _, admin_h = await shop.person([r.json()["id"]])
    await shop.approvers(approver, {"id": shop.company.main_id}, seen_by=buyer_h, by=admin_h)
    return buyer, buyer_h, approver, approver_h


async def test_an_approver_approves_several_orders_at_once_with_a_result_for_each(users_api, erp_simulator):
    customer = await erp_customer(erp_simulator)
    shop = await registered_shop(users_api, customer["customer_number"])
    other = await registered_shop(users_api, (await erp_customer(erp_simulator))["customer_number"])
    _, buyer_h, approver, approver_h = await _team(shop, with_main_contact=True)
    _, other_buyer_h = await other.person(["buyer"], budget=BUDGET)

    first, rejected_meanwhile, third = [await shop.order(buyer_h, quantity=12) for _ in range(3)]
    assert {o["status"] for o in (first, rejected_meanwhile, third)} == {"pending_approval"}
    theirs = await other.order(other_buyer_h, quantity=12)  # another company's, pending there
    r = await shop.do(rejected_meanwhile["id"], "reject", shop.main, {"comment": "Erst im Januar"})
    assert r.status_code == 200, r.text
    missing = str(uuid4())

    named = [first["id"], rejected_meanwhile["id"], theirs["id"], third["id"], missing]
    body = {"decision": "approve", "order_ids": named, "comment": "Alle freigegeben"}
    r = await shop.gw.post(DECISIONS, json=body, headers=approver_h)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert [x["order_id"] for x in answer["results"]] == named
    assert (answer["decided"], answer["failed"]) == (2, 3)
    ok_1, late, foreign, ok_3, nothing = answer["results"]

    for ok in (ok_1, ok_3):
        assert (ok["outcome"], ok["status"], ok["error"]) == ("approved", "released", None), ok
        assert ok["decided_by"]["id"] == approver["id"]
    assert (late["outcome"], late["status"], late["error"]["code"]) == ("failed", "rejected", "wrong_state")
    assert late["decided_by"]["id"] == shop.company.main_id
    # another company's order is reported exactly like one that does not exist
    assert foreign["error"]["code"] == "not_found"
    assert {**foreign, "order_id": missing} == nothing

    # the approved ones reach the ERP, once each, as approved by the approver with the one comment
    for placed in (first, third):
        confirmed = await order_in_status(shop, placed["id"], buyer_h, "confirmed")
        assert confirmed["conversation"][-1]["text"] == "Alle freigegeben"
        (sales_order,) = await sales_orders_at_erp(erp_simulator, placed["id"])
        assert sales_order["payload"]["approved_by"] == approver["id"]
    assert (await sales_orders_at_erp(erp_simulator, rejected_meanwhile["id"])) == []
    # the rejected one stays the main contact's rejection, the other company's stays pending there
    seen = (await shop.get(rejected_meanwhile["id"], buyer_h)).json()
    assert [t["event"] for t in seen["timeline"]].count("Approved") == 0
    assert seen["status"] == "rejected"
    still = (await other.get(theirs["id"], other_buyer_h)).json()
    assert (still["status"], still["version"]) == ("pending_approval", theirs["version"])


async def test_a_retried_bulk_decision_decides_nothing_twice(users_api, erp_simulator):
    shop = await registered_shop(users_api, (await erp_customer(erp_simulator))["customer_number"])
    _, buyer_h, approver, approver_h = await _team(shop)
    placed = [await shop.order(buyer_h, quantity=12) for _ in range(2)]
    body = {"decision": "reject", "order_ids": [o["id"] for o in placed], "comment": "Bitte als eine Bestellung"}

    first = await shop.gw.post(DECISIONS, json=body, headers=approver_h)
    again = await shop.gw.post(DECISIONS, json=body, headers=approver_h)  # the shop retries after a timeout

    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert [x["outcome"] for x in first.json()["results"]] == ["rejected", "rejected"]
    for result in again.json()["results"]:
        assert (result["outcome"], result["status"], result["error"]["code"]) == ("failed", "rejected", "wrong_state")
        assert result["decided_by"]["id"] == approver["id"]
    for o in placed:
        seen = (await shop.get(o["id"], buyer_h)).json()
        assert [t["event"] for t in seen["timeline"]].count("Rejected") == 1
        assert [m["kind"] for m in seen["conversation"]].count("rejection") == 1


async def test_a_buyer_who_approves_cannot_decide_their_own_orders_in_bulk(users_api, erp_simulator):
    shop = await registered_shop(users_api, (await erp_customer(erp_simulator))["customer_number"])
    buyer, buyer_h = await shop.person(["buyer", "approver"], budget=BUDGET)
    _, colleague_h = await shop.person(["buyer"], budget=BUDGET)
    other_approver, _ = await shop.person(["approver"])
    await shop.approvers(buyer, other_approver, seen_by=colleague_h)
    mine = await shop.order(buyer_h, quantity=12)  # routed to the other approver only
    theirs = await shop.order(colleague_h, quantity=12)  # routed to the buyer and the other approver
    body = {"decision": "approve", "order_ids": [mine["id"], theirs["id"]]}
    r = await shop.gw.post(DECISIONS, json=body, headers=buyer_h)
    assert r.status_code == 200, r.text
    own, other = r.json()["results"]
    assert (own["outcome"], own["error"]["code"], own["status"]) == ("failed", "self_approval", "pending_approval")
    assert (other["outcome"], other["status"]) == ("approved", "released")
