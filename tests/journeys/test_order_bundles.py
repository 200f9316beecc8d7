"""Bundling through the gateway (issue 17 item 6; ADR 0034): an approver approves several waiting orders of the
company, to the same delivery address in the same currency, into one order to the ERP; the ERP receives one sales
order whose lines each name their original order; every buyer sees (and is mailed) that their order went out as part
of the bundle, and gets the ERP's answer. And the people a bundle restrains cannot get around it with their own
tokens: a buyer cannot bundle their own orders through, an approver cannot slip in their own order or another
company's, orders that differ are refused, and nothing is approved or sent twice."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.conftest import eventually
from tests.journeys.test_approval import mails_to
from tests.journeys.test_erp_support import erp_customer, order_in_status, registered_shop, sales_orders_at_erp
from tests.support.shop import BUDGET, Shop

pytestmark = pytest.mark.journey

BUNDLES = "/api/orders/bundles"


async def _team(shop: Shop) -> tuple[dict, dict, dict, dict, dict, dict]:
    """Two buyers and a named approver: the buyers' orders over budget go to the approver."""
    anna, anna_h = await shop.person(["buyer"], budget=BUDGET)
    ben, ben_h = await shop.person(["buyer"], budget=BUDGET)
    approver, approver_h = await shop.person(["approver"])
    await shop.approvers(approver, seen_by=anna_h)
    return anna, anna_h, ben, ben_h, approver, approver_h


async def test_an_approver_bundles_two_buyers_orders_into_one_erp_order_and_each_buyer_sees_it(
    users_api, erp_simulator
):
    shop = await registered_shop(users_api, (await erp_customer(erp_simulator))["customer_number"])
    anna, anna_h, ben, ben_h, approver, approver_h = await _team(shop)
    hers, his = await shop.order(anna_h, quantity=12), await shop.order(ben_h, quantity=15)
    assert (hers["status"], his["status"]) == ("pending_approval", "pending_approval")

    r = await shop.gw.post(
        BUNDLES, json={"order_ids": [hers["id"], his["id"]], "comment": "Eine Lieferung"}, headers=approver_h
    )
    assert r.status_code == 201, r.text
    bundle = r.json()
    assert [m["order_id"] for m in bundle["members"]] == [hers["id"], his["id"]]
    assert (bundle["status"], bundle["bundled_by"]["id"], bundle["other_orders"]) == ("released", approver["id"], 0)
    assert [(ln["order_id"], ln["line_no"], ln["quantity"]) for ln in bundle["lines"]] == [
        (hers["id"], 1, 12), (his["id"], 1, 15)
    ]  # fmt: skip

    # the ERP receives one sales order for the bundle, each line traceable to its order; none for the orders alone
    async def at_erp() -> list | None:
        return await sales_orders_at_erp(erp_simulator, bundle["id"]) or None

    (sales_order,) = await eventually(at_erp, what="the bundle's sales order at the ERP")
    payload = sales_order["payload"]
    assert payload["bundled_orders"] == [hers["id"], his["id"]]
    assert payload["approved_by"] == approver["id"]
    assert [(ln["origin"]["order_id"], ln["origin"]["line_no"], ln["origin"]["buyer_id"], ln["quantity"])
            for ln in payload["lines"]] == [(hers["id"], 1, anna["id"], 12), (his["id"], 1, ben["id"], 15)]  # fmt: skip
    assert Decimal(payload["total"]["amount"]) == sum(Decimal(o["total"]["amount"]) for o in (hers, his))
    for placed in (hers, his):
        assert await sales_orders_at_erp(erp_simulator, placed["id"]) == []

    # each buyer sees that their order went out as part of the bundle, with the ERP's one order number
    for placed, headers in ((hers, anna_h), (his, ben_h)):
        seen = await order_in_status(shop, placed["id"], headers, "confirmed")
        assert (seen["bundle_id"], seen["erp_order_number"]) == (bundle["id"], sales_order["sales_order_number"])
        released = next(t for t in seen["timeline"] if t["event"] == "Released")
        assert released["detail"] == {"bundle_id": bundle["id"]}
    # a buyer sees the bundle with their own order and lines only
    r = await shop.gw.get(f"{BUNDLES}/{bundle['id']}", headers=anna_h)
    assert r.status_code == 200, r.text
    mine = r.json()
    assert ([m["order_id"] for m in mine["members"]], mine["other_orders"]) == ([hers["id"]], 1)
    assert {ln["order_id"] for ln in mine["lines"]} == {hers["id"]}
    assert (mine["status"], mine["erp_order_number"]) == ("confirmed", sales_order["sales_order_number"])

    # and each is mailed that it was approved as part of a bundle
    for person in (anna, ben):

        async def mailed(address: str = person["email"]) -> dict | None:
            return next((m for m in await mails_to(address) if "Sammelbestellung" in m["text"]), None)

        mail = await eventually(mailed, what=f"the approval mail of the bundle to {person['email']}")
        assert "Eine Lieferung" in mail["text"]


async def test_the_people_a_bundle_restrains_cannot_get_around_it(users_api, erp_simulator):
    shop = await registered_shop(users_api, (await erp_customer(erp_simulator))["customer_number"])
    other = await registered_shop(users_api, (await erp_customer(erp_simulator))["customer_number"])
    _, anna_h, _, ben_h, approver, approver_h = await _team(shop)
    _, other_buyer_h = await other.person(["buyer"], budget=BUDGET)
    hers, his = await shop.order(anna_h, quantity=12), await shop.order(ben_h, quantity=15)
    mine_too = await shop.order(anna_h, quantity=13)
    theirs = await other.order(other_buyer_h, quantity=12)  # another company's, pending there
    to_hamburg = await shop.order_to(ben_h, 14, "Hamburg")

    async def refused(headers: dict, ids: list[str], status: int, code: str) -> dict:
        r = await shop.gw.post(BUNDLES, json={"order_ids": ids}, headers=headers)
        assert r.status_code == status, r.text
        assert r.json()["error"]["code"] == code, r.text
        return r.json()["error"]

    # a buyer cannot push their own orders through by bundling them
    await refused(anna_h, [hers["id"], mine_too["id"]], 403, "not_allowed")
    # another company's order: exactly like one that does not exist
    error = await refused(approver_h, [hers["id"], theirs["id"]], 404, "not_found")
    assert error["details"] == [{"order_id": theirs["id"]}]
    # a sales order has one delivery address
    error = await refused(approver_h, [hers["id"], to_hamburg["id"]], 422, "bundle_mismatch")
    assert error["details"] == [{"order_id": to_hamburg["id"], "field": "delivery_address"}]
    # nothing of the refused bundles was stored
    for placed, headers in ((hers, anna_h), (to_hamburg, ben_h), (mine_too, anna_h)):
        seen = (await shop.get(placed["id"], headers)).json()
        assert (seen["status"], seen["version"]) == ("pending_approval", placed["version"])
    still = (await other.get(theirs["id"], other_buyer_h)).json()
    assert (still["status"], still["version"]) == ("pending_approval", theirs["version"])

    # an approver who also buys cannot slip their own order into a bundle
    buying_approver, buying_approver_h = await shop.person(["buyer", "approver"], budget=BUDGET)
    await shop.approvers(approver, buying_approver, seen_by=anna_h)
    own = await shop.order(buying_approver_h, quantity=12)  # routed to the other approver only
    fresh = await shop.order(anna_h, quantity=16)  # routed to both
    error = await refused(buying_approver_h, [fresh["id"], own["id"]], 403, "self_approval")
    assert error["details"] == [{"order_id": own["id"]}]
    assert (await shop.get(fresh["id"], anna_h)).json()["status"] == "pending_approval"

    # bundled once; sent again (a retry), nothing is approved or sent twice; a single approval comes too late
    ids = [hers["id"], his["id"]]
    r = await shop.gw.post(BUNDLES, json={"order_ids": ids}, headers=approver_h)
    assert r.status_code == 201, r.text
    bundle = r.json()
    await refused(approver_h, ids, 409, "wrong_state")
    late = await shop.do(hers["id"], "approve", approver_h)
    assert late.status_code == 409 and late.json()["error"]["code"] == "wrong_state", late.text

    async def at_erp() -> list | None:
        return await sales_orders_at_erp(erp_simulator, bundle["id"]) or None

    assert len(await eventually(at_erp, what="the bundle's sales order at the ERP")) == 1
    for placed, headers in ((hers, anna_h), (his, ben_h)):
        seen = await order_in_status(shop, placed["id"], headers, "confirmed")
        assert [t["event"] for t in seen["timeline"]].count("Approved") == 1
        assert await sales_orders_at_erp(erp_simulator, placed["id"]) == []
    # another company's member cannot read the bundle
    r = await other.gw.get(f"{BUNDLES}/{bundle['id']}", headers=other_buyer_h)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", r.text
