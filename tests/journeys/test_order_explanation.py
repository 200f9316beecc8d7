"""An order's explanation through the gateway (issue 18 item 2, ADR 0028): an order over budget goes to Anna, who is
away; Sam approves it on her behalf; the buyer's budget is raised afterwards. The buyer, Anna, Sam and the
controller read why — with the budget as it was at submission — an approver it never went to is refused, and an
unrelated buyer and another company's main contact find nothing."""

from __future__ import annotations

from uuid import uuid4

import pytest

from tests.conftest import eventually
from tests.journeys.test_approval_absences import named, record
from tests.support.orders import order_body
from tests.support.shop import BUDGET, Shop
from tests.support.users import UsersApi

pytestmark = pytest.mark.journey

RAISED = {"max_total_quantity": 50, "max_order_value": {"amount": "5000.00", "currency": "EUR"}}


def url(order_id: str) -> str:
    return f"/api/orders/{order_id}/explanation"


async def test_the_buyer_the_deciders_and_the_controller_read_why_and_nobody_else(shop: Shop, users_api: UsersApi):
    buyer, buyer_h = await shop.person(["buyer"], budget=BUDGET)
    anna, anna_h = await named(shop, ["approver"], "Anna", "Abwesend")
    sam, sam_h = await named(shop, ["approver"], "Sam", "Stellvertreter")
    _, controller_h = await named(shop, ["controller"], "Clara", "Controlling")
    _, colleague_h = await shop.person(["buyer"], budget=BUDGET)
    _, otto_h = await named(shop, ["approver"], "Otto", "Unbeteiligt")
    await shop.approvers(anna, seen_by=buyer_h)
    await record(shop, anna_h, sam, hours=24)

    order = await shop.order(buyer_h, quantity=12)
    assert order["status"] == "pending_approval"

    # the budget is raised after the submission: the explanation keeps the one the order was judged on
    r = await shop.gw.put(f"/api/users/{buyer['id']}/budget", json=RAISED, headers=shop.main)
    assert r.status_code == 200, r.text

    async def raised() -> bool:
        r = await shop.gw.post("/api/orders/evaluate", json=order_body(quantity=12), headers=buyer_h)
        return r.status_code == 200 and r.json()["within_budget"]

    await eventually(raised, what="approval to judge on the raised budget")

    r = await shop.do(order["id"], "approve", sam_h, {"comment": "In Vertretung freigegeben"})
    assert r.status_code == 200, r.text

    answers = {}
    for who, headers in (("buyer", buyer_h), ("anna", anna_h), ("sam", sam_h), ("controller", controller_h)):
        r = await shop.gw.get(url(order["id"]), headers=headers)
        assert r.status_code == 200, (who, r.text)
        answers[who] = r.json()
    x = answers["controller"]
    # the same history whoever reads it (the ERP's answers may come in between the reads)
    assert all(a["steps"][:5] == x["steps"][:5] for a in answers.values())

    steps = {s["kind"]: s for s in x["steps"]}
    assert [s["kind"] for s in x["steps"]][:5] == ["submitted", "approval_requested", "offered_to_substitute",
                                                   "approved", "released"]  # fmt: skip
    judged = steps["submitted"]["judgement"]
    assert (judged["budget"]["max_quantity"], judged["budget_source"], judged["outcome"]) == (
        10, "recorded", "held_for_approval",
    )  # fmt: skip
    assert [limit["limit"] for limit in judged["exceeded_limits"]] == ["max_quantity"]
    line = steps["submitted"]["content"]["lines"][0]
    assert (line["sku"], line["unit_price"]["amount"], steps["submitted"]["content"]["price_source"]) == (
        "A-100", "9.90", "erp",
    )  # fmt: skip

    routing = steps["approval_requested"]["routing"]
    assert (routing["rule"], [a["name"] for a in routing["approvers"]]) == ("approvers_named", ["Anna Abwesend"])
    (substitute,) = routing["substitutes"]
    assert (substitute["substitute"]["name"], substitute["on_behalf_of"]["name"]) == ("Sam Stellvertreter",
                                                                                      "Anna Abwesend")  # fmt: skip
    could = {(d["person"]["id"], d["capacity"]) for d in steps["approval_requested"]["waiting"]["could_decide"]}
    assert could == {(anna["id"], "approver"), (sam["id"], "substitute")}

    approved = steps["approved"]
    assert (approved["by"]["id"], approved["on_behalf_of"]["id"], approved["comment"]) == (
        sam["id"], anna["id"], "In Vertretung freigegeben",
    )  # fmt: skip
    assert (approved["decision"]["capacity"], approved["decision"]["absence"]["recorded_by"]["id"]) == (
        "substitute", anna["id"],
    )  # fmt: skip

    # an approver it never went to sees the order, not why: refused; an unrelated buyer does not find it
    r = await shop.gw.get(url(order["id"]), headers=otto_h)
    assert (r.status_code, r.json()["error"]["code"]) == (403, "not_allowed")
    missing = str(uuid4())
    for outsider in (colleague_h, await _other_main_contact(users_api)):
        theirs = await shop.gw.get(url(order["id"]), headers=outsider)
        nothing = await shop.gw.get(url(missing), headers=outsider)
        assert (theirs.status_code, theirs.json()["error"]["code"]) == (404, "not_found")
        assert theirs.text.replace(order["id"], missing) == nothing.text


async def _other_main_contact(users_api: UsersApi) -> dict:
    other = Shop(users_api, await users_api.company())
    await eventually(lambda: other.known_to_approval(other.main), what="approval to know the other main contact")
    return other.main
