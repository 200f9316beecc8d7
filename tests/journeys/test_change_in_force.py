"""Delegation without escalation and "a change is in force when it is acknowledged", through the gateway.

- Attack 1 of issue 13: a user holding only ``manage_users`` defines an all-permission role, gives it to
  themselves, sets their own budget — each refused with a clear code (every cell of the rules:
  ``tests/service/users/test_permission_matrix.py``).
- Once users answered a deactivation, a lowered budget, a change of roles or a new user, the very next request
  from the same client to approval is judged on the new state: users answers only after its relay published the
  change, and approval fences on the users topics before it judges a caller (ADR 0012). Each is repeated 200
  times.
"""

from __future__ import annotations

import time
from typing import Any
from uuid import uuid4

import httpx
import pytest

from tests.support.orders import order_body
from tests.support.security import error_code
from tests.support.shop import Shop
from tests.support.users import UsersApi, journey_fixtures

pytestmark = pytest.mark.journey

registrar, users_api = journey_fixtures()

REPETITIONS = 200
ALL_PERMISSIONS = [
    "place_orders",
    "approve_orders",
    "view_company_orders",
    "manage_users",
    "manage_budgets",
    "view_data_sheets",
    "view_reports",
]


@pytest.fixture
async def shop(users_api: UsersApi) -> Shop:
    return Shop(users_api, await users_api.company())


async def _at_approval(shop: Shop, method: str, path: str, headers: dict[str, str], body: Any = None) -> httpx.Response:
    """One request to approval as a shop sends it: an answer 503 ``service_unavailable`` (approval had not read the
    users topics up to the change within its fence timeout, and refused to judge on an older state, ADR 0012) is
    sent again, as its Retry-After asks; any other answer is returned. A slow consumer delays the answer, never
    lets a stale state through: the assertions judge the first answer that is not a 503."""
    deadline = time.monotonic() + 60
    while True:
        r = await shop.gw.request(method, path, json=body, headers=headers)
        if r.status_code != 503 or error_code(r.json()) != "service_unavailable" or time.monotonic() > deadline:
            return r


async def _role(shop: Shop, permissions: list[str], headers: dict[str, str] | None = None) -> Any:
    body = {"name": f"Rolle {uuid4().hex[:8]}", "permissions": permissions}
    return await shop.gw.post("/api/roles", json=body, headers=headers or shop.main)


async def _admin(shop: Shop, permissions: list[str]) -> tuple[dict[str, Any], dict[str, str]]:
    r = await _role(shop, permissions)
    assert r.status_code == 201, r.text
    user, headers = await shop.api.user(shop.company, [r.json()["id"]])
    return user, headers


# ---- delegation without escalation ----------------------------------------------------------------------------


async def test_a_user_manager_cannot_escalate_through_a_custom_role(shop: Shop):
    me, mine = await _admin(shop, ["manage_users"])
    gw = shop.gw

    everything = await _role(shop, ALL_PERMISSIONS, headers=mine)
    assert (everything.status_code, error_code(everything.json())) == (403, "cannot_grant_unheld_permission")
    assert {d["permission"] for d in everything.json()["error"]["details"]} == set(ALL_PERMISSIONS) - {"manage_users"}

    # A role the main contact defined with every permission exists; the user manager still cannot take it.
    r = await _role(shop, ALL_PERMISSIONS)
    assert r.status_code == 201, r.text
    taken = await gw.put(f"/api/users/{me['id']}/roles", json={"role_ids": [r.json()["id"]]}, headers=mine)
    assert (taken.status_code, error_code(taken.json())) == (403, "cannot_change_own_roles")

    budget = await gw.put(f"/api/users/{me['id']}/budget", json={"max_total_quantity": None}, headers=mine)
    assert (budget.status_code, error_code(budget.json())) == (403, "missing_permission")

    # Nor through someone else: a new user with that role, or an existing one given it.
    other, _ = await shop.api.user(shop.company, [])
    given = await gw.put(f"/api/users/{other['id']}/roles", json={"role_ids": [r.json()["id"]]}, headers=mine)
    assert (given.status_code, error_code(given.json())) == (403, "cannot_grant_unheld_permission")
    body = {"email": f"x-{uuid4().hex[:8]}@example.com", "first_name": "X", "last_name": "Y", "role_ids": ["buyer"]}
    created = await gw.post("/api/users", json=body, headers=mine)
    assert (created.status_code, error_code(created.json())) == (403, "cannot_grant_unheld_permission")

    after = (await gw.get("/api/me", headers=mine)).json()
    assert after["permissions"] == ["manage_users"]


async def test_nobody_sets_their_own_budget_or_approver_status(shop: Shop):
    me, mine = await _admin(shop, ["manage_users", "manage_budgets", "approve_orders"])
    gw = shop.gw
    budget = await gw.put(f"/api/users/{me['id']}/budget", json={"max_total_quantity": None}, headers=mine)
    assert (budget.status_code, error_code(budget.json())) == (403, "cannot_change_own_budget")
    named = await gw.put("/api/company/approvers", json={"user_ids": [me["id"]]}, headers=mine)
    assert (named.status_code, error_code(named.json())) == (403, "cannot_change_own_approver_status")


async def test_only_the_main_contact_changes_the_main_contact(shop: Shop):
    _, mine = await _admin(shop, ALL_PERMISSIONS)
    main_id = shop.company.main_id
    gw = shop.gw
    for r in (
        await gw.put(f"/api/users/{main_id}/name", json={"first_name": "Mal", "last_name": "Lory"}, headers=mine),
        await gw.put(f"/api/users/{main_id}/budget", json={"max_total_quantity": 1}, headers=mine),
        await gw.put(f"/api/users/{main_id}/roles", json={"role_ids": []}, headers=mine),
        await gw.post(f"/api/users/{main_id}/deactivate", headers=mine),
        await gw.post("/api/company/main-contact", json={"user_id": main_id}, headers=mine),
    ):
        assert (r.status_code, error_code(r.json())) == (403, "main_contact_only"), r.text
    assert (await gw.get("/api/me", headers=shop.main)).json()["is_main_contact"] is True


# ---- a change is in force when it is acknowledged -----------------------------------------------------------


async def test_a_new_user_is_usable_at_approval_as_soon_as_users_answered(shop: Shop):
    refused = []
    for _ in range(REPETITIONS):
        _, headers = await shop.api.user(shop.company, ["buyer"])
        r = await _at_approval(shop, "POST", "/api/orders/evaluate", headers, order_body(quantity=1))
        if r.status_code != 200:
            refused.append((r.status_code, r.text[:200]))
    assert refused == []


async def test_no_request_is_accepted_after_a_deactivation_was_answered(shop: Shop):
    accepted = []
    for _ in range(REPETITIONS):
        user, headers = await shop.api.user(shop.company, ["buyer"])
        r = await shop.gw.post(f"/api/users/{user['id']}/deactivate", headers=shop.main)
        assert r.status_code == 200, r.text
        for method, path, body in (
            ("POST", "/api/orders", order_body(quantity=1)),
            ("POST", "/api/orders/evaluate", order_body(quantity=1)),
            ("GET", "/api/orders", None),
        ):
            answer = await _at_approval(shop, method, path, headers, body)
            if answer.status_code < 400 or error_code(answer.json()) != "user_inactive":
                accepted.append((method, path, answer.status_code, answer.text[:200]))
    assert accepted == []


async def test_the_next_evaluation_uses_a_budget_lowered_a_moment_ago(shop: Shop):
    limit = REPETITIONS + 10
    user, headers = await shop.api.user(
        shop.company, ["buyer"], budget={"max_total_quantity": limit, "max_order_value": None}
    )
    stale = []
    for _ in range(REPETITIONS):
        r = await shop.gw.put(
            f"/api/users/{user['id']}/budget", json={"max_total_quantity": limit - 1}, headers=shop.main
        )
        assert r.status_code == 200, r.text
        evaluation = await _at_approval(shop, "POST", "/api/orders/evaluate", headers, order_body(quantity=limit))
        assert evaluation.status_code == 200, evaluation.text
        judged = evaluation.json()
        if judged["within_budget"] or judged["budget"]["max_quantity"] != limit - 1:
            stale.append((limit - 1, judged["budget"], judged["within_budget"]))
        limit -= 1
    assert stale == []


async def test_roles_taken_away_and_given_back_count_at_the_next_request(shop: Shop):
    user, headers = await shop.api.user(shop.company, ["buyer"])
    stale = []
    for _ in range(REPETITIONS // 2):
        for roles, allowed in ((["service_technician"], False), (["buyer"], True)):
            r = await shop.gw.put(f"/api/users/{user['id']}/roles", json={"role_ids": roles}, headers=shop.main)
            assert r.status_code == 200, r.text
            evaluation = await _at_approval(shop, "POST", "/api/orders/evaluate", headers, order_body(quantity=1))
            if (evaluation.status_code == 200) != allowed:
                stale.append((roles, evaluation.status_code, evaluation.text[:200]))
    assert stale == []
