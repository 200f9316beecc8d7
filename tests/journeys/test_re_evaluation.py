"""Pinned verdicts and the re-evaluation of pending orders through the gateway (issue 16 item 4, ADR 0024): a raised
budget leaves the pending order as it was judged; the main contact's dry run reports what would change, the real
run releases the order to the ERP (once), and the order's timeline names who asked."""

from __future__ import annotations

from uuid import uuid4

import httpx
import pytest

from tests.conftest import eventually
from tests.journeys.test_approval import mails_to
from tests.support.shop import BUDGET, Shop

pytestmark = pytest.mark.journey

URL = "/api/orders/re-evaluations"
RAISED = {"max_total_quantity": 50, "max_order_value": {"amount": "5000.00", "currency": "EUR"}}


async def raise_budget(shop: Shop, buyer: dict, buyer_h: dict) -> None:
    r = await shop.gw.put(f"/api/users/{buyer['id']}/budget", json=RAISED, headers=shop.main)
    assert r.status_code == 200, r.text

    async def known() -> bool:  # approval has the new budget once the buyer's evaluation says so
        r = await shop.gw.get("/api/me", headers=buyer_h)
        return r.json()["budget"]["max_total_quantity"] == 50

    await eventually(known, what="the new budget at approval")


async def test_a_raised_budget_releases_a_pending_order_only_when_the_main_contact_re_evaluates(
    shop: Shop, erp_simulator: httpx.AsyncClient
):
    buyer, buyer_h = await shop.person(["buyer"], budget=BUDGET)
    main_id = (await shop.gw.get("/api/me", headers=shop.main)).json()["user"]["id"]
    held = await shop.order(buyer_h, quantity=12)  # over 10 per order
    assert held["status"] == "pending_approval" and held["judged_on"]["re_evaluated_by"] is None
    assert [x["limit"] for x in held["judged_on"]["exceeded_limits"]] == ["max_quantity"]

    # someone must act: the main contact (no approvers named) is asked by mail
    main_email = (await shop.gw.get("/api/me", headers=shop.main)).json()["user"]["email"]

    async def asked() -> bool:
        return any(held["id"] in m.get("text", "") + m.get("html", "") for m in await mails_to(main_email))

    await eventually(asked, what="the approval request mail to the main contact")

    await raise_budget(shop, buyer, buyer_h)
    pinned = (await shop.get(held["id"], buyer_h)).json()
    assert pinned["status"] == "pending_approval" and pinned["judged_on"] == held["judged_on"]

    # the buyer may not re-evaluate, not even their own orders
    r = await shop.gw.post(URL, json={"buyer_id": buyer["id"]}, headers=buyer_h)
    assert (r.status_code, r.json()["error"]["code"]) == (403, "not_allowed")

    dry = await shop.gw.post(URL, json={"buyer_id": buyer["id"], "dry_run": True}, headers=shop.main)
    assert dry.status_code == 200, dry.text
    (result,) = dry.json()["results"]
    assert (result["order_id"], result["outcome"], result["after"]["status"]) == (held["id"], "released", "released")
    assert (await shop.get(held["id"], buyer_h)).json()["version"] == pinned["version"]  # nothing stored

    real = await shop.gw.post(URL, json={"buyer_id": buyer["id"]}, headers=shop.main)
    assert real.status_code == 200, real.text
    assert (real.json()["released"], real.json()["more_pending"]) == (1, False)
    done = (await shop.get(held["id"], buyer_h)).json()
    assert done["status"] in ("released", "transmitted", "confirmed")
    assert done["judged_on"]["re_evaluated_by"]["id"] == main_id and done["judged_on"]["exceeded_limits"] == []
    (audit,) = [e for e in done["timeline"] if e["event"] == "ReEvaluated"]
    assert audit["by"]["id"] == main_id
    assert [x["limit"] for x in audit["detail"]["exceeded_limits_before"]] == ["max_quantity"]

    async def at_erp() -> list | None:
        rows = (await erp_simulator.get("/sales-orders", params={"order_id": held["id"]})).json()
        return rows or None

    assert len(await eventually(at_erp, what="the released order at the ERP")) == 1

    async def told() -> list | None:  # the buyer is told, once, in their language
        found = [m for m in await mails_to(buyer["email"]) if held["id"] in m["text"]]
        return found or None

    (mail,) = await eventually(told, what="the release mail to the buyer")
    assert "freigegeben" in mail["subject"] and "geändertes Budget" in mail["text"]

    again = await shop.gw.post(URL, json={"buyer_id": buyer["id"]}, headers=shop.main)
    assert again.status_code == 200 and again.json()["results"] == []  # nothing pending: nothing released twice
    assert len((await erp_simulator.get("/sales-orders", params={"order_id": held["id"]})).json()) == 1


async def test_another_companys_buyer_is_not_found_and_bad_input_is_refused(shop: Shop, users_api):
    other = Shop(users_api, await users_api.company())
    stranger, _ = await other.person(["buyer"], budget=BUDGET)
    for buyer_id in (stranger["id"], str(uuid4())):
        r = await shop.gw.post(URL, json={"buyer_id": buyer_id}, headers=shop.main)
        assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found")
    r = await shop.gw.post(URL, json={"buyer_id": "nobody"}, headers=shop.main)
    assert r.status_code == 422
    r = await shop.gw.post(URL, json={"dry_run": "sometimes", "extra": 1}, headers=shop.main)
    assert r.status_code == 422
