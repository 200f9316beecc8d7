"""The page a decision link of the approval mail opens (ADR 0031): no sign-in; opening it only previews (the API's
preview, never its decide), the confirming form decides; a refused link is explained, not a 500."""

from __future__ import annotations

import json

from tests.unit.frontend.conftest import csrf_of

ORDER = {"id": "0b6e7f3a-1c1d-4a86-9d4e-0000000000aa", "status": "pending_approval", "reference": "PO-1",
         "buyer": {"id": "b", "name": "Bea Buyer"}, "total": {"amount": "118.80", "currency": "EUR"},
         "lines": [{"sku": "A-100", "description": "Schraube", "quantity": 12,
                    "line_total": {"amount": "118.80", "currency": "EUR"}}]}  # fmt: skip
PREVIEW = {"action": "approve", "expires_at": "2026-12-13T09:00:00Z", "approver": {"id": "a", "name": "Anna Approver"},
           "order": ORDER}  # fmt: skip


async def test_opening_the_link_previews_only_and_the_form_decides(browser, api):
    api.on("POST", "/api/decision-links/preview", json=PREVIEW)
    api.on("POST", "/api/decision-links/decide", json={**ORDER, "status": "released"})
    page = await browser.get("/kundencenter/decision", params={"token": "tok.en.x"})
    assert page.status_code == 200
    assert "Anna Approver, möchten Sie diese Bestellung über 118,80" in page.text and 'id="confirm"' in page.text
    assert [json.loads(r.content) for r in api.sent("POST", "/api/decision-links/preview")] == [{"token": "tok.en.x"}]
    assert api.sent("POST", "/api/decision-links/decide") == []

    done = await browser.post(
        "/kundencenter/decision", data={"csrf": csrf_of(page), "token": "tok.en.x", "comment": "passt"}
    )
    assert done.status_code == 200 and 'data-status="released"' in done.text
    (sent,) = api.sent("POST", "/api/decision-links/decide")
    assert json.loads(sent.content) == {"token": "tok.en.x", "comment": "passt"}
    assert "Authorization" not in sent.headers  # the link is the credential, never a session's token


async def test_a_used_link_is_explained_with_the_orders_status(browser, api):
    api.on("POST", "/api/decision-links/preview", 409, {"error": {
        "code": "decision_link_outdated", "message": "changed", "details": [{"status": "released"}]}})  # fmt: skip
    page = await browser.get("/kundencenter/decision", params={"token": "tok.en.x"})
    assert page.status_code == 409
    assert "schon entschieden" in page.text and 'data-status="released"' in page.text


async def test_a_link_without_a_token_is_refused_without_asking_the_api(browser, api):
    page = await browser.get("/kundencenter/decision")
    assert page.status_code == 400 and "unvollständig" in page.text
    assert api.sent("POST", "/api/decision-links/preview") == []


async def test_the_form_without_the_sessions_csrf_token_decides_nothing(browser, api):
    api.on("POST", "/api/decision-links/decide", json={**ORDER, "status": "released"})
    refused = await browser.post("/kundencenter/decision", data={"csrf": "guessed", "token": "tok.en.x"})
    assert refused.status_code == 403
    assert api.sent("POST", "/api/decision-links/decide") == []
