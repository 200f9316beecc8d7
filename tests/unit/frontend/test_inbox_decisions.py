"""The approver's inbox decides several orders at once (POST /api/orders/decisions): what the page sends, what it
refuses before sending anything, and the result it shows per order."""

from __future__ import annotations

import json
from typing import Any

from tests.unit.frontend.conftest import csrf_of, sign_in

A = "0b6e7f3a-1c1d-4a86-9d4e-00000000000a"
B = "0b6e7f3a-1c1d-4a86-9d4e-00000000000b"
BUYER = {"id": "0b6e7f3a-1c1d-4a86-9d4e-0000000000b0", "name": "Bea Buyer"}
OTHER = {"id": "0b6e7f3a-1c1d-4a86-9d4e-0000000000c0", "name": "Otto Other"}


def summary(order_id: str, reference: str) -> dict[str, Any]:
    return {
        "id": order_id, "status": "pending_approval", "buyer_id": BUYER["id"], "buyer": BUYER,
        "total": {"amount": "1234.50", "currency": "EUR"}, "total_quantity": 12, "line_count": 1,
        "reference": reference, "approvers": [], "approvers_with_names": [], "round": 1,
        "submitted_at": "2026-12-06T10:00:00Z", "updated_at": "2026-12-06T10:00:00Z",
    }  # fmt: skip


def inbox(api: Any) -> None:
    api.on("GET", "/api/approvals", json={"items": [summary(A, "KST-1"), summary(B, "KST-2")], "total": 2,
                                          "limit": 50, "offset": 0})  # fmt: skip


async def open_inbox(browser: Any, api: Any) -> str:
    inbox(api)
    await sign_in(browser)
    page = await browser.get("/kundencenter/approvals")
    assert page.status_code == 200
    return csrf_of(page)


def sent_decisions(api: Any) -> list[dict[str, Any]]:
    return [json.loads(r.content) for r in api.sent("POST", "/api/orders/decisions")]


async def test_the_inbox_offers_each_waiting_order_for_a_decision_together(browser, api):
    inbox(api)
    await sign_in(browser)
    page = await browser.get("/kundencenter/approvals")
    for order_id in (A, B):
        assert f'name="order_id" value="{order_id}" form="decide-selected"' in page.text
    assert 'action="/kundencenter/approvals/decide"' in page.text
    assert 'name="decision" value="approve"' in page.text and 'name="decision" value="reject"' in page.text


async def test_an_empty_inbox_has_nothing_to_select(browser, api):
    await sign_in(browser)
    page = await browser.get("/kundencenter/approvals")
    assert "Keine Bestellung wartet auf Ihre Freigabe." in page.text
    assert "decide-selected" not in page.text


async def test_approving_the_selected_sends_them_once_each_and_shows_a_result_per_order(browser, api):
    csrf = await open_inbox(browser, api)
    api.on("POST", "/api/orders/decisions", json={
        "results": [
            {"order_id": A, "outcome": "approved", "status": "released", "version": 3, "decided_by": None},
            {"order_id": B, "outcome": "failed", "status": "rejected", "version": 4, "decided_by": OTHER,
             "error": {"code": "wrong_state", "message": "Already decided."}},
        ],
        "decided": 1, "failed": 1,
    })  # fmt: skip
    answer = await browser.post(
        "/kundencenter/approvals/decide",
        data={"csrf": csrf, "order_id": [A, B, A, "not-an-id"], "decision": "approve", "comment": " passt "},
    )
    assert answer.status_code == 200
    assert sent_decisions(api) == [{"decision": "approve", "order_ids": [A, B], "comment": "passt"}]
    assert api.sent("POST", "/api/orders/decisions")[0].headers["Authorization"] == "Bearer token-of-martha"
    assert "1 entschieden, 1 nicht entschieden." in answer.text
    assert f'<li data-order-id="{A}" class="outcome-approved">' in answer.text
    assert f'<li data-order-id="{B}" class="outcome-failed">' in answer.text
    assert "Otto Other" in answer.text  # who decided it meanwhile
    # the list may lag the decisions by a moment: the orders no longer waiting are not offered again
    assert f'name="order_id" value="{A}"' not in answer.text and f'name="order_id" value="{B}"' not in answer.text


async def test_rejecting_the_selected_needs_a_comment_and_sends_nothing_without_one(browser, api):
    csrf = await open_inbox(browser, api)
    answer = await browser.post(
        "/kundencenter/approvals/decide", data={"csrf": csrf, "order_id": [A, B], "decision": "reject", "comment": " "}
    )
    assert answer.status_code == 422
    assert sent_decisions(api) == []
    # the selection stays as it was
    assert f'value="{A}" form="decide-selected" aria-label="Bestellung KST-1 auswählen" checked' in answer.text


async def test_nothing_selected_is_refused_before_anything_is_sent(browser, api):
    csrf = await open_inbox(browser, api)
    answer = await browser.post("/kundencenter/approvals/decide", data={"csrf": csrf, "decision": "approve"})
    assert answer.status_code == 422
    assert "Wählen Sie mindestens eine Bestellung aus." in answer.text
    assert sent_decisions(api) == []


async def test_an_unknown_decision_is_refused_before_anything_is_sent(browser, api):
    csrf = await open_inbox(browser, api)
    answer = await browser.post(
        "/kundencenter/approvals/decide", data={"csrf": csrf, "order_id": A, "decision": "approve_all_of_them"}
    )
    assert answer.status_code == 422
    assert sent_decisions(api) == []


async def test_the_decision_form_needs_the_sessions_csrf_token(browser, api):
    await open_inbox(browser, api)
    answer = await browser.post(
        "/kundencenter/approvals/decide", data={"csrf": "guessed", "order_id": A, "decision": "approve"}
    )
    assert answer.status_code == 403
    assert sent_decisions(api) == []


async def test_a_refusal_of_the_whole_request_is_shown_in_words_with_the_selection_kept(browser, api):
    csrf = await open_inbox(browser, api)
    api.on("POST", "/api/orders/decisions", 403, {"error": {"code": "not_allowed", "message": "Not allowed."}})
    answer = await browser.post(
        "/kundencenter/approvals/decide", data={"csrf": csrf, "order_id": B, "decision": "approve"}
    )
    assert answer.status_code == 403
    assert f'value="{B}" form="decide-selected" aria-label="Bestellung KST-2 auswählen" checked' in answer.text
