"""Names, references and comments refuse control and bidi-override characters with 422 invalid_characters, through
the gateway and on the services' own ports (where nothing else is in front of them)."""

from __future__ import annotations

import httpx
import pytest

from tests.support.orders import order_body
from tests.support.users import UsersApi, journey_fixtures, unique_email

pytestmark = pytest.mark.journey

registrar, users_api = journey_fixtures()

USERS = "http://127.0.0.1:8102"
APPROVAL = "http://127.0.0.1:8103"
REGISTRATION = "http://127.0.0.1:8101"
BAD = ["Anna\u202eanegav", "Anna\x1b[2J", "Anna\x07", "PO-1\r\nBcc: x@example.com", "A\u2066B"]


def refused(r: httpx.Response) -> bool:
    assert r.status_code == 422, r.text
    body = r.json()["error"]
    assert body["code"] == "invalid_characters", body
    return any(d.get("type") == "control_character" for d in body["details"])


@pytest.mark.parametrize("name", BAD)
async def test_a_users_name_with_control_or_bidi_characters_is_refused(users_api: UsersApi, name):
    company = await users_api.company()
    body = {"email": unique_email(), "first_name": name, "last_name": "Muster"}
    assert refused(await users_api.gateway.post("/api/users", json=body, headers=company.main))
    async with httpx.AsyncClient(base_url=USERS, timeout=10) as direct:
        assert refused(await direct.post("/api/users", json=body, headers=company.main))
    user, _ = await users_api.user(company)
    renamed = await users_api.gateway.put(
        f"/api/users/{user['id']}/name", json={"first_name": "Bea", "last_name": name}, headers=company.main
    )
    assert refused(renamed)


async def test_an_order_reference_or_comment_with_control_characters_is_refused(users_api: UsersApi):
    company = await users_api.company()
    order = order_body()
    for field, value in (("reference", "PO-1\r\nBcc: x@example.com"), ("buyer_comment", "ok\x1b[2J"),
                         ("reference", "PO\u202e1")):  # fmt: skip
        body = {**order, field: value}
        assert refused(await users_api.gateway.post("/api/orders", json=body, headers=company.main))
        async with httpx.AsyncClient(base_url=APPROVAL, timeout=10) as direct:
            assert refused(await direct.post("/api/orders", json=body, headers=company.main))


async def test_a_comment_may_have_line_breaks(users_api: UsersApi):
    company = await users_api.company()
    order = order_body()
    r = await users_api.gateway.post(
        "/api/orders/evaluate", json={**order, "buyer_comment": "Rampe 3\nbitte anrufen"}, headers=company.main
    )
    assert r.status_code == 200, r.text


async def test_a_registrations_name_with_a_bidi_override_is_refused():
    body = {"customer_number": "10001", "invoice_number": "R-1", "email": unique_email(),
            "first_name": "Anna\u202e", "last_name": "Muster"}  # fmt: skip
    async with httpx.AsyncClient(base_url=REGISTRATION, timeout=10) as direct:
        r = await direct.post("/api/registrations", json=body)
    assert r.status_code == 422
