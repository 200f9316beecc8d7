"""The backend-for-frontend as a browser meets it: cookies, CSRF, signing in and out, the API's refusals in words."""

from __future__ import annotations

import json

import pytest

from frontend.main import create_app
from frontend.settings import FrontendSettings
from tests.unit.frontend.conftest import csrf_of, sign_in


async def test_the_session_cookie_is_httponly_secure_samesite_and_scoped_to_the_frontend(browser):
    page = await browser.get("/kundencenter/")
    cookie = page.headers["set-cookie"].lower()
    assert cookie.startswith("kc_session=")
    for attribute in ("httponly", "secure", "samesite=lax", "path=/kundencenter/"):
        assert attribute in cookie


async def test_signing_in_keeps_the_token_out_of_the_browser(browser, api):
    answer = await sign_in(browser)
    assert answer.status_code == 303
    home = await browser.get("/kundencenter/")
    assert "Willkommen, Martha Main" in home.text
    assert "token-of-martha" not in home.text
    assert all("token-of-martha" not in value for value in browser.cookies.values())
    assert api.sent("GET", "/api/me")[-1].headers["Authorization"] == "Bearer token-of-martha"


async def test_a_form_without_the_sessions_csrf_token_is_refused(browser, api):
    await browser.get("/kundencenter/login")
    refused = await browser.post("/kundencenter/login", data={"csrf": "guessed", "email": "main@example.com"})
    assert refused.status_code == 403
    assert "Das Formular ist abgelaufen" in refused.text
    assert api.sent("POST", "/dev-auth/token") == []


async def test_a_form_from_another_site_is_refused(browser):
    form = await browser.get("/kundencenter/login")
    refused = await browser.post(
        "/kundencenter/login",
        data={"csrf": csrf_of(form), "email": "main@example.com"},
        headers={"Origin": "https://evil.example"},
    )
    assert refused.status_code == 403


async def test_a_deactivated_user_is_signed_out_on_the_next_page(browser, api):
    await sign_in(browser)
    api.on("GET", "/api/me", 403, {"error": {"code": "user_inactive", "message": "This user has been deactivated."}})
    page = await browser.get("/kundencenter/orders")
    assert page.status_code == 303 and page.headers["location"] == "/kundencenter/login"
    login = await browser.get("/kundencenter/login")
    assert "Ihr Zugang wurde deaktiviert" in login.text
    api.on("GET", "/api/me", json={})
    again = await browser.get("/kundencenter/orders")
    assert again.headers["location"].startswith("/kundencenter/login?next=")


async def test_a_page_needing_a_sign_in_sends_to_the_sign_in_and_back(browser):
    page = await browser.get("/kundencenter/approvals")
    assert page.status_code == 303
    assert page.headers["location"] == "/kundencenter/login?next=/kundencenter/approvals"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/other/path", "/kundencenter\\@evil"])
async def test_after_signing_in_only_a_page_of_the_frontend_is_a_place_to_go(browser, target):
    form = await browser.get("/kundencenter/login")
    answer = await browser.post(
        "/kundencenter/login", data={"csrf": csrf_of(form), "email": "main@example.com", "next": target}
    )
    assert answer.headers["location"] == "/kundencenter/"


async def test_a_refusal_of_the_api_is_shown_in_the_users_language(browser, api):
    api.on(
        "POST", "/api/registrations", 409, {"error": {"code": "already_registered", "message": "Already registered."}}
    )
    form = await browser.get("/kundencenter/registration")
    fields = {"customer_number": "K-1", "invoice_number": "R-1", "email": "a@example.com", "first_name": "Hanna",
              "last_name": "Haupt", "language": "de"}  # fmt: skip
    answer = await browser.post("/kundencenter/registration", data={"csrf": csrf_of(form), **fields})
    assert answer.status_code == 409
    assert "Diese Firma ist bereits registriert" in answer.text
    sent = json.loads(api.sent("POST", "/api/registrations")[0].content)
    assert sent == fields


async def test_the_registration_passes_the_visitors_address_on_for_the_rate_limits(browser, api):
    api.on("POST", "/api/registrations", 202, {"id": "6f1c0c52-7f0c-4f43-9a55-4f7f4d4b0a11", "status": "verifying"})
    form = await browser.get("/kundencenter/registration")
    fields = {"customer_number": "K-1", "invoice_number": "R-1", "email": "a@example.com", "first_name": "Hanna",
              "last_name": "Haupt", "language": "en"}  # fmt: skip
    answer = await browser.post("/kundencenter/registration", data={"csrf": csrf_of(form), **fields})
    assert answer.headers["location"] == "/kundencenter/registration/6f1c0c52-7f0c-4f43-9a55-4f7f4d4b0a11"
    assert api.sent("POST", "/api/registrations")[0].headers["X-Forwarded-For"] == "127.0.0.1"


async def test_a_confirmation_link_confirms_only_on_the_button_not_on_opening(browser, api):
    rid = "6f1c0c52-7f0c-4f43-9a55-4f7f4d4b0a11"
    api.on("POST", f"/api/registrations/{rid}/confirm", json={"id": rid, "status": "completed"})
    page = await browser.get(f"/kundencenter/registration/confirm?registration={rid}&token=abc_DEF-123")
    assert page.status_code == 200
    assert api.sent("POST", f"/api/registrations/{rid}/confirm") == []
    answer = await browser.post(
        "/kundencenter/registration/confirm", data={"csrf": csrf_of(page), "registration": rid, "token": "abc_DEF-123"}
    )
    assert answer.status_code == 303
    assert json.loads(api.sent("POST", f"/api/registrations/{rid}/confirm")[0].content) == {"token": "abc_DEF-123"}


async def test_pages_are_not_cached_and_assets_are_kept_for_a_year(browser):
    page = await browser.get("/kundencenter/")
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    css = next(part.split('"')[1] for part in page.text.split("href=") if "app.css" in part.split(">")[0])
    asset = await browser.get(css)
    assert asset.status_code == 200
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"


async def test_the_language_follows_the_browser_until_the_user_chooses(browser):
    english = await browser.get("/kundencenter/", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in english.text
    switched = await browser.post("/kundencenter/language", data={"csrf": csrf_of(english), "language": "de",
                                                                 "next": "/kundencenter/"})  # fmt: skip
    assert switched.status_code == 303
    assert '<html lang="de">' in (await browser.get("/kundencenter/")).text


def test_the_development_sign_in_is_refused_in_production():
    with pytest.raises(ValueError, match="refused in production"):
        create_app(FrontendSettings(auth_mode="dev", profile="production"))


def test_production_needs_its_own_session_secret():
    settings = FrontendSettings(
        profile="production", oidc_issuer="https://idp.test", oidc_client_id="kc",
        oidc_redirect_url="https://shop.test/kundencenter/auth/callback",
    )  # fmt: skip
    with pytest.raises(ValueError, match="FRONTEND_SESSION_SECRET"):
        create_app(settings)


async def test_an_order_decision_sends_the_changed_quantities_never_prices(browser, api):
    oid = "6f1c0c52-7f0c-4f43-9a55-4f7f4d4b0a12"
    order = {
        "id": oid, "version": 3, "status": "pending_approval", "buyer": {"id": "b", "name": "Bea"},
        "approvers": [{"id": "0b6e7f3a-1c1d-4a86-9d4e-000000000001", "name": "Martha Main"}],
        "lines": [{"sku": "A-100", "description": "Schraube", "quantity": 12, "unit": "piece",
                   "unit_price": {"amount": "9.90", "currency": "EUR"}, "line_total": {"amount": "118.80", "currency": "EUR"}}],
        "total": {"amount": "118.80", "currency": "EUR"}, "total_quantity": 12,
        "delivery_address": {"name": "M", "street": "S 1", "postal_code": "1", "city": "B", "country": "DE", "additional": None},
        "billing_address": {"name": "M", "street": "S 1", "postal_code": "1", "city": "B", "country": "DE", "additional": None},
        "payment_method": "invoice", "shipping_method": "standard", "reference": "PO-1", "buyer_comment": "Rampe 3",
        "exceeded_limits": [], "budget_at_submission": {}, "decided_by": None, "modifications": [],
        "conversation": [], "timeline": [], "submitted_at": "2026-12-05T08:00:00Z",
    }  # fmt: skip
    api.on("GET", f"/api/orders/{oid}", json=order)
    api.on("POST", f"/api/orders/{oid}/approve", json=order)
    await sign_in(browser)
    page = await browser.get(f"/kundencenter/orders/{oid}")
    assert "Rampe 3" in page.text
    answer = await browser.post(f"/kundencenter/orders/{oid}/approve-changed",
                                data={"csrf": csrf_of(page), "qty-0": "8", "comment": "8 reichen"})  # fmt: skip
    assert answer.status_code == 303
    sent = json.loads(api.sent("POST", f"/api/orders/{oid}/approve")[0].content)
    assert sent["comment"] == "8 reichen"
    assert sent["modified_order"]["lines"] == [{"sku": "A-100", "quantity": 8}]
    assert sent["modified_order"]["buyer_comment"] == "Rampe 3"
    assert "additional" not in sent["modified_order"]["delivery_address"]


async def test_an_order_sent_while_a_service_is_away_keeps_the_form_and_its_idempotency_key(browser, api):
    api.on("POST", "/api/orders", 502, {"error": {"code": "bad_gateway", "message": "upstream service unavailable"}})
    await sign_in(browser)
    form = await browser.get("/kundencenter/orders/new")
    key = form.text.split('name="key" value="')[1].split('"')[0]
    fields = {"csrf": csrf_of(form), "key": key, "sku-0": "A-100", "qty-0": "12", "name": "Muster GmbH",
              "street": "Hauptstr. 1", "postal_code": "10115", "city": "Berlin", "country": "DE"}  # fmt: skip
    answer = await browser.post("/kundencenter/orders/new", data=fields)
    assert answer.status_code == 503
    assert "Der Dienst ist gerade nicht erreichbar" in answer.text
    assert 'value="A-100"' in answer.text and f'value="{key}"' in answer.text
    assert api.sent("POST", "/api/orders")[0].headers["Idempotency-Key"] == key


async def test_the_user_page_sends_roles_and_a_budget_as_the_api_takes_them(browser, api):
    uid = "6f1c0c52-7f0c-4f43-9a55-4f7f4d4b0a13"
    user = {"id": uid, "first_name": "Bea", "last_name": "Buyer", "email": "bea@example.com", "status": "active",
            "role_ids": ["buyer"], "is_main_contact": False, "language": "de",
            "budget": {"max_total_quantity": None, "max_order_value": None}}  # fmt: skip
    api.on("GET", f"/api/users/{uid}", json=user)
    api.on("GET", "/api/company", json={"approver_ids": [], "currency": "EUR"})
    api.on("GET", "/api/roles", json=[{"id": "buyer", "name": "Einkäufer"}, {"id": "approver", "name": "Freigeber"}])
    api.on("PUT", f"/api/users/{uid}/roles", json=user)
    api.on("PUT", f"/api/users/{uid}/budget", json=user)
    await sign_in(browser)
    page = await browser.get(f"/kundencenter/users/{uid}")
    csrf = csrf_of(page)
    await browser.post(f"/kundencenter/users/{uid}/roles", data={"csrf": csrf, "role_ids": ["buyer", "approver"]})
    assert json.loads(api.sent("PUT", f"/api/users/{uid}/roles")[0].content) == {"role_ids": ["buyer", "approver"]}
    await browser.post(f"/kundencenter/users/{uid}/budget", data={"csrf": csrf, "max_quantity": "10",
                                                                  "max_value": "500,50"})  # fmt: skip
    assert json.loads(api.sent("PUT", f"/api/users/{uid}/budget")[0].content) == {
        "max_total_quantity": 10, "max_order_value": {"amount": "500.50", "currency": "EUR"},
    }  # fmt: skip
    await browser.post(f"/kundencenter/users/{uid}/budget", data={"csrf": csrf, "max_quantity": "", "max_value": ""})
    assert json.loads(api.sent("PUT", f"/api/users/{uid}/budget")[1].content) == {
        "max_total_quantity": None, "max_order_value": None,
    }  # fmt: skip
    refused = await browser.post(f"/kundencenter/users/{uid}/budget", data={"csrf": csrf, "max_value": "viel"})
    assert refused.status_code == 422 and len(api.sent("PUT", f"/api/users/{uid}/budget")) == 2


@pytest.mark.parametrize(
    ("action", "form", "sent"),
    [
        ("approve", {"comment": ""}, {}),
        ("approve", {"comment": "passt"}, {"comment": "passt"}),
        ("reject", {"comment": "zu teuer"}, {"comment": "zu teuer"}),
        ("cancel", {"comment": ""}, {}),
        ("comments", {"comment": "Rückfrage"}, {"text": "Rückfrage"}),
    ],
)
async def test_each_decision_sends_what_the_api_takes_with_the_orders_version(browser, api, action, form, sent):
    oid = "6f1c0c52-7f0c-4f43-9a55-4f7f4d4b0a14"
    me = "0b6e7f3a-1c1d-4a86-9d4e-000000000001"
    order = {"id": oid, "version": 7, "status": "pending_approval", "buyer": {"id": me, "name": "Martha Main"},
             "approvers": [{"id": me, "name": "Martha Main"}], "lines": [], "total": {"amount": "0", "currency": "EUR"},
             "total_quantity": 0, "delivery_address": {}, "billing_address": {}, "payment_method": "invoice",
             "shipping_method": "standard", "reference": None, "exceeded_limits": [], "decided_by": None,
             "conversation": [], "timeline": [], "submitted_at": "2026-12-05T08:00:00Z"}  # fmt: skip
    api.on("GET", f"/api/orders/{oid}", json=order)
    path = f"/api/orders/{oid}/{action}"
    api.on("POST", path, json=order)
    await sign_in(browser)
    page = await browser.get(f"/kundencenter/orders/{oid}")
    answer = await browser.post(f"/kundencenter/orders/{oid}/{action}", data={"csrf": csrf_of(page), **form})
    assert answer.status_code == 303
    (request,) = api.sent("POST", path)
    assert json.loads(request.content) == sent
    assert request.headers["If-Match"] == '"7"'


async def test_a_rejection_without_a_reason_is_not_sent(browser, api):
    oid = "6f1c0c52-7f0c-4f43-9a55-4f7f4d4b0a15"
    order = {"id": oid, "version": 1, "status": "pending_approval", "buyer": {"id": "b", "name": "Bea"},
             "approvers": [], "lines": [], "total": {"amount": "0", "currency": "EUR"}, "total_quantity": 0,
             "delivery_address": {}, "billing_address": {}, "payment_method": "invoice", "shipping_method": "standard",
             "reference": None, "exceeded_limits": [], "decided_by": None, "conversation": [], "timeline": [],
             "submitted_at": "2026-12-05T08:00:00Z"}  # fmt: skip
    api.on("GET", f"/api/orders/{oid}", json=order)
    await sign_in(browser)
    page = await browser.get(f"/kundencenter/orders/{oid}")
    answer = await browser.post(f"/kundencenter/orders/{oid}/reject", data={"csrf": csrf_of(page), "comment": " "})
    assert answer.status_code == 422
    assert api.sent("POST", f"/api/orders/{oid}/reject") == []
