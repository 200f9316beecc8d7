"""The users HTTP API on the in-memory store, with a stand-in token verifier: status codes and bodies."""

from collections.abc import AsyncIterator

import httpx
import pytest

from kc_runtime.auth import Caller
from kc_runtime.errors import ApiError
from tests.service.users.conftest import register
from tests.support.users import erp_contact, registration, signed_in, unique_email
from users.main import create_app
from users.settings import UsersSettings


def verify(token: str) -> Caller:
    """Tokens of these tests are ``email:<address>`` (the real verifier checks JWTs against the JWKS)."""
    if not token.startswith("email:"):
        raise ApiError(401, "invalid_token", "The access token is missing, invalid or expired.")
    return signed_in(token.removeprefix("email:") or None)


def auth(email: str) -> dict[str, str]:
    return {"Authorization": f"Bearer email:{email}"}


@pytest.fixture
async def api() -> AsyncIterator[tuple[httpx.AsyncClient, object]]:
    app = create_app(
        UsersSettings(database_url="memory://", process_roles=["api"], log_format="console"), verify_token=verify
    )
    directory = app.state.runtime.app
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://users") as client:
        yield client, directory


@pytest.fixture
async def company(api):
    client, directory = api
    msg = registration(erp_contacts=[erp_contact("Carla")])
    register(directory, msg)
    return client, str(msg.main_contact.email), msg


async def test_me_tells_the_shop_what_the_caller_may_do(company):
    client, main, msg = company
    r = await client.get("/api/me", headers=auth(main.upper()))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["company"]["id"] == str(msg.company_id)
    assert body["is_main_contact"] is True
    assert "manage_users" in body["permissions"]
    assert body["budget"] == {"max_total_quantity": None, "max_order_value": None, "period_budget": None}


async def test_a_service_technician_sees_data_sheets_but_no_checkout(company):
    client, main, _ = company
    email = unique_email("tech")
    r = await client.post(
        "/api/users",
        json={"email": email, "first_name": "Tim", "last_name": "Tech", "role_ids": ["service_technician"]},
        headers=auth(main),
    )
    assert r.status_code == 201, r.text
    me = (await client.get("/api/me", headers=auth(email))).json()
    assert me["permissions"] == ["view_data_sheets"]


async def test_unknown_users_get_401_unknown_user(company):
    client, _, _ = company
    r = await client.get("/api/me", headers=auth(unique_email()))
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unknown_user"
    r = await client.get("/api/me", headers=auth(""))
    assert r.status_code == 401


async def test_requests_without_a_token_get_401(company):
    client, _, _ = company
    r = await client.get("/api/me")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_token"


async def test_a_deactivated_user_gets_403_user_inactive(company):
    client, main, _ = company
    email = unique_email()
    user = (
        await client.post("/api/users", json={"email": email, "first_name": "A", "last_name": "B"}, headers=auth(main))
    ).json()
    r = await client.post(f"/api/users/{user['id']}/deactivate", headers=auth(main))
    assert r.status_code == 200 and r.json()["status"] == "inactive"
    r = await client.get("/api/me", headers=auth(email))
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "user_inactive"


async def test_a_taken_email_is_409_email_taken(company):
    client, main, _ = company
    body = {"email": main.upper(), "first_name": "A", "last_name": "B"}
    r = await client.post("/api/users", json=body, headers=auth(main))
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "email_taken"


async def test_budgets_are_decimals_and_never_negative(company):
    client, main, _ = company
    user = (
        await client.post(
            "/api/users", json={"email": unique_email(), "first_name": "A", "last_name": "B"}, headers=auth(main)
        )
    ).json()
    ok = await client.put(
        f"/api/users/{user['id']}/budget",
        json={"max_total_quantity": 10, "max_order_value": {"amount": "1234.50", "currency": "EUR"}},
        headers=auth(main),
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["budget"] == {
        "max_total_quantity": 10,
        "max_order_value": {"amount": "1234.50", "currency": "EUR"},
        "period_budget": None,
    }
    for bad in (
        {"max_total_quantity": -1},
        {"max_order_value": {"amount": "-0.01", "currency": "EUR"}},
        {"max_order_value": {"amount": "NaN", "currency": "EUR"}},
        {"max_order_value": {"amount": "1", "currency": "euro"}},
    ):
        r = await client.put(f"/api/users/{user['id']}/budget", json=bad, headers=auth(main))
        assert r.status_code == 422, bad
        assert r.json()["error"]["code"] == "invalid_request"


async def test_if_match_guards_against_lost_updates(company):
    client, main, _ = company
    user = await client.post(
        "/api/users", json={"email": unique_email(), "first_name": "A", "last_name": "B"}, headers=auth(main)
    )
    etag = user.headers["ETag"]
    uid = user.json()["id"]
    first = await client.put(
        f"/api/users/{uid}/name", json={"first_name": "C", "last_name": "D"}, headers={**auth(main), "If-Match": etag}
    )
    assert first.status_code == 200 and first.headers["ETag"] == '"2"'
    stale = await client.put(
        f"/api/users/{uid}/name", json={"first_name": "E", "last_name": "F"}, headers={**auth(main), "If-Match": etag}
    )
    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "version_mismatch"


async def test_taking_over_an_erp_contact_twice_answers_with_the_same_user(company):
    client, main, msg = company
    contacts = (await client.get("/api/erp-contacts", headers=auth(main))).json()
    (contact,) = contacts
    assert contact["first_name"] == "Carla"
    first = await client.post(f"/api/erp-contacts/{contact['erp_contact_id']}/take-over", headers=auth(main))
    again = await client.post(f"/api/erp-contacts/{contact['erp_contact_id']}/take-over", json={}, headers=auth(main))
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["email"] == msg.erp_contacts[0].email
    assert (await client.get("/api/erp-contacts", headers=auth(main))).json() == []


async def test_roles_and_the_permission_catalogue(company):
    client, main, _ = company
    catalogue = [p["id"] for p in (await client.get("/api/roles/permissions", headers=auth(main))).json()]
    assert "view_data_sheets" in catalogue and len(catalogue) == 7
    r = await client.post(
        "/api/roles", json={"name": "Lager", "permissions": ["view_data_sheets", "view_reports"]}, headers=auth(main)
    )
    assert r.status_code == 201, r.text
    role = r.json()
    ids = [x["id"] for x in (await client.get("/api/roles", headers=auth(main))).json()]
    assert ids[:5] == ["main_contact", "buyer", "approver", "service_technician", "controller"]
    assert role["id"] in ids
    bad = await client.post("/api/roles", json={"name": "X", "permissions": ["fly"]}, headers=auth(main))
    assert bad.status_code == 422
    deleted = await client.delete(f"/api/roles/{role['id']}", headers=auth(main))
    assert deleted.status_code == 204
    assert (await client.get(f"/api/roles/{role['id']}", headers=auth(main))).status_code == 404


async def test_malformed_ids_and_bodies_get_4xx(company):
    client, main, _ = company
    assert (await client.get("/api/users/not-a-uuid", headers=auth(main))).status_code == 422
    r = await client.post("/api/users", content=b"{nope", headers={**auth(main), "Content-Type": "application/json"})
    assert r.status_code == 422
    r = await client.post(
        "/api/users",
        json={"email": "x@example.com", "first_name": "A", "last_name": "B", "admin": True},
        headers=auth(main),
    )
    assert r.status_code == 422


@pytest.mark.parametrize("field, value", [("name", "Lager\u202eregaL"), ("name", "Lager\x1b[2J"),
                                          ("description", "Liest\x07 Daten")])  # fmt: skip
async def test_a_role_name_or_description_with_control_or_bidi_characters_is_refused(company, field, value):
    client, main, _ = company
    body = {"name": "Lager", "description": "Liest Datenblätter\nund Berichte", "permissions": ["view_reports"]}
    assert (await client.post("/api/roles", json=body, headers=auth(main))).status_code == 201
    r = await client.post("/api/roles", json={**body, "name": "Lager 2", field: value}, headers=auth(main))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "invalid_characters"
