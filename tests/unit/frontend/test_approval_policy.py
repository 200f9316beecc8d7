"""The approval policy page (Freigaberichtlinie, ADR 0025): what it shows, what it sends to define the tiers or to go
back to the default, what it refuses before sending, and the API's refusals in words."""

from __future__ import annotations

import json
from typing import Any

from tests.unit.frontend.conftest import ME, csrf_of, sign_in
from tests.unit.frontend.test_absences import ARNO, ARNO_ME, BEA, MARTHA_USER, SAM

MARTHA = ME["user"]["id"]
PATH = "/kundencenter/approval-policy"


def policy(*tiers: tuple[str, list[dict[str, Any]]], role: str | None = None) -> dict[str, Any]:
    return {
        "version": 2 if tiers else None, "default": not tiers, "escalation": "climb", "currency": "EUR",
        "tiers": [{"tier": n, "max_value": {"amount": limit, "currency": "EUR"},
                   "approvers": [{"id": p["id"], "name": f"{p['first_name']} {p['last_name']}"} for p in people],
                   "role_id": role if n == 1 else None}
                  for n, (limit, people) in enumerate(tiers, start=1)],
        "top": "main_contact", "defined_by": {"id": MARTHA, "name": "Martha Main"} if tiers else None,
        "defined_at": "2026-12-06T08:00:00Z" if tiers else None, "revisions": [],
    }  # fmt: skip


def company(api: Any, current: dict[str, Any]) -> None:
    api.on("GET", "/api/approvals/policy", json=current)
    api.on("PUT", "/api/approvals/policy", json=current)
    api.on("GET", "/api/users", json={"items": [ARNO, BEA, MARTHA_USER, SAM], "total": 4, "limit": 200, "offset": 0})


def sent(api: Any) -> list[dict[str, Any]]:
    return [json.loads(r.content) for r in api.sent("PUT", "/api/approvals/policy")]


async def test_the_page_shows_the_tiers_and_the_main_contact_above_them(browser, api):
    company(api, policy(("200.00", [ARNO]), ("1000.00", [SAM]), role="einkauf"))
    await sign_in(browser)
    page = await browser.get(PATH)
    assert page.status_code == 200, page.text
    first = page.text.split('data-tier="1"')[1].split("</tr>")[0]
    assert "bis 200,00\xa0€" in first and "Arno Approver" in first and "Rolle einkauf" in first
    assert "Sam Substitute" in page.text.split('data-tier="2"')[1].split("</tr>")[0]
    assert "ohne Grenze" in page.text.split('data-tier="top"')[1].split("</tr>")[0]
    assert "Version 2, festgelegt von Martha Main" in page.text


async def test_without_tiers_the_page_says_the_approver_list_decides(browser, api):
    company(api, policy())
    await sign_in(browser)
    page = await browser.get(PATH)
    assert 'id="policy-default"' in page.text and 'id="reset-policy"' not in page.text


async def test_the_main_contact_defines_two_tiers(browser, api):
    company(api, policy())
    await sign_in(browser)
    form = await browser.get(PATH)
    data = {"csrf": csrf_of(form), "max_value_0": "200", "approvers_0": ARNO["id"], "max_value_1": "1.000,50",
            "approvers_1": [SAM["id"], ARNO["id"]], "role_id_1": "einkauf", "escalation": "direct"}  # fmt: skip
    r = await browser.post(PATH, data=data)
    assert r.status_code == 303, r.text
    (body,) = sent(api)
    assert body == {"escalation": "direct", "tiers": [
        {"max_value": "200", "approver_ids": [ARNO["id"]]},
        {"max_value": "1000.50", "approver_ids": [SAM["id"], ARNO["id"]], "role_id": "einkauf"},
    ]}  # fmt: skip


async def test_resetting_sends_no_tiers(browser, api):
    company(api, policy(("200.00", [ARNO])))
    await sign_in(browser)
    form = await browser.get(PATH)
    r = await browser.post(PATH, data={"csrf": csrf_of(form), "reset": "1", "max_value_0": "kaputt"})
    assert r.status_code == 303, r.text
    assert sent(api) == [{"tiers": []}]


async def test_what_the_page_can_tell_is_refused_before_sending(browser, api):
    company(api, policy())
    await sign_in(browser)
    form = await browser.get(PATH)
    r = await browser.post(PATH, data={"csrf": csrf_of(form), "max_value_0": "zweihundert", "approvers_0": ARNO["id"],
                                       "max_value_1": "300"})  # fmt: skip
    assert r.status_code == 422
    assert "Bitte einen Betrag über 0 eingeben" in r.text and "Jede Stufe braucht Freigeber" in r.text
    assert sent(api) == []


async def test_the_apis_refusal_is_shown_in_words(browser, api):
    company(api, policy())
    api.on("PUT", "/api/approvals/policy", 422, {"error": {"code": "limits_not_ascending", "message": "x"}})
    await sign_in(browser)
    form = await browser.get(PATH)
    r = await browser.post(PATH, data={"csrf": csrf_of(form), "max_value_0": "500", "approvers_0": ARNO["id"],
                                       "max_value_1": "200", "approvers_1": SAM["id"]})  # fmt: skip
    assert r.status_code == 422
    assert "Die Grenze jeder Stufe muss höher sein als die der Stufe darunter." in r.text
    assert 'value="500"' in r.text  # what was entered stays


async def test_an_approver_sees_the_tiers_but_no_form(browser, api):
    company(api, policy(("200.00", [ARNO])))
    api.on("GET", "/api/me", json=ARNO_ME)
    await sign_in(browser)
    page = await browser.get(PATH)
    assert page.status_code == 200, page.text
    assert 'id="tiers"' in page.text and 'id="define-policy"' not in page.text
    assert api.sent("GET", "/api/users") == []


async def test_a_buyer_is_not_shown_the_page(browser, api):
    company(api, policy())
    api.on(
        "GET", "/api/me", json={**ARNO_ME, "permissions": ["place_orders"], "is_approver": False, "roles": ["buyer"]}
    )
    await sign_in(browser)
    page = await browser.get(PATH)
    assert page.status_code == 403
    assert api.sent("GET", "/api/approvals/policy") == []


async def test_the_order_page_says_at_which_tier_the_order_waits_and_who_approved_below(browser, api):
    from tests.unit.frontend.test_substitution import ORDER, order

    tier = {"tier": 2, "max_value": {"amount": "1000.00", "currency": "EUR"}, "policy_version": 1,
            "approved_below": [{"tier": 1, "by": {"id": ARNO["id"], "name": "Arno <Approver>"}, "at": "2026-12-06T08:00:00Z"}]}  # fmt: skip
    api.on("GET", f"/api/orders/{ORDER}", json=order(approval_tier=tier, timeline=[
        {"at": "2026-12-06T08:00:00Z", "event": "Escalated", "by": {"id": ARNO["id"], "name": "Arno"}, "detail": {}},
    ]))  # fmt: skip
    await sign_in(browser)
    page = await browser.get(f"/kundencenter/orders/{ORDER}")
    assert page.status_code == 200, page.text
    shown = page.text.split('id="approval-tier">')[1].split("</dd>")[0]
    assert "Stufe 2 (gibt frei bis 1.000,00\xa0€)" in shown
    assert "Stufe 1: freigegeben von Arno &lt;Approver&gt;" in shown
    assert "auf der Stufe freigegeben, an die nächste Stufe" in page.text


async def test_an_order_at_the_top_says_the_main_contact_decides(browser, api):
    from tests.unit.frontend.test_substitution import ORDER, order

    tier = {"tier": 3, "max_value": None, "policy_version": 1, "approved_below": []}
    api.on("GET", f"/api/orders/{ORDER}", json=order(approval_tier=tier))
    await sign_in(browser)
    page = await browser.get(f"/kundencenter/orders/{ORDER}")
    assert "Hauptkontakt (ohne Grenze)" in page.text.split('id="approval-tier">')[1].split("</dd>")[0]
