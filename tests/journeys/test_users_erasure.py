"""Erasing a user through the whole stack (ADR 0035): only the main contact of the user's own company erases, and
only a deactivated user who is neither themselves nor the main contact; the key is gone from users' database and
its internal endpoint, ``UserErased`` reaches the users topic without personal data, the other services go on,
and the internal endpoint is never reachable through the gateway."""

from __future__ import annotations

import json
import os
from typing import Any
from uuid import uuid4

import httpx
import psycopg
import pytest

from contracts import Headers
from contracts.topics import USERS_USERS
from tests.conftest import eventually
from tests.support.erasure import found_in_tables
from tests.support.infra import GATEWAY, KAFKA, dsn_for
from tests.support.users import UsersApi, journey_fixtures, read_records

pytestmark = pytest.mark.journey

registrar, users_api = journey_fixtures()

USERS = os.environ.get("KC_TEST_USERS", "http://127.0.0.1:8102")
INTERNAL_TOKEN = os.environ.get("KC_TEST_USERS_INTERNAL_TOKEN", "development-only-users-internal-token")
INTERNAL = {"Authorization": f"Bearer {INTERNAL_TOKEN}"}


async def person_key(user_id: str) -> httpx.Response:
    """users' internal endpoint on its own port, as another service calls it."""
    async with httpx.AsyncClient(base_url=USERS, timeout=10) as client:
        return await client.get(f"/internal/person-keys/{user_id}", headers=INTERNAL)


def key_row(user_id: str) -> tuple[Any, ...] | None:
    with psycopg.connect(dsn_for("users"), connect_timeout=10) as conn:
        return conn.execute("SELECT key, erased_at FROM person_keys WHERE user_id = %s", (user_id,)).fetchone()


def approval_member_events(user_id: str) -> list[str]:
    """The topics of the events approval stored for its member of the person, in order."""
    with psycopg.connect(dsn_for("approval"), connect_timeout=10) as conn:
        rows = conn.execute(
            "SELECT topic FROM orders_events WHERE originator_id = %s ORDER BY originator_version", (user_id,)
        ).fetchall()
    return [r[0] for r in rows]


def code(r: httpx.Response) -> tuple[int, str | None]:
    return r.status_code, r.json()["error"]["code"] if r.status_code >= 400 else None


async def test_only_the_main_contact_of_the_company_erases_a_deactivated_user_and_the_key_is_gone(
    users_api: UsersApi,
):
    gw = users_api.gateway
    company, other = await users_api.company(), await users_api.company()
    role = await gw.post("/api/roles", json={"name": "Benutzerverwaltung", "permissions": ["manage_users"]},
                         headers=company.main)  # fmt: skip
    assert role.status_code == 201, role.text
    admin, admin_auth = await users_api.user(company, [role.json()["id"]])
    last_name = f"Gelöscht{uuid4().hex[:10]}"  # this person's own marker: no other test names anyone so
    target, target_auth = await users_api.user(company, first_name="Gerda", last_name=last_name)
    buyer, buyer_auth = await users_api.user(company)
    url = f"/api/users/{target['id']}/erasure"
    live = await person_key(target["id"])
    assert live.status_code == 200 and len(live.json()["key"]) == 43  # 32 bytes, base64url without padding

    # an active user is not erased, not even by the main contact
    assert code(await gw.post(url, headers=company.main)) == (409, "user_not_deactivated")
    # the target themselves, while still active: neither main contact nor allowed on themselves
    assert code(await gw.post(url, headers=target_auth)) == (403, "main_contact_only")
    deactivated = await gw.post(f"/api/users/{target['id']}/deactivate", headers=company.main)
    assert deactivated.status_code == 200, deactivated.text

    # with their own valid tokens: an administrator who is not the main contact, a buyer, another company's main
    # contact; and the main contact on themselves (who is the main contact, too)
    assert code(await gw.post(url, headers=admin_auth)) == (403, "main_contact_only")
    assert code(await gw.post(url, headers=buyer_auth)) == (403, "main_contact_only")
    assert code(await gw.post(url, headers=other.main)) == (404, "not_found")
    main_url = f"/api/users/{company.main_id}/erasure"
    assert code(await gw.post(main_url, headers=company.main)) == (409, "cannot_erase_self")
    assert code(await gw.post(main_url, headers=admin_auth)) == (403, "main_contact_only")
    assert code(await gw.post(f"/api/users/{admin['id']}/erasure", headers=admin_auth)) == (403, "main_contact_only")
    assert (await person_key(target["id"])).json() == live.json()  # nothing refused touched the key

    erased = await gw.post(url, headers=company.main)
    assert erased.status_code == 200, erased.text
    body = erased.json()
    assert (body["erased"], body["email"], body["first_name"], body["last_name"]) == (True, None, None, None)
    again = await gw.post(url, headers=company.main)
    assert again.status_code == 200 and again.json() == body
    shown = (await gw.get(f"/api/users/{target['id']}", headers=company.main)).json()
    assert shown["erased"] is True and shown["email"] is None
    assert "Gerda" not in (await gw.get("/api/audit", params={"subject_id": target["id"]}, headers=company.main)).text

    assert code(await person_key(target["id"])) == (410, "person_erased")
    row = key_row(target["id"])
    assert row is not None and row[0] is None and row[1] is not None
    assert (await person_key(buyer["id"])).status_code == 200  # the others keep theirs
    # users' events hold the names and the address sealed with the destroyed key: no table of users' database —
    # the event store included — holds them in any form
    assert await found_in_tables(dsn_for("users"), [last_name, target["email"]], skip=set()) == []
    assert key_row(company.main_id) is not None

    async def published() -> list[Any] | None:
        records = await read_records(KAFKA, USERS_USERS.name, company.id.encode())
        found = [r for r in records if dict(r.headers)[Headers.EVENT_TYPE] == b"UserErased"]
        return found or None

    (record,) = await eventually(published, what="UserErased on users.users.v1")
    assert json.loads(record.value) == {
        "user_id": target["id"],
        "company_id": company.id,
        "erased_at": json.loads(record.value)["erased_at"],
        "changed_by": company.main_id,
    }
    assert b"Gerda" not in record.value and target["email"].encode() not in record.value

    # approval's read fence waits until it has applied every users event of the company: it answers only after
    # it consumed the erasure — its member of the person is erased (Member.Erased: names and e-mail forgotten, the
    # id kept for the audit) — and nothing went to the dead-letter topic
    assert (await gw.get("/api/orders", headers=company.main)).status_code == 200
    assert approval_member_events(target["id"])[-1] == "approval.domain.members:Member.Erased"
    assert await read_records(KAFKA, USERS_USERS.dlt, company.id.encode()) == []


async def test_the_internal_endpoint_is_not_reachable_through_the_gateway(users_api: UsersApi):
    company = await users_api.company()
    user_id = company.main_id
    assert (await person_key(user_id)).status_code == 200
    async with httpx.AsyncClient(base_url=GATEWAY, timeout=10) as client:
        for path in (f"/internal/person-keys/{user_id}", f"/api/../internal/person-keys/{user_id}",
                     f"/api/users/../../internal/person-keys/{user_id}", f"/%69nternal/person-keys/{user_id}"):  # fmt: skip
            for headers in (INTERNAL, company.main):
                r = await client.get(path, headers=headers)
                assert r.status_code in (400, 404), (path, r.status_code, r.text)
                assert '"key"' not in r.text


async def test_the_internal_endpoint_needs_the_service_token_on_users_own_port(users_api: UsersApi):
    company = await users_api.company()
    async with httpx.AsyncClient(base_url=USERS, timeout=10) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, company.main):
            r = await client.get(f"/internal/person-keys/{company.main_id}", headers=headers)
            assert code(r) == (401, "invalid_internal_token"), headers
