"""The notifications page (ADR 0027): it shows the person's own choice per kind of mail, offers only what the API
allows (no "not at all" for a mail that needs their decision), sends the choice as the API wants it — never naming
whose it is — and shows the API's refusals in words."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.unit.frontend.conftest import csrf_of, sign_in

PATH = "/kundencenter/notification-preferences"
API = "/api/me/notification-preferences"


def kind(name: str, action_needed: bool, delivery: str = "immediately") -> dict[str, Any]:
    allowed = ["immediately", "digest"] if action_needed else ["immediately", "digest", "none"]
    return {"kind": name, "action_needed": action_needed, "delivery": delivery, "allowed": allowed}


def answer(**deliveries: str) -> dict[str, Any]:
    return {
        "user_id": "0b6e7f3a-1c1d-4a86-9d4e-000000000001",
        "preferences": [
            kind("approval_requested", True, deliveries.get("approval_requested", "immediately")),
            kind("order_approved", False, deliveries.get("order_approved", "immediately")),
            kind("order_rejected", False, deliveries.get("order_rejected", "immediately")),
        ],
        "digest": {"hour": 7, "timezone": "Europe/Berlin"},
        "changed_at": None,
        "changed_by": None,
    }


def form_csrf(page: Any) -> str:
    """The CSRF token of the preferences form itself (not of the language switch in the header)."""
    form = re.search(r'<form[^>]*id="notification-preferences".*?</form>', page.text, re.S)
    assert form, "the page has no preferences form"
    found = re.search(r'name="csrf" value="([^"]+)"', form.group(0))
    assert found, "the preferences form has no CSRF token"
    return found.group(1)


def checked(page: Any, name: str) -> str | None:
    found = re.search(r'name="kind\.' + re.escape(name) + r'" value="(\w+)" checked', page.text)
    return found.group(1) if found else None


def offered(page: Any, name: str) -> list[str]:
    return re.findall(r'name="kind\.' + re.escape(name) + r'" value="(\w+)"', page.text)


async def test_the_page_shows_the_persons_choices_and_offers_only_what_each_kind_allows(browser, api):
    api.on("GET", API, json=answer(order_approved="digest"))
    await sign_in(browser)
    page = await browser.get(PATH)
    assert page.status_code == 200
    assert "Benachrichtigungen per E-Mail" in page.text and "7:00 Uhr" in page.text
    assert (checked(page, "order_approved"), checked(page, "approval_requested")) == ("digest", "immediately")
    assert offered(page, "approval_requested") == ["immediately", "digest"]  # no "none" for a decision mail
    assert offered(page, "order_rejected") == ["immediately", "digest", "none"]
    assert "Freigabe erbeten" in page.text and "erwartet Ihre Entscheidung" in page.text


async def test_saving_sends_the_choices_and_nothing_about_whose_they_are(browser, api):
    api.on("GET", API, json=answer())
    api.on("PUT", API, json=answer(order_approved="digest", order_rejected="none"))
    await sign_in(browser)
    page = await browser.get(PATH)
    assert form_csrf(page) == csrf_of(page)
    form = {"csrf": form_csrf(page), "kind.approval_requested": "immediately", "kind.order_approved": "digest",
            "kind.order_rejected": "none"}  # fmt: skip
    saved = await browser.post(PATH, data=form)
    assert saved.status_code == 303 and saved.headers["location"] == PATH
    (sent,) = api.sent("PUT", API)
    assert json.loads(sent.content) == {
        "preferences": {"approval_requested": "immediately", "order_approved": "digest", "order_rejected": "none"}
    }
    assert sent.headers["authorization"] == "Bearer token-of-martha"
    shown = await browser.get(PATH)
    assert "Ihre Einstellungen sind gespeichert." in shown.text


async def test_a_refusal_of_the_api_is_shown_in_words_with_the_choice_kept(browser, api):
    api.on("GET", API, json=answer())
    api.on("PUT", API, 422, {"error": {"code": "action_mail_cannot_be_off", "message": "no"}})
    await sign_in(browser)
    page = await browser.get(PATH)
    refused = await browser.post(PATH, data={"csrf": form_csrf(page), "kind.approval_requested": "digest"})
    assert refused.status_code == 422
    assert "lassen sich nicht abschalten – nur sofort oder gesammelt" in refused.text
    assert checked(refused, "approval_requested") == "digest"


async def test_a_form_without_the_sessions_csrf_token_changes_nothing(browser, api):
    api.on("GET", API, json=answer())
    await sign_in(browser)
    refused = await browser.post(PATH, data={"csrf": "forged", "kind.order_approved": "none"})
    assert refused.status_code == 403
    assert api.sent("PUT", API) == []


async def test_the_page_needs_a_signed_in_person(browser, api):
    page = await browser.get(PATH)
    assert page.status_code == 303 and page.headers["location"].startswith("/kundencenter/login")
