"""Notification preferences through the gateway (ADR 0027): a buyer's approval mail held for the daily digest, sent
once in it; a kind switched off is recorded as suppressed and never sent; mails that need action cannot be switched
off; nobody reads or changes another user's preferences. Mails are read from the SMTP sink; the digest is sent now
with notifications' operator trigger (its /ops/ API, never routed by the gateway)."""

from __future__ import annotations

import os

import httpx
import pytest

from tests.conftest import eventually
from tests.support.ops import ops_headers
from tests.support.orders import order_body
from tests.support.shop import BUDGET, Shop

pytestmark = pytest.mark.journey

SMTP_SINK = os.environ.get("KC_TEST_SMTP_SINK", "http://127.0.0.1:8113")
NOTIFICATIONS = os.environ.get("KC_TEST_NOTIFICATIONS", "http://127.0.0.1:8105")
PATH = "/api/me/notification-preferences"


async def mails_to(address: str) -> list[dict]:
    async with httpx.AsyncClient(base_url=SMTP_SINK, timeout=10) as sink:
        r = await sink.get("/messages", params={"to": address})
        r.raise_for_status()
        return r.json()


async def ops(method: str, path: str, **kwargs) -> httpx.Response:
    async with httpx.AsyncClient(base_url=NOTIFICATIONS, timeout=30, headers=ops_headers("notifications")) as client:
        return await client.request(method, path, **kwargs)


async def send_digests(user_id: str) -> httpx.Response:
    """The operator's trigger. Only the process that holds the digest sender's lock sends (others answer 409
    ``not_the_leader``, e.g. for a moment after notifications started): asked again until the leader answers."""

    async def answered() -> httpx.Response | None:
        r = await ops("POST", "/ops/digests/send", json={"user_id": user_id, "include_not_due": True})
        return None if r.status_code == 409 and r.json()["error"]["code"] == "not_the_leader" else r

    return await eventually(answered, what="the digest sender's leader to answer")


async def decided_fate(user_id: str, kind: str) -> str | None:
    """The mail's status once the dispatcher handled it (None while it is still ``queued`` or not there)."""
    status = await mail_status(user_id, kind)
    return None if status == "queued" else status


async def mail_status(user_id: str, kind: str) -> str | None:
    """What became of the user's latest mail of ``kind`` (notifications' mail log)."""
    r = await ops("GET", "/ops/mails", params={"user_id": user_id})
    assert r.status_code == 200, r.text
    found = [m for m in r.json()["items"] if m["kind"] == kind]
    return found[0]["status"] if found else None


async def choose(shop: Shop, headers: dict, **choices: str) -> httpx.Response:
    return await shop.gw.put(PATH, json={"preferences": choices}, headers=headers)


async def approved_order(shop: Shop, buyer_h: dict, approver_h: dict) -> dict:
    order = await shop.order(buyer_h, quantity=12)
    r = await shop.do(order["id"], "approve", approver_h, {"comment": "Passt so"})
    assert r.status_code == 200, r.text
    return order


async def test_a_buyer_who_chose_the_digest_gets_the_approval_once_in_it_and_not_before(shop: Shop):
    buyer, buyer_h = await shop.person(["buyer"], language="en", budget=BUDGET)
    approver, approver_h = await shop.person(["approver"])
    await shop.approvers(approver, seen_by=buyer_h)
    r = await choose(shop, buyer_h, order_approved="digest")
    assert r.status_code == 200, r.text
    chosen = {p["kind"]: p["delivery"] for p in r.json()["preferences"]}
    assert chosen["order_approved"] == "digest" and chosen["order_rejected"] == "immediately"
    assert r.json()["changed_by"] == buyer["id"]

    order = await approved_order(shop, buyer_h, approver_h)
    status = await eventually(lambda: decided_fate(buyer["id"], "order_approved"), what="the approval mail's fate")
    assert status == "deferred"
    assert await mails_to(buyer["email"]) == []  # not sent on its own

    async def pending() -> list[dict]:
        r = await ops("GET", "/ops/digests", params={"user_id": buyer["id"], "pending": "true"})
        return [d for d in r.json()["items"] if d["mails"] >= 1]

    await eventually(pending, what="the buyer's digest to hold the mail")
    sent = await send_digests(buyer["id"])
    assert sent.status_code == 200, sent.text
    assert [(d["user_id"], d["mails"]) for d in sent.json()["sent"]] == [(buyer["id"], 1)]

    (digest,) = await eventually(lambda: mails_to(buyer["email"]), what="the digest at the SMTP sink")
    assert digest["subject"].startswith("Your digest of ")
    assert "Your order of €118.80 was approved" in digest["text"]  # the whole mail, in the buyer's language
    assert f"/orders/{order['id']}" in digest["text"] and "Passt so" in digest["text"]

    again = await send_digests(buyer["id"])
    assert again.status_code == 200 and again.json()["sent"] == []
    assert len(await mails_to(buyer["email"])) == 1
    assert await mail_status(buyer["id"], "order_approved") == "deferred"


async def test_an_informational_mail_switched_off_is_recorded_as_suppressed_and_never_sent(shop: Shop):
    buyer, buyer_h = await shop.person(["buyer"], budget=BUDGET)
    r = await choose(shop, buyer_h, order_rejected="none")
    assert r.status_code == 200, r.text
    order = await shop.order(buyer_h, quantity=12)
    rejected = await shop.do(order["id"], "reject", shop.main, {"comment": "Bitte höchstens 10"})
    assert rejected.status_code == 200, rejected.text

    status = await eventually(lambda: decided_fate(buyer["id"], "order_rejected"), what="the rejection mail's fate")
    assert status == "suppressed"
    assert await mails_to(buyer["email"]) == []

    # switched on again, the next one arrives at once
    assert (await choose(shop, buyer_h, order_rejected="immediately")).status_code == 200
    again = await shop.do(order["id"], "resubmit", buyer_h, {"comment": "Jetzt 11", "order": order_body(quantity=11)})
    assert again.status_code == 200, again.text
    await shop.do(order["id"], "reject", shop.main, {"comment": "Immer noch zu viel"})
    (mail,) = await eventually(lambda: mails_to(buyer["email"]), what="the second rejection mail")
    assert "Immer noch zu viel" in mail["text"]


async def test_a_mail_that_needs_action_cannot_be_switched_off_but_may_go_to_the_digest(shop: Shop):
    _, approver_h = await shop.person(["approver"])
    refused = await choose(shop, approver_h, approval_requested="none")
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "action_mail_cannot_be_off"
    unknown = await choose(shop, approver_h, newsletter="none")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (422, "unknown_kind")
    bad = await choose(shop, approver_h, order_approved="weekly")
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "invalid_request")

    ok = await choose(shop, approver_h, approval_requested="digest")
    assert ok.status_code == 200
    mine = (await shop.gw.get(PATH, headers=approver_h)).json()
    requested = next(p for p in mine["preferences"] if p["kind"] == "approval_requested")
    assert (requested["delivery"], requested["action_needed"], requested["allowed"]) == (
        "digest", True, ["immediately", "digest"],
    )  # fmt: skip


async def test_nobody_reads_or_changes_another_users_preferences(shop: Shop):
    victim, victim_h = await shop.person(["buyer"], budget=BUDGET)
    _, other_h = await shop.person(["buyer"], budget=BUDGET)
    assert (await choose(shop, victim_h, order_approved="digest")).status_code == 200

    # a forged owner in the body is refused, not obeyed
    forged = await shop.gw.put(
        PATH, json={"user_id": victim["id"], "preferences": {"order_approved": "none"}}, headers=other_h
    )
    assert (forged.status_code, forged.json()["error"]["code"]) == (422, "invalid_request")
    # a user id in the path is no route to someone else's preferences
    by_path = await shop.gw.get(f"{PATH}/{victim['id']}", headers=other_h)
    assert by_path.status_code == 404
    # the main contact, too, sees only their own
    main_view = (await shop.gw.get(PATH, headers=shop.main)).json()
    assert main_view["user_id"] != victim["id"]

    others = (await shop.gw.get(PATH, headers=other_h)).json()
    assert {p["delivery"] for p in others["preferences"]} == {"immediately"}
    mine = (await shop.gw.get(PATH, headers=victim_h)).json()
    assert next(p for p in mine["preferences"] if p["kind"] == "order_approved")["delivery"] == "digest"
    assert (await shop.gw.get(PATH)).status_code == 401
