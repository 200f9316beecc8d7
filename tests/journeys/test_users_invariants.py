"""The rules of user administration hold through the gateway, also when requests race."""

import asyncio

import pytest

from tests.support.users import UsersApi, journey_fixtures, unique_email

pytestmark = pytest.mark.journey

registrar, users_api = journey_fixtures()


async def test_an_email_is_unique_across_all_companies_whatever_its_case(users_api: UsersApi):
    a, b = await users_api.company(), await users_api.company()
    user, _ = await users_api.user(a)
    gw = users_api.gateway
    taken = await gw.post(
        "/api/users", json={"email": user["email"].upper(), "first_name": "X", "last_name": "Y"}, headers=b.main
    )
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "email_taken"
    other, _ = await users_api.user(b)
    changed = await gw.put(f"/api/users/{other['id']}/email", json={"email": a.main_email}, headers=b.main)
    assert changed.status_code == 409 and changed.json()["error"]["code"] == "email_taken"


async def test_racing_creations_of_one_email_create_one_user(users_api: UsersApi):
    a, b = await users_api.company(), await users_api.company()
    email = unique_email("race")
    bodies = [{"email": email if i % 2 else email.upper(), "first_name": "R", "last_name": f"{i}"} for i in range(8)]
    responses = await asyncio.gather(
        *(users_api.gateway.post("/api/users", json=body, headers=(a, b)[i % 2].main) for i, body in enumerate(bodies))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 7, [r.text for r in responses]
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"email_taken"}


async def test_the_main_contact_is_never_deactivated(users_api: UsersApi):
    company = await users_api.company()
    admin_role = (
        await users_api.gateway.post(
            "/api/roles", json={"name": "Verwaltung", "permissions": ["manage_users"]}, headers=company.main
        )
    ).json()
    _, admin = await users_api.user(company, [admin_role["id"]])
    r = await users_api.gateway.post(f"/api/users/{company.main_id}/deactivate", headers=admin)
    assert r.status_code == 403 and r.json()["error"]["code"] == "main_contact_only"
    me = await users_api.gateway.get("/api/me", headers=company.main)
    assert me.status_code == 200


async def test_nobody_deactivates_themselves(users_api: UsersApi):
    company = await users_api.company()
    admin_role = (
        await users_api.gateway.post(
            "/api/roles", json={"name": "Verwaltung", "permissions": ["manage_users"]}, headers=company.main
        )
    ).json()
    admin_user, admin = await users_api.user(company, [admin_role["id"]])
    r = await users_api.gateway.post(f"/api/users/{admin_user['id']}/deactivate", headers=admin)
    assert r.status_code == 409 and r.json()["error"]["code"] == "cannot_deactivate_self"
    own = await users_api.gateway.post(f"/api/users/{company.main_id}/deactivate", headers=company.main)
    assert own.status_code == 409 and own.json()["error"]["code"] == "cannot_deactivate_self"


async def test_the_main_contact_role_is_only_handed_on_by_a_transfer(users_api: UsersApi):
    company = await users_api.company()
    user, _ = await users_api.user(company)
    gw = users_api.gateway
    r = await gw.put(f"/api/users/{user['id']}/roles", json={"role_ids": ["main_contact"]}, headers=company.main)
    assert r.status_code == 422 and r.json()["error"]["code"] == "main_contact_role_reserved"
    created = await gw.post(
        "/api/users",
        json={"email": unique_email(), "first_name": "A", "last_name": "B", "role_ids": ["main_contact"]},
        headers=company.main,
    )
    assert created.status_code == 422
    # nobody changes their own roles, the main contact included: the role stays with them
    mine = await gw.put(f"/api/users/{company.main_id}/roles", json={"role_ids": ["buyer"]}, headers=company.main)
    assert (mine.status_code, mine.json()["error"]["code"]) == (403, "cannot_change_own_roles")
    mains = (await gw.get("/api/users", params={"role": "main_contact"}, headers=company.main)).json()
    assert mains["total"] == 1


async def test_the_main_contact_role_goes_to_active_users_only(users_api: UsersApi):
    company = await users_api.company()
    user, _ = await users_api.user(company)
    gw = users_api.gateway
    await gw.post(f"/api/users/{user['id']}/deactivate", headers=company.main)
    r = await gw.post("/api/company/main-contact", json={"user_id": user["id"]}, headers=company.main)
    assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_transfer"
    self_transfer = await gw.post("/api/company/main-contact", json={"user_id": company.main_id}, headers=company.main)
    assert self_transfer.status_code == 409


async def test_approvers_are_active_and_hold_the_approve_permission(users_api: UsersApi):
    company = await users_api.company()
    gw = users_api.gateway
    buyer, _ = await users_api.user(company, ["buyer"])
    inactive, _ = await users_api.user(company, ["approver"])
    await gw.post(f"/api/users/{inactive['id']}/deactivate", headers=company.main)
    for user_id in (buyer["id"], inactive["id"]):
        r = await gw.put("/api/company/approvers", json={"user_ids": [user_id]}, headers=company.main)
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_approver"
    assert (await gw.get("/api/company", headers=company.main)).json()["approver_ids"] == []


async def test_an_approver_leaves_the_list_when_deactivated_or_losing_the_permission(users_api: UsersApi):
    company = await users_api.company()
    gw = users_api.gateway
    a, _ = await users_api.user(company, ["approver"])
    b, _ = await users_api.user(company, ["approver"])
    c, _ = await users_api.user(company, ["approver"])
    await gw.put("/api/company/approvers", json={"user_ids": [a["id"], b["id"], c["id"]]}, headers=company.main)
    await gw.post(f"/api/users/{a['id']}/deactivate", headers=company.main)
    await gw.put(f"/api/users/{b['id']}/roles", json={"role_ids": ["buyer"]}, headers=company.main)
    assert (await gw.get("/api/company", headers=company.main)).json()["approver_ids"] == [c["id"]]
    removed = (await gw.get("/api/audit", params={"subject_id": company.id}, headers=company.main)).json()["items"]
    reasons = [e["details"]["reason"] for e in removed if e["action"] == "company.approver_removed"]
    assert reasons == ["approve_permission_lost", "approver_deactivated"]


async def test_racing_approver_naming_and_deactivation_never_leave_an_inactive_approver(users_api: UsersApi):
    company = await users_api.company()
    gw = users_api.gateway
    for _ in range(5):
        user, _ = await users_api.user(company, ["approver"])
        await asyncio.gather(
            gw.put("/api/company/approvers", json={"user_ids": [user["id"]]}, headers=company.main),
            gw.post(f"/api/users/{user['id']}/deactivate", headers=company.main),
        )
        company_now = (await gw.get("/api/company", headers=company.main)).json()
        state = (await gw.get(f"/api/users/{user['id']}", headers=company.main)).json()["status"]
        assert not (state == "inactive" and user["id"] in company_now["approver_ids"])


async def test_budgets_are_never_negative_and_never_floats_in_disguise(users_api: UsersApi):
    company = await users_api.company()
    user, _ = await users_api.user(company)
    for bad in (
        {"max_total_quantity": -1},
        {"max_total_quantity": 1.5},
        {"max_order_value": {"amount": "-1.00", "currency": "EUR"}},
        {"max_order_value": {"amount": "Infinity", "currency": "EUR"}},
        {"max_order_value": {"amount": "10.00"}},
    ):
        r = await users_api.gateway.put(f"/api/users/{user['id']}/budget", json=bad, headers=company.main)
        assert r.status_code == 422, bad
    ok = await users_api.gateway.put(
        f"/api/users/{user['id']}/budget",
        json={"max_total_quantity": 0, "max_order_value": {"amount": "0.10", "currency": "EUR"}},
        headers=company.main,
    )
    assert ok.json()["budget"] == {
        "max_total_quantity": 0,
        "max_order_value": {"amount": "0.10", "currency": "EUR"},
        "period_budget": None,
    }
