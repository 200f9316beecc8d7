"""Substitution on the pages (ADR 0020): the inbox says for whom the caller would decide an order as substitute, the
order page says on whose behalf a decision was taken and offers the decision to the substitute of an absent
approver — as a hint only: the API judges the decision."""

from __future__ import annotations

import json
from typing import Any

from tests.unit.frontend.conftest import ME, csrf_of, sign_in

MARTHA = ME["user"]["id"]
ORDER = "6f1c0c52-7f0c-4f43-9a55-4f7f4d4b0a31"
BUYER = {"id": "0b6e7f3a-1c1d-4a86-9d4e-0000000000b0", "name": "Bea Buyer"}
ABSENT = {"id": "0b6e7f3a-1c1d-4a86-9d4e-0000000000a0", "name": "Anna <Absent> & Co"}
SUBSTITUTE = {"id": "0b6e7f3a-1c1d-4a86-9d4e-0000000000a1", "name": "Sam Substitute"}


def summary(substitute_for: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "id": ORDER, "status": "pending_approval", "buyer_id": BUYER["id"], "buyer": BUYER,
        "total": {"amount": "1234.50", "currency": "EUR"}, "total_quantity": 12, "line_count": 1,
        "reference": "KST-9", "approvers": [ABSENT["id"]], "approvers_with_names": [ABSENT], "round": 1,
        "submitted_at": "2026-12-06T10:00:00Z", "updated_at": "2026-12-06T10:00:00Z", "substitute_for": substitute_for,
    }  # fmt: skip


def order(**fields: Any) -> dict[str, Any]:
    return {
        "id": ORDER, "version": 4, "status": "pending_approval", "buyer": BUYER, "approvers": [ABSENT],
        "lines": [], "total": {"amount": "0", "currency": "EUR"}, "total_quantity": 0, "delivery_address": {},
        "billing_address": {}, "payment_method": "invoice", "shipping_method": "standard", "reference": "KST-9",
        "exceeded_limits": [], "decided_by": None, "decided_on_behalf_of": None, "conversation": [], "timeline": [],
        "submitted_at": "2026-12-05T08:00:00Z",
    } | fields  # fmt: skip


def absence(state: str, substitute: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": "6f1c0c52-7f0c-4f43-9a55-4f7f4d4b0a40", "approver": ABSENT,
        "substitute": substitute or {"id": MARTHA, "name": "Martha Main"}, "from": "2026-12-01T08:00:00Z",
        "until": "2026-12-20T17:00:00Z", "state": state, "recorded_by": ABSENT, "recorded_at": "2026-11-30T08:00:00Z",
        "withdrawn_by": None, "withdrawn_at": None,
    }  # fmt: skip


async def test_an_order_offered_as_substitute_says_for_whom_in_the_inbox(browser, api):
    api.on("GET", "/api/approvals", json={"items": [summary(ABSENT)], "total": 1, "limit": 25, "offset": 0})
    await sign_in(browser)
    page = await browser.get("/kundencenter/approvals")
    assert page.status_code == 200
    # the name is escaped once, not twice
    assert '<span class="hint substitute-for">Vertretung für Anna &lt;Absent&gt; &amp; Co</span>' in page.text


async def test_an_order_of_ones_own_right_says_nothing_of_substitution(browser, api):
    api.on("GET", "/api/approvals", json={"items": [summary(None)], "total": 1, "limit": 25, "offset": 0})
    await sign_in(browser)
    page = await browser.get("/kundencenter/approvals")
    assert "KST-9" in page.text and "Vertretung" not in page.text


async def test_the_inbox_speaks_english_of_substitution_to_an_english_user(browser, api):
    api.on("GET", "/api/approvals", json={"items": [summary(SUBSTITUTE)], "total": 1, "limit": 25, "offset": 0})
    await sign_in(browser)
    await browser.post("/kundencenter/language", data={"csrf": csrf_of(await browser.get("/kundencenter/")),
                                                       "language": "en", "next": "/kundencenter/approvals"})  # fmt: skip
    page = await browser.get("/kundencenter/approvals")
    assert "substituting for Sam Substitute" in page.text


async def test_a_decision_on_someones_behalf_is_shown_in_the_facts_conversation_and_timeline(browser, api):
    decided = order(
        status="released", decided_by=SUBSTITUTE, decided_on_behalf_of=ABSENT,
        conversation=[{"author": SUBSTITUTE, "kind": "approval", "text": "passt", "at": "2026-12-06T11:00:00Z",
                       "on_behalf_of": ABSENT}],
        timeline=[
            {"at": "2026-12-06T10:00:00Z", "event": "OfferedToSubstitute", "by": None, "on_behalf_of": ABSENT,
             "comment": None, "detail": {"substitute": SUBSTITUTE, "until": "2026-12-20T17:00:00+00:00"}},
            {"at": "2026-12-06T11:00:00Z", "event": "Approved", "by": SUBSTITUTE, "on_behalf_of": ABSENT,
             "comment": "passt", "detail": {}},
        ],
    )  # fmt: skip
    api.on("GET", f"/api/orders/{ORDER}", json=decided)
    await sign_in(browser)
    page = await browser.get(f"/kundencenter/orders/{ORDER}")
    assert page.status_code == 200
    text = page.text
    assert '<dd id="decided-by">Sam Substitute (in Vertretung für Anna &lt;Absent&gt; &amp; Co)</dd>' in text
    conversation = text.split('id="conversation"')[1].split("</ol>")[0]
    assert "Sam Substitute (in Vertretung für Anna &lt;Absent&gt; &amp; Co)" in conversation
    timeline = text.split('id="timeline"')[1].split("</ol>")[0]
    offered, approved = timeline.split('data-event="Approved"')
    assert "der Vertretung angeboten" in offered
    assert "Sam Substitute vertritt Anna &lt;Absent&gt; &amp; Co bis 20.12.2026, 18:00:00" in offered
    assert "freigegeben · Sam Substitute" in approved and "(in Vertretung für Anna &lt;Absent&gt; &amp; Co)" in approved


async def test_the_substitute_of_an_absent_approver_is_offered_the_decision_on_the_order_page(browser, api):
    api.on("GET", f"/api/orders/{ORDER}", json=order())
    api.on("GET", "/api/absences", json={"items": [absence("in_force")]})
    api.on("POST", f"/api/orders/{ORDER}/approve", json=order(status="released"))
    await sign_in(browser)
    page = await browser.get(f"/kundencenter/orders/{ORDER}")
    assert 'id="decide"' in page.text
    assert "Sie entscheiden in Vertretung für Anna &lt;Absent&gt; &amp; Co (abwesend)." in page.text
    answer = await browser.post(f"/kundencenter/orders/{ORDER}/approve", data={"csrf": csrf_of(page), "comment": ""})
    assert answer.status_code == 303
    (sent,) = api.sent("POST", f"/api/orders/{ORDER}/approve")
    assert json.loads(sent.content) == {} and sent.headers["If-Match"] == '"4"'


async def test_an_absence_not_in_force_or_naming_someone_else_offers_no_decision(browser, api):
    api.on("GET", f"/api/orders/{ORDER}", json=order())
    api.on("GET", "/api/absences", json={"items": [absence("upcoming"), absence("in_force", SUBSTITUTE)]})
    await sign_in(browser)
    page = await browser.get(f"/kundencenter/orders/{ORDER}")
    assert page.status_code == 200
    assert 'id="decide"' not in page.text and "in Vertretung" not in page.text


async def test_the_api_refusing_a_substitutes_decision_is_shown_in_words(browser, api):
    api.on("GET", f"/api/orders/{ORDER}", json=order())
    api.on("GET", "/api/absences", json={"items": [absence("in_force")]})
    api.on("POST", f"/api/orders/{ORDER}/approve", 403, {"error": {"code": "not_allowed", "message": "No."}})
    await sign_in(browser)
    page = await browser.get(f"/kundencenter/orders/{ORDER}")
    answer = await browser.post(f"/kundencenter/orders/{ORDER}/approve", data={"csrf": csrf_of(page), "comment": ""})
    assert answer.status_code == 403
    assert "Ihnen fehlt die Berechtigung" in answer.text
