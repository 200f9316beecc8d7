"""Deadlines of waiting orders through the gateway (issue 17 item 2, ADR 0033), on the running stack (its shortest
deadline is one second, its timer asks every second): an order over budget waits for the approver; the main contact
sets a reminder after 1 s, then an escalation after 2 s, then an expiry after 3 s; the order is reminded, escalated to
the main contact (who is added to its approvers) and, left undecided, expires — each step once, on the timeline and
by mail (read from the SMTP sink) — and its buyer sends it again. An approver cannot lengthen the deadlines with their own token."""

from __future__ import annotations

import pytest

from tests.conftest import eventually
from tests.journeys.test_approval import mails_to
from tests.journeys.test_approval_absences import named
from tests.journeys.test_erp_support import erp_customer, order_in_status, registered_shop
from tests.support.orders import order_body
from tests.support.shop import BUDGET, Shop

pytestmark = pytest.mark.journey

DEADLINES = "/api/approvals/deadlines"


async def mail_with(address: str, order_id: str, subject: str) -> dict:
    async def found() -> dict | None:
        mails = await mails_to(address)
        return next((m for m in mails if order_id in m["text"] and m["subject"].startswith(subject)), None)

    return await eventually(found, timeout=30, what=f"the mail '{subject}…' about order {order_id} to {address}")


async def deadlines(shop: Shop, **durations: str) -> None:
    r = await shop.gw.put(DEADLINES, json=durations, headers=shop.main)
    assert r.status_code == 200, r.text


async def subjects(address: str, order_id: str) -> list[str]:
    return [m["subject"] for m in await mails_to(address) if order_id in m["text"]]


async def steps(shop: Shop, order_id: str, headers: dict, *wanted: str) -> dict:
    async def taken() -> dict | None:
        r = await shop.get(order_id, headers)
        assert r.status_code == 200, r.text
        events = [t["event"] for t in r.json()["timeline"]]
        return r.json() if all(w in events for w in wanted) else None

    return await eventually(taken, timeout=30, what=f"{', '.join(wanted)} on order {order_id}")


async def test_an_undecided_order_is_reminded_escalated_and_expires_then_is_sent_again(users_api, erp_simulator):
    shop = await registered_shop(users_api, (await erp_customer(erp_simulator))["customer_number"])
    buyer, buyer_h = await shop.person(["buyer"], budget=BUDGET)
    anna, anna_h = await named(shop, ["approver"], "Anna", "Frist")
    await shop.approvers(anna, seen_by=buyer_h)
    longer = await shop.gw.put(DEADLINES, json={"expire_after": "P30D"}, headers=anna_h)
    assert (longer.status_code, longer.json()["error"]["code"]) == (403, "not_allowed")

    held = await shop.order(buyer_h, quantity=50)
    assert (held["status"], [a["id"] for a in held["approvers"]]) == ("pending_approval", [anna["id"]])

    # The main contact adds one step at a time, so each is due only after the one before was taken: on a slow
    # machine, too, no step is passed over for a further one (when several are due at once, only the furthest is).
    await deadlines(shop, remind_after="PT1S")
    reminded = await steps(shop, held["id"], buyer_h, "Reminded")
    assert next(t for t in reminded["timeline"] if t["event"] == "Reminded")["detail"]["approvers"] == [anna["id"]]
    await deadlines(shop, remind_after="PT1S", escalate_after="PT2S")
    escalated = await steps(shop, held["id"], buyer_h, "EscalatedOnDeadline")
    assert escalated["status"] == "pending_approval"
    assert {a["id"] for a in escalated["approvers"]} == {anna["id"], shop.company.main_id}
    await deadlines(shop, remind_after="PT1S", escalate_after="PT2S", expire_after="PT3S")
    expired = await order_in_status(shop, held["id"], buyer_h, "expired", timeout=30)
    names = [t["event"] for t in expired["timeline"]]
    assert [n for n in names if n in ("Reminded", "EscalatedOnDeadline", "Expired")] == [
        "Reminded", "EscalatedOnDeadline", "Expired",
    ]  # fmt: skip
    # the mails (read from the SMTP sink): the reminder to Anna, the request to the main contact the escalation adds,
    # the expiry to the buyer — each once
    reminder = await mail_with(anna["email"], held["id"], "Erinnerung: Freigabe erbeten: Bestellung über 495,00")
    assert "wartet seit" in reminder["text"]
    await mail_with(shop.company.main_email, held["id"], "Freigabe erbeten: Bestellung über 495,00")
    await mail_with(buyer["email"], held["id"], "Ihre Bestellung über 495,00 € ist abgelaufen")
    to_anna = await subjects(anna["email"], held["id"])  # the request when it was held, and the reminder
    assert sorted(x.startswith("Erinnerung: ") for x in to_anna) == [False, True], to_anna
    assert len(await subjects(shop.company.main_email, held["id"])) == 1
    assert await subjects(buyer["email"], held["id"]) == ["Ihre Bestellung über 495,00 € ist abgelaufen"]

    late = await shop.do(held["id"], "approve", anna_h)
    assert (late.status_code, late.json()["error"]["code"]) == (409, "wrong_state")

    async def listed() -> bool:
        r = await shop.gw.get("/api/orders", params={"status": "expired"}, headers=buyer_h)
        assert r.status_code == 200, r.text
        return held["id"] in [o["id"] for o in r.json()["items"]]

    await eventually(listed, what="the expired order in the buyer's list of expired orders")
    again = await shop.do(
        held["id"], "resubmit", buyer_h, {"comment": "Bitte noch einmal", "order": order_body(quantity=50)}
    )
    assert (again.status_code, again.json()["status"], again.json()["round"]) == (200, "pending_approval", 2), (
        again.text
    )
