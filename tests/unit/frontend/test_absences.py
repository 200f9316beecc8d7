"""The absences page (Abwesenheiten, ADR 0020): what it lists, what it sends to record and withdraw an absence (the
period entered in Berlin time, sent with its offset), what it refuses before sending, and every refusal of the API
in words."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.frontend.conftest import ME, csrf_of, sign_in

MARTHA = ME["user"]["id"]
ARNO = {"id": "0b6e7f3a-1c1d-4a86-9d4e-0000000000a0", "first_name": "Arno", "last_name": "Approver",
        "status": "active", "permissions": ["approve_orders"], "is_main_contact": False}  # fmt: skip
SAM = {"id": "0b6e7f3a-1c1d-4a86-9d4e-0000000000a1", "first_name": "Sam", "last_name": "Substitute",
       "status": "active", "permissions": ["approve_orders", "place_orders"], "is_main_contact": False}  # fmt: skip
BEA = {"id": "0b6e7f3a-1c1d-4a86-9d4e-0000000000b0", "first_name": "Bea", "last_name": "Buyer",
       "status": "active", "permissions": ["place_orders"], "is_main_contact": False}  # fmt: skip
MARTHA_USER = {**ME["user"], "permissions": ME["permissions"], "is_main_contact": True}
ABSENCE = "6f1c0c52-7f0c-4f43-9a55-4f7f4d4b0a40"
ARNO_ME = {
    "user": {"id": ARNO["id"], "first_name": "Arno", "last_name": "Approver", "email": "arno@example.com",
             "language": "de", "status": "active"},
    "company": {**ME["company"], "approver_ids": [ARNO["id"]]}, "permissions": ["approve_orders"],
    "roles": ["approver"], "is_main_contact": False, "is_approver": True, "budget": {},
}  # fmt: skip


def absence(absence_id: str = ABSENCE, state: str = "in_force", approver: dict[str, Any] | None = None) -> dict:
    return {
        "id": absence_id, "approver": approver or {"id": ARNO["id"], "name": "Arno Approver"},
        "substitute": {"id": SAM["id"], "name": "Sam Substitute"}, "from": "2026-12-01T08:00:00Z",
        "until": "2026-12-20T17:00:00Z", "state": state, "recorded_by": {"id": MARTHA, "name": "Martha Main"},
        "recorded_at": "2026-11-30T08:00:00Z", "withdrawn_by": None, "withdrawn_at": None,
    }  # fmt: skip


def company(api: Any, *absences: dict[str, Any]) -> None:
    api.on("GET", "/api/absences", json={"items": list(absences)})
    api.on("GET", "/api/users", json={"items": [ARNO, BEA, MARTHA_USER, SAM], "total": 4, "limit": 200, "offset": 0})
    api.on("GET", "/api/company/approvers", json={
        "approvers": [ARNO, SAM], "main_contact": MARTHA_USER, "main_contact_decides": False,
    })  # fmt: skip
    api.on("POST", "/api/absences", 201, absence())
    api.on("DELETE", f"/api/absences/{ABSENCE}", json=absence(state="withdrawn"))


async def open_page(browser: Any, api: Any, path: str = "/kundencenter/absences") -> Any:
    await sign_in(browser)
    page = await browser.get(path)
    assert page.status_code == 200, page.text
    return page


def recorded(api: Any) -> list[dict[str, Any]]:
    return [json.loads(r.content) for r in api.sent("POST", "/api/absences")]


def options(page: Any, select: str) -> list[str]:
    part = page.text.split(f'<select id="f-{select}"')[1].split("</select>")[0]
    return [chunk.split('"')[0] for chunk in part.split('<option value="')[2:]]


async def test_the_page_lists_the_current_absences_and_offers_the_past_ones(browser, api):
    company(api, absence())
    page = await open_page(browser, api)
    (listed,) = api.sent("GET", "/api/absences")
    assert "include_past" not in listed.url.params
    row = page.text.split(f'data-absence-id="{ABSENCE}"')[1].split("</tr>")[0]
    assert "Arno Approver" in row and "Sam Substitute" in row and "läuft" in row
    assert "01.12.2026, 09:00:00" in row  # shown in Berlin time
    assert 'href="/kundencenter/absences?include_past=true"' in page.text


async def test_the_past_are_listed_on_asking(browser, api):
    company(api, absence(state="ended"))
    page = await open_page(browser, api, "/kundencenter/absences?include_past=true")
    (listed,) = api.sent("GET", "/api/absences")
    assert listed.url.params["include_past"] == "true"
    assert "beendet" in page.text and "Nur laufende und geplante anzeigen" in page.text


async def test_only_an_absence_not_over_can_be_withdrawn(browser, api):
    over = "6f1c0c52-7f0c-4f43-9a55-4f7f4d4b0a41"
    company(api, absence(), absence(over, state="withdrawn"))
    page = await open_page(browser, api, "/kundencenter/absences?include_past=true")
    assert f'action="/kundencenter/absences/{ABSENCE}/withdraw"' in page.text
    assert f'action="/kundencenter/absences/{over}/withdraw"' not in page.text


async def test_who_manages_users_chooses_the_absent_person_and_the_substitute_among_who_may_approve(browser, api):
    company(api)
    page = await open_page(browser, api)
    # a buyer who may not approve is offered for neither; the main contact may approve
    assert set(options(page, "approver_id")) == {ARNO["id"], MARTHA, SAM["id"]}
    assert set(options(page, "substitute_id")) == {ARNO["id"], MARTHA, SAM["id"]}
    assert api.sent("GET", "/api/users")[0].url.params["status"] == "active"


async def test_the_period_is_sent_with_the_berlin_offset_of_each_date(browser, api):
    company(api)
    page = await open_page(browser, api)
    answer = await browser.post("/kundencenter/absences", data={
        "csrf": csrf_of(page), "approver_id": ARNO["id"], "substitute_id": SAM["id"],
        "from": "2026-12-24T09:00", "until": "2027-07-01T18:30",
    })  # fmt: skip
    assert answer.status_code == 303 and answer.headers["location"] == "/kundencenter/absences"
    assert recorded(api) == [{"approver_id": ARNO["id"], "substitute_id": SAM["id"],
                              "from": "2026-12-24T09:00:00+01:00", "until": "2027-07-01T18:30:00+02:00"}]  # fmt: skip
    assert "Die Abwesenheit ist eingetragen." in (await browser.get("/kundencenter/absences")).text


async def test_an_approver_records_their_own_absence_choosing_among_the_others_who_may_approve(browser, api):
    api.on("GET", "/api/me", json=ARNO_ME)
    company(api)
    page = await open_page(browser, api)
    assert 'id="f-approver_id"' not in page.text and "Sie tragen Ihre eigene Abwesenheit ein." in page.text
    assert set(options(page, "substitute_id")) == {MARTHA, SAM["id"]}  # not themselves
    assert api.sent("GET", "/api/users") == []  # not theirs to read
    await browser.post("/kundencenter/absences", data={"csrf": csrf_of(page), "substitute_id": SAM["id"],
                                                       "from": "2026-12-24T09:00", "until": "2026-12-31T09:00"})  # fmt: skip
    assert recorded(api) == [{"substitute_id": SAM["id"], "from": "2026-12-24T09:00:00+01:00",
                              "until": "2026-12-31T09:00:00+01:00"}]  # fmt: skip


async def test_a_substitute_sees_the_absence_but_no_withdraw_button(browser, api):
    api.on("GET", "/api/me", json=ARNO_ME | {"user": {**ARNO_ME["user"], "id": SAM["id"]}})
    company(api, absence())
    page = await open_page(browser, api)
    assert "Arno Approver" in page.text and "/withdraw" not in page.text


async def test_a_buyer_has_no_link_to_absences_and_no_form(browser, api):
    buyer = ARNO_ME | {"user": {**ARNO_ME["user"], "id": BEA["id"]}, "permissions": ["place_orders"],
                       "is_approver": False, "company": ME["company"]}  # fmt: skip
    api.on("GET", "/api/me", json=buyer)
    company(api)
    await sign_in(browser)
    home = await browser.get("/kundencenter/")
    assert 'href="/kundencenter/absences"' not in home.text
    page = await browser.get("/kundencenter/absences")
    assert page.status_code == 200 and 'id="record-absence"' not in page.text  # the API decides what they see


async def test_who_manages_users_without_approving_has_the_link_in_the_navigation(browser, api):
    manager = ARNO_ME | {"permissions": ["manage_users"], "is_approver": False}
    api.on("GET", "/api/me", json=manager)
    await sign_in(browser)
    home = await browser.get("/kundencenter/")
    assert 'href="/kundencenter/absences"' in home.text


async def test_an_approver_has_the_link_in_the_navigation(browser, api):
    api.on("GET", "/api/me", json=ARNO_ME)
    await sign_in(browser)
    home = await browser.get("/kundencenter/")
    assert 'href="/kundencenter/absences"' in home.text


@pytest.mark.parametrize(
    ("form", "field", "shown"),
    [
        ({"substitute_id": ""}, "substitute_id", "Pflichtfeld"),
        ({"from": "morgen früh"}, "from", "Bitte Datum und Uhrzeit angeben."),
        ({"until": ""}, "until", "Pflichtfeld"),
        ({"from": "0001-01-01T00:00"}, "from", "Bitte Datum und Uhrzeit angeben."),
        ({"until": "2026-12-24T08:59"}, "until", "Das Ende muss nach dem Beginn liegen."),
        ({"until": "2026-12-24T09:00"}, "until", "Das Ende muss nach dem Beginn liegen."),
        ({"approver_id": "not-an-id"}, "approver_id", "Bitte prüfen Sie Ihre Eingaben."),
    ],
)
async def test_a_form_the_api_could_not_take_is_refused_before_sending_with_what_was_typed(
    browser, api, form, field, shown
):
    company(api)
    page = await open_page(browser, api)
    fields = {"csrf": csrf_of(page), "approver_id": ARNO["id"], "substitute_id": SAM["id"],
              "from": "2026-12-24T09:00", "until": "2026-12-31T09:00"} | form  # fmt: skip
    answer = await browser.post("/kundencenter/absences", data=fields)
    assert answer.status_code == 422
    assert recorded(api) == []
    assert f'<p class="field-error" id="e-{field}">{shown}</p>' in answer.text
    assert f'value="{fields["from"]}"' in answer.text  # what was typed stays


@pytest.mark.parametrize(
    ("code", "shown"),
    [
        ("invalid_period", "Das Ende muss nach dem Beginn liegen."),
        ("period_too_long", "Eine Abwesenheit kann höchstens 366 Tage dauern."),
        ("period_over", "Dieser Zeitraum ist schon vorbei."),
        ("not_an_approver", "Die abwesende Person entscheidet keine Bestellungen; es gibt niemanden zu vertreten."),
        (
            "invalid_substitute",
            "Die Vertretung muss ein anderer aktiver Benutzer sein, der Bestellungen freigeben darf.",
        ),
    ],
)
async def test_each_refusal_of_the_api_is_shown_in_words_with_the_form_kept(browser, api, code, shown):
    company(api)
    api.on("POST", "/api/absences", 422, {"error": {"code": code, "message": "in English"}})
    page = await open_page(browser, api)
    answer = await browser.post("/kundencenter/absences", data={
        "csrf": csrf_of(page), "approver_id": ARNO["id"], "substitute_id": SAM["id"],
        "from": "2026-12-24T09:00", "until": "2026-12-31T09:00",
    })  # fmt: skip
    assert answer.status_code == 422
    assert shown in answer.text and "in English" not in answer.text
    assert f'<option value="{SAM["id"]}" selected>' in answer.text and 'value="2026-12-31T09:00"' in answer.text


async def test_the_refusals_read_in_english_too(browser, api):
    company(api)
    api.on("POST", "/api/absences", 422, {"error": {"code": "invalid_substitute", "message": "x"}})
    page = await open_page(browser, api)
    await browser.post("/kundencenter/language", data={"csrf": csrf_of(page), "language": "en",
                                                       "next": "/kundencenter/absences"})  # fmt: skip
    answer = await browser.post("/kundencenter/absences", data={
        "csrf": csrf_of(page), "substitute_id": SAM["id"], "from": "2026-12-24T09:00", "until": "2026-12-31T09:00",
    })  # fmt: skip
    assert "The substitute must be another active user who may approve orders." in answer.text


async def test_recording_needs_the_sessions_csrf_token(browser, api):
    company(api)
    await open_page(browser, api)
    answer = await browser.post("/kundencenter/absences", data={
        "csrf": "guessed", "substitute_id": SAM["id"], "from": "2026-12-24T09:00", "until": "2026-12-31T09:00",
    })  # fmt: skip
    assert answer.status_code == 403 and recorded(api) == []


async def test_withdrawing_sends_the_delete_and_says_so(browser, api):
    company(api, absence())
    page = await open_page(browser, api)
    answer = await browser.post(f"/kundencenter/absences/{ABSENCE}/withdraw", data={"csrf": csrf_of(page)})
    assert answer.status_code == 303
    assert len(api.sent("DELETE", f"/api/absences/{ABSENCE}")) == 1
    assert "Die Abwesenheit ist zurückgezogen." in (await browser.get("/kundencenter/absences")).text


async def test_withdrawing_needs_the_sessions_csrf_token(browser, api):
    company(api, absence())
    await open_page(browser, api)
    answer = await browser.post(f"/kundencenter/absences/{ABSENCE}/withdraw", data={"csrf": "guessed"})
    assert answer.status_code == 403 and api.sent("DELETE", f"/api/absences/{ABSENCE}") == []


@pytest.mark.parametrize(
    ("status", "code", "shown"),
    [
        (409, "wrong_state", "Das ist im jetzigen Status"),
        (403, "not_allowed", "Ihnen fehlt die Berechtigung"),
        (404, "not_found", "Nicht gefunden."),
    ],
)
async def test_a_refused_withdrawal_is_shown_in_words(browser, api, status, code, shown):
    company(api, absence())
    api.on("DELETE", f"/api/absences/{ABSENCE}", status, {"error": {"code": code, "message": "x"}})
    page = await open_page(browser, api)
    answer = await browser.post(f"/kundencenter/absences/{ABSENCE}/withdraw", data={"csrf": csrf_of(page)})
    assert answer.status_code == status and shown in answer.text


async def test_a_malformed_absence_id_is_no_page(browser, api):
    company(api, absence())
    page = await open_page(browser, api)
    answer = await browser.post("/kundencenter/absences/nonsense/withdraw", data={"csrf": csrf_of(page)})
    assert answer.status_code == 404 and api.sent("DELETE", "/api/absences/nonsense") == []
