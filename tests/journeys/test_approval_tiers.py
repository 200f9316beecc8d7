"""Approval tiers and approver limits through the gateway (issue 16 item 3, ADR 0025): the main contact defines two
tiers; an order within the first tier's limit is released by a first-tier approver and reaches the ERP; an order above
it is approved at the first tier, climbs to the second (whose approver gets the approval request by mail), is released
there and reaches the ERP. A first-tier approver cannot decide at the second tier; the buyer decides on no tier."""

from __future__ import annotations

import pytest

from tests.conftest import eventually
from tests.journeys.test_approval_absences import inbox, mail_about, named
from tests.journeys.test_erp_support import erp_customer, order_in_status, registered_shop, sales_orders_at_erp
from tests.support.shop import BUDGET, Shop

pytestmark = pytest.mark.journey

POLICY = "/api/approvals/policy"


async def two_tiers(shop: Shop, anna: dict, bert: dict, buyer: dict) -> dict:
    """Anna up to 200 EUR, Bert up to 1,000 EUR; the buyer (who may approve) is named on both tiers as well."""
    body = {"tiers": [{"max_value": "200.00", "approver_ids": [anna["id"], buyer["id"]]},
                      {"max_value": "1000.00", "approver_ids": [bert["id"], buyer["id"]]}]}  # fmt: skip
    r = await shop.gw.put(POLICY, json=body, headers=shop.main)
    assert r.status_code == 200, r.text
    return r.json()


async def test_two_tiers_an_order_within_the_first_and_one_that_climbs_to_the_second(users_api, erp_simulator):
    shop = await registered_shop(users_api, (await erp_customer(erp_simulator))["customer_number"])
    buyer, buyer_h = await shop.person(["buyer", "approver"], budget=BUDGET)  # may approve, never their own orders
    anna, anna_h = await named(shop, ["approver"], "Anna", "Erststufe")
    bert, bert_h = await named(shop, ["approver"], "Bert", "Zweitstufe")

    policy = await two_tiers(shop, anna, bert, buyer)
    assert (policy["version"], policy["default"], policy["escalation"]) == (1, False, "climb")
    assert [t["approvers"][0]["name"] for t in policy["tiers"]] == ["Anna Erststufe", "Bert Zweitstufe"]
    assert policy["revisions"][0]["defined_by"]["id"] == shop.company.main_id

    # within the first tier's limit (12 × 9.90 = 118.80 EUR): Anna releases it, it reaches the ERP
    small = await shop.order(buyer_h, quantity=12)
    assert small["status"] == "pending_approval"
    assert [a["id"] for a in small["approvers"]] == [anna["id"]]
    assert (small["approval_tier"]["tier"], small["approval_tier"]["policy_version"]) == (1, 1)
    own = await shop.do(small["id"], "approve", buyer_h)
    assert (own.status_code, own.json()["error"]["code"]) == (403, "self_approval")
    r = await shop.do(small["id"], "approve", anna_h)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["decided_by"]["id"]) == ("released", anna["id"])
    await order_in_status(shop, small["id"], buyer_h, "confirmed")
    (at_erp,) = await sales_orders_at_erp(erp_simulator, small["id"])
    assert at_erp["payload"]["approved_by"] == anna["id"]

    # above it (50 × 9.90 = 495.00 EUR): Anna's approval lifts it to the second tier
    big = await shop.order(buyer_h, quantity=50)
    assert [a["id"] for a in big["approvers"]] == [anna["id"]]
    await eventually(lambda: _in_inbox(shop, anna_h, big["id"]), what="the order in Anna's inbox")
    assert big["id"] not in await inbox(shop, bert_h)  # the second tier's turn comes later
    own = await shop.do(big["id"], "approve", buyer_h)
    assert (own.status_code, own.json()["error"]["code"]) == (403, "self_approval")
    r = await shop.do(big["id"], "approve", anna_h, {"comment": "Von mir ja, Bert bitte auch"})
    assert r.status_code == 200, r.text
    climbed = r.json()
    assert climbed["status"] == "pending_approval"
    assert [a["id"] for a in climbed["approvers"]] == [bert["id"]]
    assert climbed["approval_tier"]["tier"] == 2
    assert climbed["approval_tier"]["max_value"]["amount"] == "1000.00"
    assert climbed["approval_tier"]["approved_below"][0]["by"]["id"] == anna["id"]
    escalated = next(t for t in climbed["timeline"] if t["event"] == "Escalated")
    assert (escalated["by"]["id"], escalated["detail"]["from_tier"], escalated["detail"]["tier"]) == (anna["id"], 1, 2)
    assert (climbed["conversation"][-1]["kind"], climbed["conversation"][-1]["author"]["id"]) == (
        "tier_approval", anna["id"],
    )  # fmt: skip

    # the second tier is told as the first was: the approval request, by mail; its inbox has it, Anna's no longer
    to_bert = await mail_about(bert["email"], big["id"])
    assert to_bert["subject"] == "Freigabe erbeten: Bestellung über 495,00 € (PO-4711)"
    await eventually(lambda: _in_inbox(shop, bert_h, big["id"]), what="the order in Bert's inbox")
    await eventually(lambda: _not_in_inbox(shop, anna_h, big["id"]), what="the order to leave Anna's inbox")

    # a first-tier approver cannot decide at the second tier, nor the buyer
    for who in (anna_h, buyer_h):
        for action, body in (("approve", {}), ("reject", {"comment": "Nein"})):
            r = await shop.do(big["id"], action, who, body)
            assert r.status_code == 403, r.text
            assert r.json()["error"]["code"] in ("already_approved", "self_approval")

    r = await shop.do(big["id"], "approve", bert_h)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["decided_by"]["id"]) == ("released", bert["id"])
    await order_in_status(shop, big["id"], buyer_h, "confirmed")
    (at_erp,) = await sales_orders_at_erp(erp_simulator, big["id"])
    assert at_erp["payload"]["approved_by"] == bert["id"]


async def test_without_a_policy_the_approver_list_decides_as_before(shop: Shop):
    _, buyer_h = await shop.person(["buyer"], budget=BUDGET)
    anna, anna_h = await named(shop, ["approver"], "Anna", "Liste")
    await shop.approvers(anna, seen_by=buyer_h)
    r = await shop.gw.get(POLICY, headers=shop.main)
    assert (r.status_code, r.json()["default"], r.json()["version"]) == (200, True, None)
    order = await shop.order(buyer_h, quantity=12)
    assert ([a["id"] for a in order["approvers"]], order["approval_tier"]) == ([anna["id"]], None)
    r = await shop.do(order["id"], "approve", anna_h)
    assert r.json()["status"] == "released"


async def _in_inbox(shop: Shop, headers: dict, order_id: str) -> bool:
    return order_id in await inbox(shop, headers)


async def _not_in_inbox(shop: Shop, headers: dict, order_id: str) -> bool:
    return order_id not in await inbox(shop, headers)
