"""What-if through the gateway (issue 18 item 3, ADR 0030): after real orders — two within the buyer's budget, one
held for the approver — the main contact asks what a lower budget and another approver list would have done to
them: exact counts, values and load, the order whose routing changes named; nothing about the orders changes. A
buyer and a controller may not ask (403 `not_allowed`); another company's people are 404 like missing ones."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import pytest

from tests.conftest import eventually
from tests.support.shop import BUDGET, Shop

pytestmark = pytest.mark.journey

URL = "/api/reports/what-if"


def money(values: list[dict]) -> Decimal:
    (value,) = values
    assert value["currency"] == "EUR"
    return Decimal(value["amount"])


def side(body: dict, which: str, kind: str) -> tuple[int, Decimal]:
    entries = body[which][kind]
    if not entries:
        return 0, Decimal(0)
    (entry,) = entries
    return entry["orders"], Decimal(entry["value"]["amount"])


def load(body: dict, person: dict) -> tuple[int, int]:
    for entry in body["load"]:
        if entry["approver"]["id"] == person["id"]:
            return entry["actual_orders"], entry["proposed_orders"]
    return 0, 0


async def test_the_main_contact_asks_what_a_lower_budget_and_another_approver_would_have_done(shop: Shop):
    buyer, buyer_h = await shop.person(["buyer"], budget=BUDGET)  # 10 pieces per order
    anna, _ = await shop.person(["approver"])
    bert, _ = await shop.person(["approver"])
    await shop.approvers(anna, seen_by=buyer_h)
    small = await shop.order(buyer_h, quantity=2)  # 19.80, released
    middle = await shop.order(buyer_h, quantity=8)  # 79.20, released
    held = await shop.order(buyer_h, quantity=12)  # 118.80, held for anna
    assert (small["status"], middle["status"], held["status"]) == ("released", "released", "pending_approval")
    version = (await shop.get(held["id"], shop.main)).json()["version"]

    lower = {"changes": [{"kind": "budget", "user_id": buyer["id"], "budget": {"max_total_quantity": 5}}]}

    async def replayed() -> dict | None:
        r = await shop.gw.post(URL, json=lower, headers=shop.main)
        assert r.status_code == 200, r.text
        return r.json() if r.json()["orders"] == 3 else None

    body = await eventually(replayed, what="the what-if to know the three orders")
    assert body is not None
    assert side(body, "actual", "needing_approval") == (1, Decimal("118.80"))
    assert side(body, "proposed", "needing_approval") == (2, Decimal("198.00"))
    assert side(body, "actual", "within_budget") == (2, Decimal("99.00"))
    assert side(body, "proposed", "within_budget") == (1, Decimal("19.80"))
    (difference,) = body["difference"]
    assert (difference["orders"], Decimal(difference["value"]["amount"])) == (1, Decimal("79.20"))
    assert load(body, anna) == (1, 2)
    changes = body["changes"]
    assert (changes["orders"], changes["more_approval"], changes["less_approval"]) == (1, 1, 0)
    assert money(changes["value"]) == Decimal("79.20")
    (changed,) = changes["sample"]
    assert changed["order_id"] == middle["id"] and changed["buyer"]["id"] == buyer["id"]
    assert (changed["actual"]["needs_approval"], changed["proposed"]["needs_approval"]) == (False, True)
    assert changed["proposed"]["limits"] == ["max_quantity"]
    assert [a["id"] for a in changed["proposed"]["approvers"]] == [anna["id"]]

    # another approver list: the held order's load moves from anna to bert
    r = await shop.gw.post(URL, json={"changes": [{"kind": "approvers", "approvers": [bert["id"]]}]}, headers=shop.main)
    assert r.status_code == 200, r.text
    moved = r.json()
    assert (load(moved, anna), load(moved, bert)) == ((1, 0), (0, 1))
    assert (moved["changes"]["rerouted"], moved["changes"]["sample"][0]["order_id"]) == (1, held["id"])

    # a tiered policy (ADR 0025), `direct`: the held 118.80 starts at the tier whose limit covers it — bert's
    tiers = [{"max_value": "100", "approver_ids": [anna["id"]]}, {"max_value": "1000", "approver_ids": [bert["id"]]}]
    policy = {"kind": "policy", "tiers": tiers, "escalation": "direct"}
    r = await shop.gw.post(URL, json={"changes": [policy]}, headers=shop.main)
    assert r.status_code == 200, r.text
    (tiered,) = r.json()["changes"]["sample"]
    assert (tiered["order_id"], tiered["proposed"]["tier"]) == (held["id"], 2)
    assert [a["id"] for a in tiered["proposed"]["approvers"]] == [bert["id"]]

    # a period outside the orders: nothing in it
    r = await shop.gw.post(URL, json={**lower, "from": "2020-01-01", "until": "2020-02-01"}, headers=shop.main)
    assert r.status_code == 200 and r.json()["orders"] == 0 and r.json()["changes"]["orders"] == 0, r.text

    # no side effect: the held order is as it was, still anna's (the released ones move on with the ERP's answers)
    now = (await shop.get(held["id"], shop.main)).json()
    assert (now["version"], now["status"], [a["id"] for a in now["approvers"]]) == (version, "pending_approval",
                                                                                   [anna["id"]])  # fmt: skip


async def test_a_buyer_and_a_controller_may_not_ask(shop: Shop):
    buyer, buyer_h = await shop.person(["buyer"], budget=BUDGET)
    _, controller_h = await shop.person(["controller"])
    body = {"changes": [{"kind": "budget", "user_id": buyer["id"], "budget": {}}]}
    for headers in (buyer_h, controller_h):
        r = await shop.gw.post(URL, json=body, headers=headers)
        assert (r.status_code, r.json()["error"]["code"]) == (403, "not_allowed"), r.text


async def test_another_companys_people_are_not_found_like_missing_ones(shop: Shop, users_api):
    other = Shop(users_api, await users_api.company())
    stranger, _ = await other.person(["buyer", "approver"], budget=BUDGET)
    for change in (
        {"kind": "budget", "user_id": stranger["id"], "budget": {}},
        {"kind": "budget", "user_id": str(uuid4()), "budget": {}},
        {"kind": "approvers", "approvers": [stranger["id"]]},
        {"kind": "policy", "tiers": [{"max_value": "100", "approver_ids": [stranger["id"]]}]},
    ):
        r = await shop.gw.post(URL, json={"changes": [change]}, headers=shop.main)
        assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found"), (change, r.text)


async def test_bad_proposals_are_refused_with_a_code(shop: Shop):
    approvers = {"kind": "approvers", "approvers": []}
    cases = [
        ({"changes": []}, "invalid_request"),
        ({"changes": [approvers], "from": "2020-01-01", "until": "2026-01-01"}, "period_too_long"),
        ({"changes": [approvers], "from": "2026-03-01", "until": "2026-02-01"}, "invalid_period"),
        ({"changes": [approvers, approvers]}, "duplicate_change"),
        ({"changes": [approvers], "company_id": str(uuid4())}, "invalid_request"),
    ]
    for body, code in cases:
        r = await shop.gw.post(URL, json=body, headers=shop.main)
        assert (r.status_code, r.json()["error"]["code"]) == (422, code), (body, r.text)
