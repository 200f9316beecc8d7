"""The budget per period is set where the per-order budget is (users), under the same rules: nobody sets their own,
it needs ``manage_budgets``, and the wire carries it to approval (ADR 0017)."""

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.service.users.conftest import register
from tests.service.users.test_http import auth, verify
from tests.support.users import erp_contact, registration, unique_email
from users.main import create_app
from users.settings import UsersSettings


@pytest.fixture
async def company() -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    app = create_app(
        UsersSettings(database_url="memory://", process_roles=["api"], log_format="console"), verify_token=verify
    )
    msg = registration(erp_contacts=[erp_contact("Carla")])
    register(app.state.runtime.app, msg)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://users") as client:
        yield client, str(msg.main_contact.email)


MONTHLY = {"period": "month", "max_value": {"amount": "5000.00", "currency": "EUR"}, "max_total_quantity": 40}


async def _user(client: httpx.AsyncClient, main: str, roles: list[str] | None = None) -> dict:
    body: dict = {"email": unique_email(), "first_name": "A", "last_name": "B"}
    r = await client.post("/api/users", json=body, headers=auth(main))
    assert r.status_code == 201, r.text
    user = r.json()
    if roles is not None:
        r = await client.put(f"/api/users/{user['id']}/roles", json={"role_ids": roles}, headers=auth(main))
        assert r.status_code == 200, r.text
    return user


async def test_the_main_contact_gives_a_user_a_monthly_budget_that_me_shows(company):
    client, main = company
    user = await _user(client, main)
    r = await client.put(f"/api/users/{user['id']}/budget", json={"period_budget": MONTHLY}, headers=auth(main))
    assert r.status_code == 200, r.text
    assert r.json()["budget"]["period_budget"] == MONTHLY
    me = await client.get("/api/me", headers=auth(user["email"]))
    assert me.json()["budget"]["period_budget"] == MONTHLY


async def test_setting_per_order_limits_keeps_the_period_budget_and_null_removes_it(company):
    client, main = company
    user = await _user(client, main)
    url = f"/api/users/{user['id']}/budget"
    await client.put(url, json={"period_budget": MONTHLY}, headers=auth(main))
    kept = await client.put(url, json={"max_total_quantity": 3}, headers=auth(main))
    assert kept.json()["budget"] == {"max_total_quantity": 3, "max_order_value": None, "period_budget": MONTHLY}
    removed = await client.put(url, json={"max_total_quantity": 3, "period_budget": None}, headers=auth(main))
    assert removed.json()["budget"]["period_budget"] is None


async def test_a_period_budget_is_per_month_quarter_or_year_with_a_value(company):
    client, main = company
    user = await _user(client, main)
    for bad in (
        {**MONTHLY, "period": "week"},
        {"period": "month"},
        {**MONTHLY, "max_value": {"amount": "-1", "currency": "EUR"}},
        {**MONTHLY, "max_total_quantity": -1},
        {**MONTHLY, "owner": "me"},
    ):
        r = await client.put(f"/api/users/{user['id']}/budget", json={"period_budget": bad}, headers=auth(main))
        assert r.status_code == 422, bad
        assert r.json()["error"]["code"] == "invalid_request"


async def test_nobody_sets_or_raises_their_own_period_budget(company):
    client, main = company
    me = (await client.get("/api/me", headers=auth(main))).json()["user"]
    own = await client.put(f"/api/users/{me['id']}/budget", json={"period_budget": MONTHLY}, headers=auth(main))
    assert own.status_code == 403
    assert own.json()["error"]["code"] == "cannot_change_own_budget"

    buyer = await _user(client, main)
    await client.put(f"/api/users/{buyer['id']}/budget", json={"period_budget": MONTHLY}, headers=auth(main))
    raised = {**MONTHLY, "max_value": {"amount": "999999.00", "currency": "EUR"}}
    r = await client.put(
        f"/api/users/{buyer['id']}/budget", json={"period_budget": raised}, headers=auth(buyer["email"])
    )
    assert r.status_code == 403
    removed = await client.put(
        f"/api/users/{buyer['id']}/budget", json={"period_budget": None}, headers=auth(buyer["email"])
    )
    assert removed.status_code == 403
    after = (await client.get("/api/me", headers=auth(buyer["email"]))).json()
    assert after["budget"]["period_budget"] == MONTHLY
