"""Erased people (ADR 0035) on the pages: users answers null names and e-mail with ``erased: true``, approval a
person ``{"id", "name": null, "erased": true}`` and their words as null — the pages say "erased user" and "(removed)",
never "None"; the main contact erases a deactivated user after a confirmation."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.unit.frontend.conftest import ME, csrf_of, sign_in

ERASED = "6f1c0c52-7f0c-4f43-9a55-4f7f4d4b0e01"
BEA = "6f1c0c52-7f0c-4f43-9a55-4f7f4d4b0e02"
ORDER = "6f1c0c52-7f0c-4f43-9a55-4f7f4d4b0e03"
MARTHA = ME["user"]["id"]


def user(uid: str, status: str = "active", erased: bool = False, **more: Any) -> dict[str, Any]:
    names = {"first_name": None, "last_name": None, "email": None} if erased else {
        "first_name": "Bea", "last_name": "Buyer", "email": "bea@example.com"}  # fmt: skip
    return {"id": uid, **names, "status": status, "erased": erased, "role_ids": ["buyer"], "permissions": [],
            "is_main_contact": False, "language": "de",
            "budget": {"max_total_quantity": None, "max_order_value": None}, **more}  # fmt: skip


def users_api(api: Any, *users: dict[str, Any]) -> None:
    api.on("GET", "/api/users", json={"items": list(users), "total": len(users), "limit": 50, "offset": 0})
    for u in users:
        api.on("GET", f"/api/users/{u['id']}", json=u)
    api.on("GET", "/api/roles", json=[{"id": "buyer", "name": "Einkäufer"}])
    api.on("GET", "/api/company", json={"approver_ids": [], "currency": "EUR"})
    api.on("GET", "/api/erp-contacts", json=[])


def shown(html: str) -> str:
    """The page's text without its markup (and without the attribute values a form carries)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


async def test_the_users_list_shows_an_erased_user_as_erased_never_none(browser, api):
    users_api(api, user(BEA), user(ERASED, "inactive", erased=True))
    await sign_in(browser)
    page = await browser.get("/kundencenter/users")
    assert page.status_code == 200
    text = shown(page.text)
    assert "None" not in text
    assert "Gelöschter Benutzer" in text and "Bea Buyer" in text


async def test_an_erased_users_page_offers_no_change_of_name_e_mail_or_access(browser, api):
    users_api(api, user(ERASED, "inactive", erased=True))
    await sign_in(browser)
    page = await browser.get(f"/kundencenter/users/{ERASED}")
    assert page.status_code == 200
    assert "None" not in shown(page.text)
    assert "<h1" in page.text and "Gelöschter Benutzer" in page.text and 'id="user-erased"' in page.text
    for control in ('id="save-name"', 'id="save-email"', 'id="activate"', 'id="erase"'):
        assert control not in page.text


async def test_a_change_users_refuses_for_an_erased_user_reads_as_a_sentence(browser, api):
    users_api(api, user(BEA, "inactive"))
    api.on("POST", f"/api/users/{BEA}/activate", 409, {"error": {"code": "user_erased", "message": "erased"}})
    await sign_in(browser)
    page = await browser.get(f"/kundencenter/users/{BEA}")
    answer = await browser.post(f"/kundencenter/users/{BEA}/activate", data={"csrf": csrf_of(page)})
    assert answer.status_code == 409
    assert "Dieser Benutzer wurde gelöscht und kann nicht mehr geändert werden." in answer.text


def person(uid: str, name: str | None) -> dict[str, Any]:
    return {"id": uid, "name": name, "erased": name is None}


def erased_order() -> dict[str, Any]:
    """An order whose buyer was erased and approved by Martha; one of the two approvers erased too."""
    buyer, martha = person(ERASED, None), person(MARTHA, "Martha Main")
    return {
        "id": ORDER, "version": 4, "status": "pending_approval", "buyer": buyer, "approvers": [martha, buyer],
        "lines": [], "total": {"amount": "120", "currency": "EUR"}, "total_quantity": 1,
        "delivery_address": {"name": "Muster GmbH", "street": "Weg 1", "postal_code": "12345", "city": "Ort",
                             "country": "DE"},
        "billing_address": {}, "payment_method": "invoice", "shipping_method": "standard", "reference": "R-9",
        "buyer_comment": None, "exceeded_limits": [], "decided_by": buyer, "submitted_at": "2026-12-05T08:00:00Z",
        "conversation": [
            {"author": buyer, "kind": "message", "text": None, "at": "2026-12-05T08:01:00Z"},
            {"author": martha, "kind": "message", "text": "Bitte prüfen", "at": "2026-12-05T08:02:00Z"},
        ],
        "timeline": [
            {"at": "2026-12-05T08:00:00Z", "event": "Submitted", "by": buyer, "comment": None, "detail": {}},
            {"at": "2026-12-05T08:01:00Z", "event": "Commented", "by": buyer, "comment": None, "detail": {}},
        ],
    }  # fmt: skip


async def test_an_order_with_an_erased_buyer_and_approver_shows_them_as_erased_and_their_words_as_removed(browser, api):
    api.on("GET", f"/api/orders/{ORDER}", json=erased_order())
    await sign_in(browser)
    page = await browser.get(f"/kundencenter/orders/{ORDER}")
    assert page.status_code == 200
    text = shown(page.text)
    assert "None" not in text
    buyer = re.search(r'id="order-buyer">(.*?)</dd>', page.text)
    assert buyer and "Gelöschter Benutzer" in buyer.group(1)
    assert "Martha Main, Gelöschter Benutzer" in text  # the approvers
    conversation = re.search(r'id="conversation">(.*?)</ol>', page.text, re.S)
    assert conversation and "(entfernt)" in conversation.group(1)
    timeline = re.search(r'id="timeline">(.*?)</ol>', page.text, re.S)
    assert timeline and "(entfernt)" in timeline.group(1) and "Gelöschter Benutzer" in timeline.group(1)
    assert "Bitte prüfen" in text
    assert ERASED[:8] not in text  # the label, not the id's beginning


async def test_the_erased_label_and_removed_words_read_in_english_too(browser, api):
    api.on("GET", f"/api/orders/{ORDER}", json=erased_order())
    await sign_in(browser)
    form = await browser.get("/kundencenter/")
    await browser.post("/kundencenter/language", data={"csrf": csrf_of(form), "language": "en",
                                                      "next": "/kundencenter/"})  # fmt: skip
    page = await browser.get(f"/kundencenter/orders/{ORDER}")
    text = shown(page.text)
    assert "Erased user" in text and "(removed)" in text and "None" not in text


async def test_the_order_list_shows_an_erased_buyer_as_erased(browser, api):
    item = {"id": ORDER, "status": "pending_approval", "reference": "R-9", "total": {"amount": "1", "currency": "EUR"},
            "total_quantity": 1, "round": 1, "submitted_at": "2026-12-05T08:00:00Z",
            "updated_at": "2026-12-05T08:00:00Z", "buyer_id": ERASED, "buyer": person(ERASED, None),
            "approvers": [ERASED], "approvers_with_names": [person(ERASED, None)], "substitute_for": None}  # fmt: skip
    api.on("GET", "/api/approvals", json={"items": [item], "total": 1, "limit": 50, "offset": 0})
    await sign_in(browser)
    page = await browser.get("/kundencenter/approvals")
    assert page.status_code == 200
    text = shown(page.text)
    assert "None" not in text and "Gelöschter Benutzer" in text


async def test_the_policy_picker_takes_users_without_names_without_failing(browser, api):
    nameless = user(BEA, permissions=["approve_orders"]) | {"first_name": None, "last_name": None}
    api.on("GET", "/api/users", json={"items": [nameless, user(ERASED, erased=True, permissions=["approve_orders"])],
                                      "total": 2, "limit": 200, "offset": 0})  # fmt: skip
    api.on("GET", "/api/approvals/policy", json={"tiers": [], "version": 0})
    api.on("GET", "/api/roles", json=[])
    await sign_in(browser)
    page = await browser.get("/kundencenter/approval-policy")
    assert page.status_code == 200
    assert "None" not in shown(page.text)
    assert BEA[:8] in page.text and ERASED not in page.text


# --- the erasure
async def test_a_deactivated_users_page_offers_the_main_contact_the_erasure(browser, api):
    users_api(api, user(BEA, "inactive"), user(ERASED, "active"))
    await sign_in(browser)
    deactivated = await browser.get(f"/kundencenter/users/{BEA}")
    assert 'id="erase"' in deactivated.text
    active = await browser.get(f"/kundencenter/users/{ERASED}")
    assert 'id="erase"' not in active.text


async def test_someone_who_is_not_the_main_contact_is_not_offered_the_erasure(browser, api):
    api.on("GET", "/api/me", json=ME | {"is_main_contact": False})
    users_api(api, user(BEA, "inactive"))
    await sign_in(browser)
    page = await browser.get(f"/kundencenter/users/{BEA}")
    assert 'id="erase"' not in page.text


async def test_the_erasure_asks_for_confirmation_before_calling_users(browser, api):
    users_api(api, user(BEA, "inactive"))
    api.on("POST", f"/api/users/{BEA}/erasure", json=user(BEA, "inactive", erased=True))
    await sign_in(browser)
    form = await browser.get(f"/kundencenter/users/{BEA}/erasure")
    assert form.status_code == 200 and 'id="erase-for-good"' in form.text and "Bea Buyer" in form.text
    unconfirmed = await browser.post(f"/kundencenter/users/{BEA}/erasure", data={"csrf": csrf_of(form)})
    assert unconfirmed.status_code == 422 and "Bitte bestätigen Sie die Löschung" in unconfirmed.text
    assert api.sent("POST", f"/api/users/{BEA}/erasure") == []
    done = await browser.post(f"/kundencenter/users/{BEA}/erasure", data={"csrf": csrf_of(form), "confirm": "yes"})
    assert done.status_code == 303 and done.headers["location"] == f"/kundencenter/users/{BEA}"
    (sent,) = api.sent("POST", f"/api/users/{BEA}/erasure")
    assert sent.headers["Authorization"] == "Bearer token-of-martha"
    api.on("GET", f"/api/users/{BEA}", json=user(BEA, "inactive", erased=True))
    after = await browser.get(f"/kundencenter/users/{BEA}")
    assert "Der Benutzer ist gelöscht." in after.text and "Bea" not in shown(after.text)


async def test_a_form_without_the_sessions_csrf_token_erases_nobody(browser, api):
    users_api(api, user(BEA, "inactive"))
    await sign_in(browser)
    refused = await browser.post(f"/kundencenter/users/{BEA}/erasure", data={"csrf": "guessed", "confirm": "yes"})
    assert refused.status_code == 403
    assert api.sent("POST", f"/api/users/{BEA}/erasure") == []


@pytest.mark.parametrize(
    ("code", "sentence"),
    [
        ("user_not_deactivated", "Nur deaktivierte Benutzer können gelöscht werden."),
        ("cannot_erase_main_contact", "Der Hauptkontakt kann nicht gelöscht werden."),
        ("cannot_erase_self", "Sie können sich nicht selbst löschen."),
        ("missing_permission", "Dafür fehlt Ihnen die Berechtigung."),
    ],
)
async def test_each_refusal_of_the_erasure_is_shown_in_words(browser, api, code, sentence):
    users_api(api, user(BEA, "inactive"))
    status = 403 if code == "missing_permission" else 409
    api.on("POST", f"/api/users/{BEA}/erasure", status, {"error": {"code": code, "message": "in English"}})
    await sign_in(browser)
    form = await browser.get(f"/kundencenter/users/{BEA}/erasure")
    answer = await browser.post(f"/kundencenter/users/{BEA}/erasure", data={"csrf": csrf_of(form), "confirm": "yes"})
    assert answer.status_code == status
    assert sentence in answer.text
