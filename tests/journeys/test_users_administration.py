"""The main contact runs the company's accounts through the gateway: users, roles, budgets, approvers, ERP
contacts, the main-contact transfer and the audit log."""

import pytest

from tests.support.users import UsersApi, erp_contact, journey_fixtures, subject_of, unique_email

pytestmark = pytest.mark.journey

registrar, users_api = journey_fixtures()


async def test_a_user_is_created_read_renamed_and_given_a_new_email(users_api: UsersApi):
    company = await users_api.company()
    gw = users_api.gateway
    email = unique_email("anna")
    created = await gw.post(
        "/api/users",
        json={"email": email, "first_name": "Anna", "last_name": "Alt", "language": "en", "role_ids": ["buyer"]},
        headers=company.main,
    )
    assert created.status_code == 201, created.text
    user = created.json()
    assert created.headers["Location"] == f"/api/users/{user['id']}"
    assert (user["status"], user["language"], user["company_id"]) == ("active", "en", company.id)
    assert (await gw.get(f"/api/users/{user['id']}", headers=company.main)).json() == user

    renamed = await gw.put(
        f"/api/users/{user['id']}/name",
        json={"first_name": "Anna", "last_name": "Neu"},
        headers={**company.main, "If-Match": created.headers["ETag"]},
    )
    assert renamed.status_code == 200 and renamed.json()["last_name"] == "Neu"

    anna = await users_api.auth(email)
    assert (await gw.get("/api/me", headers=anna)).status_code == 200  # Anna's first sign-in binds her account
    new_email = unique_email("anna.neu")
    changed = await users_api.change_email(user["id"], new_email, by=company.main)
    assert changed["email"] == new_email
    # Anna's account at the identity provider now carries the new address
    me = await gw.get("/api/me", headers=await users_api.auth(new_email, sub=subject_of(anna)))
    assert me.status_code == 200 and me.json()["user"]["id"] == user["id"]
    assert me.json()["user"]["email"] == new_email


async def test_users_are_listed_filtered_by_status_and_role_and_paged(users_api: UsersApi):
    company = await users_api.company()
    gw = users_api.gateway
    buyers = [(await users_api.user(company, ["buyer"], last_name=f"Buyer{i}"))[0] for i in range(3)]
    approver, _ = await users_api.user(company, ["approver"], last_name="Approver")
    await gw.post(f"/api/users/{buyers[0]['id']}/deactivate", headers=company.main)

    async def ids(**params):
        body = (await gw.get("/api/users", params=params, headers=company.main)).json()
        return body["total"], [u["id"] for u in body["items"]]

    assert (await ids())[0] == 5
    assert await ids(role="approver") == (1, [approver["id"]])
    assert await ids(status="inactive") == (1, [buyers[0]["id"]])
    assert (await ids(status="active", role="buyer"))[0] == 2
    total, first_page = await ids(limit=2, offset=0)
    _, second_page = await ids(limit=2, offset=2)
    _, last_page = await ids(limit=2, offset=4)
    assert total == 5 and len(first_page) == 2 and len(second_page) == 2 and len(last_page) == 1
    assert len(set(first_page + second_page + last_page)) == 5
    bad = await gw.get("/api/users", params={"status": "sleeping"}, headers=company.main)
    assert bad.status_code == 422


async def test_users_are_deactivated_and_activated(users_api: UsersApi):
    company = await users_api.company()
    user, _ = await users_api.user(company)
    gw = users_api.gateway
    off = await gw.post(f"/api/users/{user['id']}/deactivate", headers=company.main)
    assert off.json()["status"] == "inactive"
    on = await gw.post(f"/api/users/{user['id']}/activate", headers=company.main)
    assert on.json()["status"] == "active"


async def test_a_budget_is_set_and_unset_and_shown_to_the_buyer(users_api: UsersApi):
    company = await users_api.company()
    user, token = await users_api.user(company)
    gw = users_api.gateway
    budget = {"max_total_quantity": 50, "max_order_value": {"amount": "2500.00", "currency": "EUR"}}
    r = await gw.put(f"/api/users/{user['id']}/budget", json=budget, headers=company.main)
    shown = {**budget, "period_budget": None}
    assert r.status_code == 200 and r.json()["budget"] == shown
    assert (await gw.get("/api/me", headers=token)).json()["budget"] == shown
    r = await gw.put(f"/api/users/{user['id']}/budget", json={}, headers=company.main)
    assert r.json()["budget"] == {"max_total_quantity": None, "max_order_value": None, "period_budget": None}


async def test_roles_are_set_and_custom_roles_built_from_the_catalogue(users_api: UsersApi):
    company = await users_api.company()
    user, token = await users_api.user(company)
    gw = users_api.gateway
    catalogue = [p["id"] for p in (await gw.get("/api/roles/permissions", headers=company.main)).json()]
    assert set(catalogue) == {
        "place_orders",
        "approve_orders",
        "view_company_orders",
        "manage_users",
        "manage_budgets",
        "view_data_sheets",
        "view_reports",
    }
    predefined = [r["id"] for r in (await gw.get("/api/roles", headers=company.main)).json() if r["predefined"]]
    assert predefined == ["main_contact", "buyer", "approver", "service_technician", "controller"]

    role = await gw.post(
        "/api/roles",
        json={
            "name": "Einkauf Lager",
            "description": "Lager und Berichte",
            "permissions": ["place_orders", "view_reports"],
        },
        headers=company.main,
    )
    assert role.status_code == 201, role.text
    role_id = role.json()["id"]
    r = await gw.put(f"/api/users/{user['id']}/roles", json={"role_ids": [role_id, "controller"]}, headers=company.main)
    assert r.status_code == 200, r.text
    assert r.json()["permissions"] == ["place_orders", "view_company_orders", "view_reports"]

    changed = await gw.put(
        f"/api/roles/{role_id}",
        json={"name": "Einkauf Lager", "permissions": ["view_data_sheets"]},
        headers=company.main,
    )
    assert changed.status_code == 200
    me = (await gw.get("/api/me", headers=token)).json()
    assert me["permissions"] == ["view_company_orders", "view_data_sheets", "view_reports"]
    assert {r["id"] for r in me["roles"]} == {role_id, "controller"}

    in_use = await gw.delete(f"/api/roles/{role_id}", headers=company.main)
    assert in_use.status_code == 409 and in_use.json()["error"]["code"] == "role_in_use"
    await gw.put(f"/api/users/{user['id']}/roles", json={"role_ids": ["buyer"]}, headers=company.main)
    assert (await gw.delete(f"/api/roles/{role_id}", headers=company.main)).status_code == 204
    unknown = await gw.put(f"/api/users/{user['id']}/roles", json={"role_ids": [role_id]}, headers=company.main)
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_role"


async def test_custom_role_names_are_unique_in_a_company(users_api: UsersApi):
    company = await users_api.company()
    gw = users_api.gateway
    body = {"name": "Technik", "permissions": ["view_data_sheets"]}
    assert (await gw.post("/api/roles", json=body, headers=company.main)).status_code == 201
    again = await gw.post("/api/roles", json={**body, "name": "technik"}, headers=company.main)
    assert again.status_code == 409 and again.json()["error"]["code"] == "role_name_taken"
    predefined = await gw.post("/api/roles", json={**body, "name": "Buyer"}, headers=company.main)
    assert predefined.status_code == 422


async def test_approvers_are_named_and_none_means_the_main_contact_decides(users_api: UsersApi):
    company = await users_api.company()
    gw = users_api.gateway
    before = (await gw.get("/api/company/approvers", headers=company.main)).json()
    assert before["approvers"] == [] and before["main_contact_decides"] is True
    assert before["main_contact"]["id"] == company.main_id
    a, _ = await users_api.user(company, ["approver"])
    b, _ = await users_api.user(company, ["buyer", "approver"])
    r = await gw.put("/api/company/approvers", json={"user_ids": [a["id"], b["id"]]}, headers=company.main)
    assert r.status_code == 200, r.text
    assert [u["id"] for u in r.json()["approvers"]] == [a["id"], b["id"]]
    assert r.json()["main_contact_decides"] is False
    assert (await gw.get("/api/company", headers=company.main)).json()["approver_ids"] == [a["id"], b["id"]]
    cleared = await gw.put("/api/company/approvers", json={"user_ids": []}, headers=company.main)
    assert cleared.json()["main_contact_decides"] is True


async def test_erp_contacts_that_are_not_users_yet_are_taken_over_once(users_api: UsersApi):
    known, already, without_email = erp_contact("Carla"), erp_contact("Dora"), erp_contact("Emil", email=None)
    company = await users_api.company(erp_contacts=[known, already, without_email])
    gw = users_api.gateway
    await users_api.user(company, email=already.email)
    listed = (await gw.get("/api/erp-contacts", headers=company.main)).json()
    assert {c["erp_contact_id"] for c in listed} == {known.erp_contact_id, without_email.erp_contact_id}

    first = await gw.post(f"/api/erp-contacts/{known.erp_contact_id}/take-over", headers=company.main)
    assert first.status_code == 201, first.text
    user = first.json()
    assert (user["email"], user["first_name"], user["last_name"]) == (known.email, "Carla", known.last_name)
    assert user["erp_contact_id"] == known.erp_contact_id and user["role_ids"] == ["buyer"]
    again = await gw.post(f"/api/erp-contacts/{known.erp_contact_id}/take-over", headers=company.main)
    assert again.status_code == 200 and again.json()["id"] == user["id"]

    needs_email = await gw.post(f"/api/erp-contacts/{without_email.erp_contact_id}/take-over", headers=company.main)
    assert needs_email.status_code == 422 and needs_email.json()["error"]["code"] == "email_required"
    given = await gw.post(
        f"/api/erp-contacts/{without_email.erp_contact_id}/take-over",
        json={"email": unique_email("emil"), "role_ids": ["service_technician"]},
        headers=company.main,
    )
    assert given.status_code == 201 and given.json()["permissions"] == ["view_data_sheets"]
    assert (await gw.get("/api/erp-contacts", headers=company.main)).json() == []
    missing = await gw.post("/api/erp-contacts/C-does-not-exist/take-over", headers=company.main)
    assert missing.status_code == 404


async def test_the_main_contact_role_is_transferred_to_another_active_user(users_api: UsersApi):
    company = await users_api.company()
    gw = users_api.gateway
    successor, successor_token = await users_api.user(company, ["buyer"])
    r = await gw.post("/api/company/main-contact", json={"user_id": successor["id"]}, headers=company.main)
    assert r.status_code == 200, r.text
    assert r.json()["main_contact_id"] == successor["id"]
    new_me = (await gw.get("/api/me", headers=successor_token)).json()
    assert new_me["is_main_contact"] is True and "manage_users" in new_me["permissions"]
    old_me = (await gw.get("/api/me", headers=company.main)).json()
    assert old_me["is_main_contact"] is False and old_me["user"]["role_ids"] == ["buyer"]
    mains = (await gw.get("/api/users", params={"role": "main_contact"}, headers=successor_token)).json()
    assert [u["id"] for u in mains["items"]] == [successor["id"]]
    # the former main contact has no say any more
    again = await gw.post("/api/company/main-contact", json={"user_id": company.main_id}, headers=company.main)
    assert again.status_code == 403


async def test_the_audit_log_says_who_changed_what_about_whom_and_when(users_api: UsersApi):
    company = await users_api.company()
    gw = users_api.gateway
    user, _ = await users_api.user(company)
    await gw.put(
        f"/api/users/{user['id']}/name", json={"first_name": "Berta", "last_name": "Neu"}, headers=company.main
    )
    await gw.put(f"/api/users/{user['id']}/budget", json={"max_total_quantity": 7}, headers=company.main)
    await gw.post(f"/api/users/{user['id']}/deactivate", headers=company.main)

    about = (await gw.get("/api/audit", params={"subject_id": user["id"]}, headers=company.main)).json()["items"]
    assert [e["action"] for e in about] == ["user.deactivated", "user.budget_set", "user.renamed", "user.created"]
    assert {e["actor_id"] for e in about} == {company.main_id}
    assert about[2]["details"] == {"first_name": "Berta", "last_name": "Neu"}
    assert about[1]["details"]["budget"]["max_total_quantity"] == 7
    assert all(e["at"] for e in about)

    everything = (await gw.get("/api/audit", params={"limit": 2}, headers=company.main)).json()
    assert len(everything["items"]) == 2 and everything["next_before"] == everything["items"][-1]["seq"]
    older = (await gw.get("/api/audit", params={"before": everything["next_before"]}, headers=company.main)).json()
    actions = [e["action"] for e in everything["items"] + older["items"]]
    assert actions[-2:] == ["user.created", "company.created"]
    assert older["items"][-1]["actor_id"] is None  # created by the registration, not by a person
