"""Absences and substitutes through the gateway (issue 17 item 1, ADR 0020): while an approver is away, the orders
routed to them are offered to their substitute too — in the inbox, by mail, to decide on the approver's behalf —
and when the absence ends, they stop being offered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import eventually
from tests.journeys.test_approval import mails_to
from tests.journeys.test_erp_support import erp_customer, order_in_status, registered_shop, sales_orders_at_erp
from tests.support.shop import BUDGET, Shop

pytestmark = pytest.mark.journey

ABSENCES = "/api/absences"


def period(hours: float = 8, start: timedelta = timedelta(0)) -> dict[str, str]:
    begin = datetime.now(UTC) + start
    return {"from": begin.isoformat(), "until": (begin + timedelta(hours=hours)).isoformat()}


async def named(shop: Shop, roles: list[str], first: str, last: str, **fields: Any) -> tuple[dict, dict]:
    """A new user with a name of their own (mails name the absent approver), known to approval."""
    user, headers = await shop.api.user(shop.company, roles, first_name=first, last_name=last, **fields)
    await eventually(lambda: shop.known_to_approval(headers), what="approval to know the new user")
    return user, headers


async def team(shop: Shop) -> tuple[dict, dict, dict, dict, dict, dict]:
    """A buyer, Anna (the named approver) and Sam (an approver by role, not named: nothing is routed to him)."""
    buyer, buyer_h = await shop.person(["buyer"], budget=BUDGET)
    anna, anna_h = await named(shop, ["approver"], "Anna", "Abwesend")
    sam, sam_h = await named(shop, ["approver"], "Sam", "Stellvertreter")
    await shop.approvers(anna, seen_by=buyer_h)
    return buyer, buyer_h, anna, anna_h, sam, sam_h


async def record(shop: Shop, headers: dict, substitute: dict, approver: dict | None = None, **when: Any) -> dict:
    body = {"substitute_id": substitute["id"], **period(**when)}
    if approver is not None:
        body["approver_id"] = approver["id"]
    r = await shop.gw.post(ABSENCES, json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def inbox(shop: Shop, headers: dict) -> dict[str, dict]:
    r = await shop.gw.get("/api/approvals", headers=headers)
    assert r.status_code == 200, r.text
    return {item["id"]: item for item in r.json()["items"]}


async def mail_about(address: str, order_id: str) -> dict:
    async def found() -> dict | None:
        return next((m for m in await mails_to(address) if order_id in m["text"]), None)

    return await eventually(found, what=f"the mail about order {order_id} to {address}")


async def test_the_substitute_gets_the_absent_approvers_order_by_mail_and_approves_it_on_their_behalf(
    users_api, erp_simulator
):
    shop = await registered_shop(users_api, (await erp_customer(erp_simulator))["customer_number"])
    buyer, buyer_h, anna, anna_h, sam, sam_h = await team(shop)
    absence = await record(shop, anna_h, sam, hours=24)
    assert (absence["state"], absence["recorded_by"]["id"], absence["substitute"]["name"]) == (
        "in_force", anna["id"], "Sam Stellvertreter",
    )  # fmt: skip

    order = await shop.order(buyer_h, quantity=12)
    assert order["status"] == "pending_approval"
    assert [a["id"] for a in order["approvers"]] == [anna["id"]]  # routed as always: Anna decides too

    # the substitute's inbox offers it on Anna's behalf; Anna's inbox still has it
    item = await eventually(lambda: _item(shop, sam_h, order["id"]), what="the order in the substitute's inbox")
    assert item["substitute_for"] == {"id": anna["id"], "name": "Anna Abwesend", "erased": False}
    assert (await eventually(lambda: _item(shop, anna_h, order["id"])))["substitute_for"] is None

    # mails: Anna's approval request as always, and Sam's as her substitute
    to_anna = await mail_about(anna["email"], order["id"])
    assert to_anna["subject"] == "Freigabe erbeten: Bestellung über 118,80 € (PO-4711)"
    to_sam = await mail_about(sam["email"], order["id"])
    assert to_sam["subject"] == "Freigabe erbeten (Vertretung für Anna Abwesend): Bestellung über 118,80 € (PO-4711)"
    assert "als Vertretung für Anna Abwesend, abwesend bis" in to_sam["text"]

    r = await shop.do(order["id"], "approve", sam_h, {"comment": "In Vertretung freigegeben"})
    assert r.status_code == 200, r.text
    done = r.json()
    assert (done["status"], done["decided_by"]["id"]) == ("released", sam["id"])
    assert done["decided_on_behalf_of"] == {"id": anna["id"], "name": "Anna Abwesend", "erased": False}
    said = done["conversation"][-1]
    assert (said["text"], said["author"]["id"], said["on_behalf_of"]["id"]) == (
        "In Vertretung freigegeben", sam["id"], anna["id"],
    )  # fmt: skip
    timeline = {t["event"]: t for t in done["timeline"]}
    assert timeline["OfferedToSubstitute"]["detail"]["substitute"]["id"] == sam["id"]
    assert timeline["OfferedToSubstitute"]["on_behalf_of"]["id"] == anna["id"]
    assert (timeline["Approved"]["by"]["id"], timeline["Approved"]["on_behalf_of"]["id"]) == (sam["id"], anna["id"])

    # the buyer sees the same and is told; the ERP gets the order approved by the substitute
    seen = await order_in_status(shop, order["id"], buyer_h, "confirmed")
    assert seen["decided_on_behalf_of"]["id"] == anna["id"]
    told = await mail_about(buyer["email"], order["id"])
    assert told["subject"] == "Ihre Bestellung über 118,80 € wurde freigegeben"
    (sales_order,) = await sales_orders_at_erp(erp_simulator, order["id"])
    assert sales_order["payload"]["approved_by"] == sam["id"]


async def test_orders_waiting_when_the_main_contact_records_the_absence_are_offered_and_mailed(shop: Shop):
    _, buyer_h, anna, anna_h, sam, sam_h = await team(shop)
    waiting = await shop.order(buyer_h, quantity=12)
    await eventually(lambda: _item(shop, anna_h, waiting["id"]), what="the order in Anna's inbox")
    assert waiting["id"] not in await inbox(shop, sam_h)

    absence = await record(shop, shop.main, sam, approver=anna, hours=24)
    assert (absence["approver"]["id"], absence["recorded_by"]["id"]) == (anna["id"], shop.company.main_id)

    item = await eventually(lambda: _item(shop, sam_h, waiting["id"]), what="the waiting order in Sam's inbox")
    assert item["substitute_for"]["id"] == anna["id"]
    to_sam = await mail_about(sam["email"], waiting["id"])
    assert to_sam["subject"].startswith("Freigabe erbeten (Vertretung für Anna Abwesend)")
    r = await shop.do(waiting["id"], "reject", sam_h, {"comment": "Bitte nach Annas Urlaub"})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["decided_on_behalf_of"]["id"]) == ("rejected", anna["id"])


async def test_when_the_absence_ends_the_orders_stop_being_offered_and_the_substitute_decides_nothing(shop: Shop):
    _, buyer_h, _, anna_h, sam, sam_h = await team(shop)
    absence = await record(shop, anna_h, sam, hours=4 / 3600)  # a four-second absence
    order = await shop.order(buyer_h, quantity=12)
    assert order["status"] == "pending_approval"

    async def ended() -> bool:
        return (await shop.gw.get(f"{ABSENCES}/{absence['id']}", headers=anna_h)).json()["state"] == "ended"

    # first the end itself (judged per request from the period), then what follows from it: an inbox read before
    # the order list had the order would show it "gone" while the absence still ran
    await eventually(ended, timeout=30, what="the four-second absence to end")
    await eventually(lambda: _item(shop, anna_h, order["id"]), what="the order in the absent approver's inbox")
    assert order["id"] not in await inbox(shop, sam_h)
    for action, body in (("approve", {"comment": "zu spät"}), ("reject", {"comment": "zu spät"})):
        r = await shop.do(order["id"], action, sam_h, body)
        assert (r.status_code, r.json()["error"]["code"]) == (403, "not_allowed"), r.text  # Sam sees all orders
    # the absent approver decided all along, and still does
    r = await shop.do(order["id"], "approve", anna_h, {"comment": "Wieder da"})
    assert (r.status_code, r.json()["decided_on_behalf_of"]) == (200, None)


async def test_a_withdrawn_absence_ends_at_once_and_stays_on_record_with_who_withdrew_it(shop: Shop):
    _, buyer_h, anna, anna_h, sam, sam_h = await team(shop)
    absence = await record(shop, anna_h, sam, hours=24)
    order = await shop.order(buyer_h, quantity=12)
    await eventually(lambda: _item(shop, sam_h, order["id"]), what="the order in Sam's inbox")

    r = await shop.gw.delete(f"{ABSENCES}/{absence['id']}", headers=sam_h)  # the substitute may not
    assert (r.status_code, r.json()["error"]["code"]) == (403, "not_allowed")
    r = await shop.gw.delete(f"{ABSENCES}/{absence['id']}", headers=shop.main)
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["withdrawn_by"]["id"]) == ("withdrawn", shop.company.main_id)

    assert order["id"] not in await inbox(shop, sam_h)
    refused = await shop.do(order["id"], "approve", sam_h, {})
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "not_allowed")
    assert (await shop.gw.get(ABSENCES, headers=anna_h)).json()["items"] == []
    (kept,) = (await shop.gw.get(ABSENCES, params={"include_past": "true"}, headers=anna_h)).json()["items"]
    assert (kept["id"], kept["recorded_by"]["id"], kept["withdrawn_by"]["id"]) == (
        absence["id"], anna["id"], shop.company.main_id,
    )  # fmt: skip


async def test_a_substitutes_own_order_waits_for_someone_else(shop: Shop):
    anna, anna_h = await named(shop, ["approver"], "Anna", "Abwesend")
    sam, sam_h = await named(shop, ["buyer", "approver"], "Sam", "Stellvertreter", budget=BUDGET)
    await shop.approvers(anna, seen_by=sam_h)
    await record(shop, anna_h, sam, hours=24)
    own = await shop.order(sam_h, quantity=12)
    assert [a["id"] for a in own["approvers"]] == [anna["id"]]
    await eventually(lambda: _item(shop, anna_h, own["id"]), what="Sam's order in Anna's inbox")
    assert own["id"] not in await inbox(shop, sam_h)
    r = await shop.do(own["id"], "approve", sam_h, {})
    assert (r.status_code, r.json()["error"]["code"]) == (403, "self_approval")
    assert (await shop.do(own["id"], "approve", anna_h, {})).json()["decided_by"]["id"] == anna["id"]


async def test_who_may_record_an_absence_and_with_whom(shop: Shop, users_api):
    buyer, buyer_h, anna, anna_h, sam, sam_h = await team(shop)
    # a buyer decides nothing: no absence of their own, none for an approver, never as the substitute
    for body in ({"substitute_id": buyer["id"]}, {"approver_id": anna["id"], "substitute_id": buyer["id"]}):
        r = await shop.gw.post(ABSENCES, json={**body, **period()}, headers=buyer_h)
        assert (r.status_code, r.json()["error"]["code"]) == (403, "not_allowed"), r.text
    # an approver records their own absence, not a colleague's
    r = await shop.gw.post(ABSENCES, json={"approver_id": anna["id"], "substitute_id": sam["id"], **period()},
                           headers=sam_h)  # fmt: skip
    assert (r.status_code, r.json()["error"]["code"]) == (403, "not_allowed")
    # the substitute may approve, and is someone else; the period is sound
    for body, code in (({"substitute_id": buyer["id"]}, "invalid_substitute"),
                       ({"substitute_id": anna["id"]}, "invalid_substitute"),
                       ({"substitute_id": sam["id"], **period(hours=-2)}, "invalid_period"),
                       ({"substitute_id": sam["id"], **period(hours=400 * 24)}, "period_too_long"),
                       ({"substitute_id": sam["id"], **period(hours=1, start=-timedelta(days=1))}, "period_over")):  # fmt: skip
        r = await shop.gw.post(ABSENCES, json={**period(), **body}, headers=anna_h)
        assert (r.status_code, r.json()["error"]["code"]) == (422, code), (body, r.text)
    # another company's people are not found, like people who do not exist
    other = await users_api.company()
    await eventually(lambda: shop.known_to_approval(other.main), what="approval to know the other company")
    r = await shop.gw.post(ABSENCES, json={"substitute_id": other.main_id, **period()}, headers=anna_h)
    assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found")
    assert (await shop.gw.get(ABSENCES, params={"include_past": "true"}, headers=shop.main)).json()["items"] == []


async def _item(shop: Shop, headers: dict, order_id: str) -> dict | None:
    return (await inbox(shop, headers)).get(order_id)
