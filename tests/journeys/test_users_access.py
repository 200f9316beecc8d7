"""Who may call the users API: tokens, identity from our own state, company scoping, permissions."""

import time
from uuid import uuid4

import pytest

from tests.journeys.conftest import bearer
from tests.support.users import UsersApi, journey_fixtures, unique_email

pytestmark = pytest.mark.journey

registrar, users_api = journey_fixtures()


async def test_the_main_contact_of_a_registered_company_sees_everything_they_may_do(users_api: UsersApi):
    company = await users_api.company()
    me = (await users_api.gateway.get("/api/me", headers=company.main)).json()
    assert me["company"]["id"] == company.id
    assert me["company"]["customer_number"] == company.registration.company.customer_number
    assert me["is_main_contact"] is True
    assert me["user"]["email"] == company.main_email
    assert [r["id"] for r in me["roles"]] == ["main_contact"]
    assert set(me["permissions"]) >= {"manage_users", "manage_budgets", "approve_orders", "place_orders"}
    assert me["budget"] == {"max_total_quantity": None, "max_order_value": None, "period_budget": None}


async def test_the_email_claim_identifies_the_user_whatever_its_case(users_api: UsersApi):
    company = await users_api.company()
    shouting = await users_api.auth(company.main_email.upper())
    r = await users_api.gateway.get("/api/me", headers=shouting)
    assert r.status_code == 200
    assert r.json()["user"]["id"] == company.main_id


async def test_the_company_comes_from_our_state_not_from_the_token(users_api: UsersApi):
    company = await users_api.company()
    lying = await users_api.auth(company.main_email, company_id=str(uuid4()))
    me = (await users_api.gateway.get("/api/me", headers=lying)).json()
    assert me["company"]["id"] == company.id


async def test_a_service_technician_sees_data_sheets_but_no_checkout(users_api: UsersApi):
    company = await users_api.company()
    _, tech = await users_api.user(company, ["service_technician"])
    me = (await users_api.gateway.get("/api/me", headers=tech)).json()
    assert me["permissions"] == ["view_data_sheets"]
    assert "place_orders" not in me["permissions"]
    assert [r["id"] for r in me["roles"]] == ["service_technician"]


async def test_a_valid_token_of_an_unknown_user_gets_401_unknown_user(users_api: UsersApi):
    r = await users_api.gateway.get("/api/me", headers=await users_api.auth(unique_email()))
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unknown_user"


async def test_a_deactivated_users_still_valid_token_is_refused_at_once(users_api: UsersApi):
    company = await users_api.company()
    user, token = await users_api.user(company)
    assert (await users_api.gateway.get("/api/me", headers=token)).status_code == 200
    r = await users_api.gateway.post(f"/api/users/{user['id']}/deactivate", headers=company.main)
    assert r.status_code == 200, r.text
    refused = await users_api.gateway.get("/api/me", headers=token)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "user_inactive"
    await users_api.gateway.post(f"/api/users/{user['id']}/activate", headers=company.main)
    assert (await users_api.gateway.get("/api/me", headers=token)).status_code == 200


async def test_a_forged_token_gets_401(users_api: UsersApi):
    company = await users_api.company()
    token = company.main["Authorization"].removeprefix("Bearer ")
    header, payload, signature = token.split(".")
    forged = f"{header}.{payload}.{signature[::-1]}"
    r = await users_api.gateway.get("/api/me", headers=bearer(forged))
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_token"


async def test_an_expired_token_gets_401(users_api: UsersApi):
    company = await users_api.company()
    past = int(time.time()) - 3600
    expired = await users_api.auth(company.main_email, extra_claims={"iat": past - 60, "nbf": past - 60, "exp": past})
    r = await users_api.gateway.get("/api/me", headers=expired)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_token"


async def test_a_token_for_another_audience_gets_401(users_api: UsersApi):
    company = await users_api.company()
    r = await users_api.gateway.get("/api/me", headers=await users_api.auth(company.main_email, audience="other-app"))
    assert r.status_code == 401


async def test_no_token_gets_401(users_api: UsersApi):
    for path in ("/api/me", "/api/users", "/api/roles", "/api/company", "/api/erp-contacts", "/api/audit"):
        r = await users_api.gateway.get(path)
        assert r.status_code == 401, path


async def test_a_buyer_without_manage_users_gets_403_on_administration(users_api: UsersApi):
    company = await users_api.company()
    me, buyer = await users_api.user(company)
    main_id = company.main_id
    gw = users_api.gateway
    calls = [
        gw.get("/api/users", headers=buyer),
        gw.get(f"/api/users/{main_id}", headers=buyer),
        gw.post("/api/users", json={"email": unique_email(), "first_name": "A", "last_name": "B"}, headers=buyer),
        gw.put(f"/api/users/{me['id']}/roles", json={"role_ids": ["approver"]}, headers=buyer),
        gw.put(f"/api/users/{me['id']}/name", json={"first_name": "A", "last_name": "B"}, headers=buyer),
        gw.put(f"/api/users/{me['id']}/budget", json={"max_total_quantity": 99}, headers=buyer),
        gw.post(f"/api/users/{main_id}/deactivate", headers=buyer),
        gw.get("/api/roles", headers=buyer),
        gw.post("/api/roles", json={"name": "Mine", "permissions": ["manage_users"]}, headers=buyer),
        gw.put("/api/company/approvers", json={"user_ids": []}, headers=buyer),
        gw.get("/api/erp-contacts", headers=buyer),
        gw.get("/api/audit", headers=buyer),
    ]
    for r in [await c for c in calls]:
        assert r.status_code == 403, (r.request.method, r.request.url.path, r.text)
        assert r.json()["error"]["code"] == "missing_permission"
    handed = await gw.post("/api/company/main-contact", json={"user_id": me["id"]}, headers=buyer)
    assert (handed.status_code, handed.json()["error"]["code"]) == (403, "main_contact_only")
    # what every user may read
    assert (await gw.get("/api/me", headers=buyer)).status_code == 200
    assert (await gw.get("/api/company", headers=buyer)).status_code == 200
    assert (await gw.get("/api/company/approvers", headers=buyer)).status_code == 200


async def test_any_id_of_another_company_is_not_found(users_api: UsersApi):
    a, b = await users_api.company(), await users_api.company()
    theirs, _ = await users_api.user(b)
    role = (
        await users_api.gateway.post(
            "/api/roles", json={"name": "B-Rolle", "permissions": ["view_reports"]}, headers=b.main
        )
    ).json()
    gw, mine = users_api.gateway, a.main
    uid = theirs["id"]
    calls = [
        gw.get(f"/api/users/{uid}", headers=mine),
        gw.put(f"/api/users/{uid}/name", json={"first_name": "X", "last_name": "Y"}, headers=mine),
        gw.put(f"/api/users/{uid}/email", json={"email": unique_email()}, headers=mine),
        gw.post(f"/api/users/{uid}/activate", headers=mine),
        gw.post(f"/api/users/{uid}/deactivate", headers=mine),
        gw.put(f"/api/users/{uid}/budget", json={"max_total_quantity": 1}, headers=mine),
        gw.put(f"/api/users/{uid}/roles", json={"role_ids": ["buyer"]}, headers=mine),
        gw.put("/api/company/approvers", json={"user_ids": [uid]}, headers=mine),
        gw.post("/api/company/main-contact", json={"user_id": uid}, headers=mine),
        gw.get(f"/api/roles/{role['id']}", headers=mine),
        gw.put(f"/api/roles/{role['id']}", json={"name": "Z", "permissions": ["view_reports"]}, headers=mine),
        gw.delete(f"/api/roles/{role['id']}", headers=mine),
        gw.get(f"/api/users/{b.main_id}", headers=mine),
    ]
    missing = await gw.get(f"/api/users/{uuid4()}", headers=mine)
    for r in [await c for c in calls]:
        assert r.status_code == 404, (r.request.method, r.request.url.path, r.text)
        assert r.json() == missing.json()
    ids = {u["id"] for u in (await gw.get("/api/users", headers=mine)).json()["items"]}
    assert uid not in ids and b.main_id not in ids
    r = await gw.get("/api/audit", params={"subject_id": uid}, headers=mine)
    assert r.json()["items"] == []
    # and nothing changed over there
    assert (await gw.get(f"/api/users/{uid}", headers=b.main)).json()["version"] == theirs["version"]
