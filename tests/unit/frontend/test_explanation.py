"""The order page's "Warum?/Why?" section (GET /api/orders/{id}/explanation, ADR 0028): the budget, prices and verdict
judged on at submission, why the order went to whom, the substitute in force, who could have decided and who did —
in the reader's language; no section for whoever the API refuses it to."""

from __future__ import annotations

from typing import Any

from tests.unit.frontend.conftest import csrf_of, sign_in
from tests.unit.frontend.test_substitution import ABSENT, BUYER, ORDER, SUBSTITUTE, order

PATH = f"/api/orders/{ORDER}/explanation"
AT = "2026-12-06T09:00:00Z"
MONEY = {"currency": "EUR"}


def _step(n: int, kind: str, event: str, **fields: Any) -> dict[str, Any]:
    return {
        "n": n, "version": n, "kind": kind, "event": event, "at": AT, "round": 1, "by": None, "on_behalf_of": None,
        "comment": None, "content": None, "judgement": None, "routing": None, "waiting": None, "decision": None,
        "changes": [], "offer": None, "erp_order_number": None, "erp_rejection_reason": None, "detail": {},
    } | fields  # fmt: skip


LINE = {
    "sku": "A-100", "description": "Artikel A-100", "quantity": 12, "unit": "piece",
    "unit_price": {"amount": "9.90", **MONEY}, "line_total": {"amount": "118.80", **MONEY},
    "price": {"list_unit_price": {"amount": "10.50", **MONEY}, "price_break": 10, "valid_from": None, "valid_to": None,
              "changed_at": AT},
}  # fmt: skip
ANNA_AWAY = {"absence_id": "6f1c0c52-7f0c-4f43-9a55-4f7f4d4b0a40", "substitute": SUBSTITUTE, "on_behalf_of": ABSENT,
             "from": AT, "until": "2026-12-20T17:00:00Z", "recorded_by": ABSENT}  # fmt: skip
COULD = [
    {"person": ABSENT, "capacity": "approver", "on_behalf_of": None, "from": AT, "until": "2026-12-06T11:00:00Z"},
    {"person": SUBSTITUTE, "capacity": "substitute", "on_behalf_of": ABSENT, "from": AT,
     "until": "2026-12-06T11:00:00Z"},
]  # fmt: skip
EXPLANATION = {
    "order_id": ORDER, "company_id": "6f1c0c52-7f0c-4f43-9a55-4f7f4d4b0a99", "version": 5, "status": "released",
    "round": 1, "buyer": BUYER, "submitted_at": AT, "decided_by": SUBSTITUTE, "decided_on_behalf_of": ABSENT,
    "steps": [
        _step(1, "submitted", "Submitted", by=BUYER, content={
            "lines": [LINE], "total": {"amount": "118.80", **MONEY}, "total_quantity": 12, "reference": "KST-9",
            "price_source": "erp",
        }, judgement={
            "budget": {"max_quantity": 10, "max_value": {"amount": "500.00", **MONEY}, "period_budget": None},
            "budget_source": "recorded", "period_budget": None, "period_budget_source": None, "within_budget": False,
            "exceeded_limits": [{"limit": "max_quantity", "allowed": "10", "actual": "12", "currency": None,
                                 "reason": "over_limit", "period": None, "budget": None, "reserved": None,
                                 "consumed": None}],
            "outcome": "held_for_approval", "budget_before": None, "exceeded_limits_before": None,
        }),
        _step(2, "approval_requested", "ApprovalRequested", routing={
            "policy": "one_approval", "approvers": [ABSENT], "rule": "approvers_named", "approvers_named": [ABSENT],
            "main_contact": BUYER, "buyer_left_out": False, "substitutes": [ANNA_AWAY], "tier": None,
        }, waiting={"from": AT, "until": "2026-12-06T11:00:00Z", "ended_by": "approved", "could_decide": COULD}),
        _step(3, "approved", "Approved", by=SUBSTITUTE, on_behalf_of=ABSENT, comment="passt so", decision={
            "decision": "approved", "capacity": "substitute", "on_behalf_of": ABSENT, "absence": ANNA_AWAY,
            "could": ["approve", "approve_with_changes", "reject"], "could_have_decided": COULD,
        }),
        _step(4, "released", "Released", by=SUBSTITUTE),
    ],
}  # fmt: skip


async def test_the_order_page_says_why_with_the_budget_prices_routing_and_the_substitutes_decision(browser, api):
    api.on("GET", f"/api/orders/{ORDER}", json=order(status="released"))
    api.on("GET", PATH, json=EXPLANATION)
    await sign_in(browser)
    page = await browser.get(f"/kundencenter/orders/{ORDER}")
    assert page.status_code == 200
    why = page.text[page.text.index('<section aria-labelledby="why-h" id="why">') :]
    why = why[: why.index("</section>")]
    assert '<h2 id="why-h">Warum?</h2>' in why
    assert "Budget je Bestellung: höchstens 10 Stück, höchstens 500,00" in why
    assert "Ergebnis: über dem Budget – zur Freigabe." in why
    assert "A-100: 12 × 9,90" in why and "Staffelpreis ab 10 Stück, Listenpreis 10,50" in why
    # names escaped once, not twice
    assert "An Anna &lt;Absent&gt; &amp; Co: die damals benannten Freigeber der Firma." in why
    assert "Sam Substitute vertrat Anna &lt;Absent&gt; &amp; Co bis" in why
    assert "Sam Substitute in Vertretung für Anna &lt;Absent&gt; &amp; Co (" in why
    assert "Sam Substitute hat in Vertretung für Anna &lt;Absent&gt; &amp; Co freigegeben." in why
    assert "Freigegeben durch Sam Substitute." in why
    assert api.sent("GET", PATH)[0].headers["Authorization"] == "Bearer token-of-martha"


async def test_an_english_reader_reads_why_in_english(browser, api):
    api.on("GET", f"/api/orders/{ORDER}", json=order(status="released"))
    api.on("GET", PATH, json=EXPLANATION)
    await sign_in(browser)
    await browser.post("/kundencenter/language", data={"csrf": csrf_of(await browser.get("/kundencenter/")),
                                                       "language": "en", "next": f"/kundencenter/orders/{ORDER}"})  # fmt: skip
    page = await browser.get(f"/kundencenter/orders/{ORDER}")
    assert '<h2 id="why-h">Why?</h2>' in page.text
    assert "Result: over budget — held for approval." in page.text
    assert "Sam Substitute approved on behalf of Anna &lt;Absent&gt; &amp; Co." in page.text


async def test_whoever_the_api_refuses_the_explanation_sees_the_order_without_it(browser, api):
    api.on("GET", f"/api/orders/{ORDER}", json=order())
    api.on("GET", PATH, 403, {"error": {"code": "not_allowed", "message": "Not allowed."}})
    await sign_in(browser)
    page = await browser.get(f"/kundencenter/orders/{ORDER}")
    assert page.status_code == 200
    assert 'id="why"' not in page.text and "Warum?" not in page.text
