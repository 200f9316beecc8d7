"""Order approval through the gateway: budgets, routing, decisions, conversation, mails — the whole stack."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.conftest import eventually
from tests.support.orders import order_body
from tests.support.shop import BUDGET, Shop
from tests.support.users import UsersApi

pytestmark = pytest.mark.journey


SMTP_SINK = "http://127.0.0.1:8113"


async def inbox(shop: Shop, headers: dict) -> list[str]:
    r = await shop.gw.get("/api/approvals", headers=headers)
    assert r.status_code == 200, r.text
    return [o["id"] for o in r.json()["items"]]


async def mails_to(address: str) -> list[dict]:
    async with httpx.AsyncClient(base_url=SMTP_SINK, timeout=10) as sink:
        r = await sink.get("/messages", params={"to": address})
        r.raise_for_status()
        return r.json()


async def test_an_order_within_budget_is_released_at_once(shop: Shop):
    _, buyer = await shop.person(["buyer"], budget=BUDGET)
    order = await shop.order(buyer, quantity=5)
    assert order["status"] == "released"
    assert order["exceeded_limits"] == []


async def test_over_the_quantity_limit_the_buyer_is_told_which_limit(shop: Shop):
    _, buyer = await shop.person(["buyer"], budget=BUDGET)
    order = await shop.order(buyer, quantity=12)
    assert order["status"] == "pending_approval"
    (limit,) = order["exceeded_limits"]
    assert (limit["limit"], limit["allowed"], limit["actual"]) == ("max_quantity", "10", "12")


async def test_over_the_value_limit_the_buyer_is_told_which_limit(shop: Shop):
    _, buyer = await shop.person(["buyer"], budget=BUDGET)
    await shop.price("PUMP-9000", "300.00")
    order = await shop.order(buyer, quantity=2, sku="PUMP-9000")
    (limit,) = order["exceeded_limits"]
    assert (limit["limit"], limit["allowed"], limit["actual"], limit["currency"]) == (
        "max_value", "500.00", "600.00", "EUR",
    )  # fmt: skip


async def test_the_checkout_can_evaluate_an_order_without_placing_it(shop: Shop):
    _, buyer = await shop.person(["buyer"], budget=BUDGET)
    r = await shop.gw.post("/api/orders/evaluate", json=order_body(quantity=12), headers=buyer)
    assert r.status_code == 200
    assert r.json()["within_budget"] is False
    assert (await shop.gw.get("/api/orders", headers=buyer)).json()["total"] == 0


async def test_an_approver_modifies_then_approves_and_the_erp_gets_the_modified_order(shop: Shop, erp_simulator):
    _, buyer = await shop.person(["buyer"], budget=BUDGET)
    approver, approver_h = await shop.person(["approver"])
    await shop.approvers(approver, seen_by=buyer)
    order = await shop.order(buyer, quantity=12)
    assert order["approvers"] == [{"id": approver["id"], "name": "Bea Buyer", "erased": False}]
    await eventually(lambda: _in(inbox(shop, approver_h), order["id"]), what="the order in the approver's inbox")

    modified = order_body(quantity=9)
    r = await shop.do(order["id"], "approve", approver_h, {"comment": "Nur 9 Stück", "modified_order": modified})
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "released"
    assert done["modifications"] == [{"field": "line:A-100:quantity", "before": "12", "after": "9"}]
    assert done["decided_by"]["id"] == approver["id"]

    async def at_erp():
        r = await erp_simulator.get(f"/sales-orders/{order['id']}")
        return r.json() if r.status_code == 200 else None

    sales_order = await eventually(at_erp, what="the approved order at the ERP")
    payload = sales_order.get("payload", sales_order)
    assert payload["lines"][0]["quantity"] == 9
    assert payload["approved_by"] == approver["id"]


async def test_rejected_then_resubmitted_with_a_lower_quantity_is_released(shop: Shop):
    _, buyer = await shop.person(["buyer"], budget=BUDGET)
    order = await shop.order(buyer, quantity=12)
    rejected = await shop.do(order["id"], "reject", shop.main, {"comment": "Bitte höchstens 10"})
    assert rejected.json()["status"] == "rejected"
    again = await shop.do(order["id"], "resubmit", buyer, {"comment": "Jetzt 8", "order": order_body(quantity=8)})
    assert again.status_code == 200, again.text
    body = again.json()
    assert (body["status"], body["round"]) == ("released", 2)
    assert [m["kind"] for m in body["conversation"]] == ["submission", "rejection", "resubmission"]


async def test_a_rejection_needs_a_comment(shop: Shop):
    _, buyer = await shop.person(["buyer"], budget=BUDGET)
    order = await shop.order(buyer, quantity=12)
    r = await shop.do(order["id"], "reject", shop.main, {"comment": ""})
    assert r.status_code == 422


async def test_the_buyer_can_cancel_a_pending_order(shop: Shop):
    _, buyer = await shop.person(["buyer"], budget=BUDGET)
    order = await shop.order(buyer, quantity=12)
    r = await shop.do(order["id"], "cancel", buyer, {"comment": "Doch nicht"})
    assert r.json()["status"] == "cancelled"
    late = await shop.do(order["id"], "approve", shop.main)
    assert late.status_code == 409
    assert late.json()["error"]["code"] == "wrong_state"


async def test_two_approvers_racing_one_decides_the_other_gets_409(shop: Shop):
    _, buyer = await shop.person(["buyer"], budget=BUDGET)
    a, a_h = await shop.person(["approver"])
    b, b_h = await shop.person(["approver"])
    await shop.approvers(a, b, seen_by=buyer)
    order = await shop.order(buyer, quantity=12)
    assert {x["id"] for x in order["approvers"]} == {a["id"], b["id"]}
    first, second = await asyncio.gather(
        shop.do(order["id"], "approve", a_h, {"comment": "ok"}),
        shop.do(order["id"], "reject", b_h, {"comment": "nein"}),
    )
    statuses = sorted([first.status_code, second.status_code])
    assert statuses == [200, 409], (first.text, second.text)
    final = (await shop.get(order["id"], buyer)).json()
    # approved: released, and by now maybe already at the ERP
    assert final["status"] in ("released", "transmitted", "confirmed", "erp_rejected", "rejected")
    assert len([t for t in final["timeline"] if t["event"] in ("Approved", "Rejected")]) == 1


async def test_with_no_approvers_the_main_contact_decides(shop: Shop):
    _, buyer = await shop.person(["buyer"], budget=BUDGET)
    order = await shop.order(buyer, quantity=12)
    assert [x["id"] for x in order["approvers"]] == [shop.company.main_id]
    assert (await shop.do(order["id"], "approve", shop.main)).json()["status"] == "released"


async def test_nobody_approves_their_own_order(shop: Shop):
    buyer, buyer_h = await shop.person(["buyer", "approver"], budget=BUDGET)
    await shop.approvers(buyer, seen_by=buyer_h, expected={shop.company.main_id})
    order = await shop.order(buyer_h, quantity=12)
    assert [x["id"] for x in order["approvers"]] == [shop.company.main_id]
    r = await shop.do(order["id"], "approve", buyer_h)
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "self_approval"


async def test_another_companys_order_is_indistinguishable_from_a_missing_one(shop: Shop, users_api: UsersApi):
    _, buyer = await shop.person(["buyer"], budget=BUDGET)
    order = await shop.order(buyer, quantity=1)
    other = await users_api.company()
    await eventually(lambda: shop.known_to_approval(other.main), what="approval to know the other company")
    theirs = await shop.get(order["id"], other.main)
    missing = await shop.get("00000000-0000-4000-8000-000000000000", other.main)
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json() == missing.json()
    assert (await shop.do(order["id"], "approve", other.main)).status_code == 404


async def test_buyer_and_approver_see_the_same_conversation(shop: Shop):
    _, buyer = await shop.person(["buyer"], budget=BUDGET)
    order = await shop.order(buyer, quantity=12)
    await shop.do(order["id"], "comments", buyer, {"text": "Dringend, bitte"})
    await shop.do(order["id"], "comments", shop.main, {"text": "Schaue ich mir an"})
    mine = (await shop.get(order["id"], buyer)).json()["conversation"]
    theirs = (await shop.get(order["id"], shop.main)).json()["conversation"]
    assert mine == theirs
    assert [m["text"] for m in mine][-2:] == ["Dringend, bitte", "Schaue ich mir an"]


async def test_a_service_technician_cannot_order(shop: Shop):
    _, tech = await shop.person(["service_technician"])
    r = await shop.gw.post("/api/orders", json=order_body(), headers=tech)
    assert r.status_code == 403


async def test_a_budget_change_reaches_the_approval_services_evaluation(shop: Shop):
    buyer, buyer_h = await shop.person(["buyer"], budget=BUDGET)
    body = order_body(quantity=12)
    first = await shop.gw.post("/api/orders/evaluate", json=body, headers=buyer_h)
    assert first.json()["within_budget"] is False
    r = await shop.gw.put(
        f"/api/users/{buyer['id']}/budget", json={"max_total_quantity": 50, "max_order_value": None}, headers=shop.main
    )
    assert r.status_code == 200, r.text

    async def within() -> bool:
        r = await shop.gw.post("/api/orders/evaluate", json=body, headers=buyer_h)
        return r.json()["within_budget"] is True

    await eventually(within, what="approval to evaluate with the new budget")


async def test_a_deactivated_user_is_refused_by_approval(shop: Shop):
    buyer, buyer_h = await shop.person(["buyer"], budget=BUDGET)
    r = await shop.gw.post(f"/api/users/{buyer['id']}/deactivate", headers=shop.main)
    assert r.status_code == 200, r.text

    async def refused() -> bool:
        r = await shop.gw.post("/api/orders", json=order_body(), headers=buyer_h)
        return r.status_code == 403 and r.json()["error"]["code"] == "user_inactive"

    await eventually(refused, what="approval to refuse the deactivated user")


async def test_the_right_mails_arrive_once_in_the_right_language(shop: Shop):
    buyer, buyer_h = await shop.person(["buyer"], language="en", budget=BUDGET)
    approver, approver_h = await shop.person(["approver"], language="de")
    await shop.approvers(approver, seen_by=buyer_h)
    held = await shop.order(buyer_h, quantity=12)
    assert held["total"] == {"amount": "118.80", "currency": "EUR"}  # 12 × A-100 at 9.90
    request = await eventually(lambda: mails_to(approver["email"]), what="the approval request mail")
    assert request[0]["subject"] == "Freigabe erbeten: Bestellung über 118,80 € (PO-4711)"
    assert held["id"] in request[0]["text"]
    assert "Bestellung über 118,80\xa0€" in request[0]["text"]  # the approver reads German money

    await shop.do(held["id"], "reject", approver_h, {"comment": "Too many"})
    rejected = await eventually(lambda: mails_to(buyer["email"]), what="the rejection mail")
    assert rejected[0]["subject"] == "Your order of €118.80 was rejected"  # the buyer reads English money
    assert "Too many" in rejected[0]["text"]

    await shop.do(held["id"], "resubmit", buyer_h, {"comment": "11 then", "order": order_body(quantity=11)})
    await shop.do(held["id"], "approve", approver_h, {"comment": "Passt"})

    async def two_for_buyer_two_for_approver():
        b, a = await mails_to(buyer["email"]), await mails_to(approver["email"])
        return (b, a) if len(b) >= 2 and len(a) >= 2 else None

    b, a = await eventually(two_for_buyer_two_for_approver, what="the approval mail")
    assert sorted(m["subject"].split(" ")[0] for m in a) == ["Freigabe", "Freigabe"]
    assert any("was approved" in m["subject"] for m in b)
    # Exactly once: the message ids are distinct, and nothing more arrives for these events.
    assert len({m["headers"]["Message-ID"] for m in a + b}) == len(a + b) == 4


async def _in(probe, item) -> bool:
    return item in await probe
