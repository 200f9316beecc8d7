"""Every change is published through the contracts, keyed by company id, for the other services' read models."""

import json
import os

import httpx
import pytest

from contracts import Headers
from contracts.topics import REGISTRATION_REGISTRATIONS, USERS_COMPANIES, USERS_USERS
from tests.conftest import eventually
from tests.support.infra import KAFKA
from tests.support.users import UsersApi, journey_fixtures, read_records

pytestmark = pytest.mark.journey

registrar, users_api = journey_fixtures()

USERS = os.environ.get("KC_TEST_USERS", "http://127.0.0.1:8102")


async def published(topic: str, company_id: str, count: int) -> list[tuple[str, dict]]:
    async def enough():
        records = await read_records(KAFKA, topic, company_id.encode())
        return records if len(records) >= count else None

    records = await eventually(enough, what=f"{count} messages of the company on {topic}")
    return [(dict((k, v.decode()) for k, v in r.headers)[Headers.EVENT_TYPE], json.loads(r.value)) for r in records]


async def test_the_company_its_users_and_their_changes_are_published_in_order(users_api: UsersApi):
    company = await users_api.company()
    gw = users_api.gateway
    user, _ = await users_api.user(company, ["approver"])
    await gw.put(
        f"/api/users/{user['id']}/budget",
        json={
        "max_total_quantity": 5,
        "max_order_value": {"amount": "99.90", "currency": "EUR"},
        "period_budget": None,
    },
        headers=company.main,
    )
    await gw.put("/api/company/approvers", json={"user_ids": [user["id"]]}, headers=company.main)
    await gw.post(f"/api/users/{user['id']}/deactivate", headers=company.main)

    # (the main contact's first sign-in binds them: UserSignInBound, not part of what is checked here)
    users = [(t, m) for t, m in await published(USERS_USERS.name, company.id, 5) if t != "UserSignInBound"]
    assert [t for t, _ in users] == ["UserCreated", "UserCreated", "UserBudgetSet", "UserDeactivated"]
    main_created, created, budget, deactivated = (m for _, m in users)
    assert main_created["is_main_contact"] is True and main_created["changed_by"] is None
    assert created["permissions"] == ["approve_orders", "view_company_orders", "view_data_sheets"]
    assert created["company_id"] == company.id and created["changed_by"] == company.main_id
    assert budget["budget"] == {
        "max_total_quantity": 5,
        "max_order_value": {"amount": "99.90", "currency": "EUR"},
        "period_budget": None,
    }
    assert deactivated["user_id"] == user["id"]

    companies = await published(USERS_COMPANIES.name, company.id, 3)
    assert [t for t, _ in companies] == ["CompanyCreated", "ApproversSet", "ApproverRemoved"]
    assert companies[0][1]["main_contact_id"] == company.main_id
    assert companies[2][1] == {
        "company_id": company.id,
        "user_id": user["id"],
        "reason": "approver_deactivated",
        "approver_ids": [],
        "changed_by": company.main_id,
    }


async def consumed(outcome: str) -> float:
    async with httpx.AsyncClient(base_url=USERS, timeout=10) as client:
        text = (await client.get("/metrics")).text
    prefix = "kc_consumer_messages_total{"
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(prefix) and f'outcome="{outcome}"' in line and REGISTRATION_REGISTRATIONS.name in line
    )


async def test_a_redelivered_or_repeated_registration_creates_the_company_once(users_api: UsersApi):
    company = await users_api.company()
    duplicates, applied = await consumed("duplicate"), await consumed("applied")
    await users_api.registrar.publish(company.registration, company.notification_id)  # a redelivery
    await users_api.registrar.publish(company.registration)  # the same completion once more, later

    async def both_handled():
        return await consumed("duplicate") > duplicates and await consumed("applied") > applied

    await eventually(both_handled, what="users to handle the redelivery and the repetition")
    marker, _ = await users_api.user(company)
    users = [(t, m) for t, m in await published(USERS_USERS.name, company.id, 3) if t != "UserSignInBound"]
    assert [(t, m["user_id"]) for t, m in users] == [("UserCreated", company.main_id), ("UserCreated", marker["id"])]
    companies = await published(USERS_COMPANIES.name, company.id, 1)
    assert [t for t, _ in companies] == ["CompanyCreated"]
