"""``POST /api/reports/what-if`` on the in-memory store, with a stand-in for the token verifier: who may ask (403
`not_allowed`), another company's people (404 like missing ones) and the request's rules (422 with a code) — all
answered before the what-if's projection is read (the answers themselves: the PostgreSQL integration test and the
journey)."""

import pytest

from tests.service.approval.test_bulk_decisions_http import api, auth  # noqa: F401  (the fixture)
from tests.service.approval.test_what_if import PER_ORDER
from tests.support.approval import Company

PATH = "/api/reports/what-if"


@pytest.fixture
def world(api):  # noqa: F811
    client, orders = api
    company = Company(orders)
    bea = company.member("bea", ["place_orders"], PER_ORDER)
    return client, orders, company, bea


def budget(user) -> dict:
    return {
        "kind": "budget",
        "user_id": str(user.id),
        "budget": {"max_order_value": {"amount": "50", "currency": "EUR"}},
    }


async def code(r) -> tuple[int, str]:
    return r.status_code, r.json()["error"]["code"]


@pytest.mark.parametrize("permissions", [["place_orders"], ["view_reports"], ["approve_orders", "view_reports"]])
async def test_who_may_neither_manage_budgets_nor_is_the_main_contact_is_refused(world, permissions):
    client, _orders, company, bea = world
    someone = company.member("someone", permissions)
    r = await client.post(PATH, json={"changes": [budget(bea)]}, headers=auth(someone))
    assert await code(r) == (403, "not_allowed")


async def test_a_company_id_in_the_body_is_refused_not_followed(world):
    client, _orders, company, bea = world
    body = {"changes": [budget(bea)], "company_id": str(Company(_orders).id)}
    r = await client.post(PATH, json=body, headers=auth(company.main))
    assert await code(r) == (422, "invalid_request")


async def test_another_companys_user_or_approver_is_not_found(world):
    client, orders, company, _bea = world
    stranger = Company(orders).member("bea", ["place_orders", "approve_orders"], PER_ORDER)
    for change in (
        budget(stranger),
        {"kind": "approvers", "approvers": [str(stranger.id)]},
        {"kind": "policy", "tiers": [{"max_value": "100", "approver_ids": [str(stranger.id)]}]},
    ):
        r = await client.post(PATH, json={"changes": [change]}, headers=auth(company.main))
        assert await code(r) == (404, "not_found"), change


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"changes": []}, "invalid_request"),
        ({}, "invalid_request"),
        ({"changes": [{"kind": "salary", "user_id": "x"}]}, "invalid_request"),
        ({"from": "2024-01-01", "until": "2026-01-03", "changes": "APPROVERS"}, "period_too_long"),
        ({"from": "2026-02-01", "until": "2026-01-01", "changes": "APPROVERS"}, "invalid_period"),
        ({"from": "yesterday", "changes": "APPROVERS"}, "invalid_period"),
        ({"changes": "APPROVERS_TWICE"}, "duplicate_change"),
        ({"changes": "BUDGET_TWICE"}, "duplicate_change"),
        (
            {
                "changes": [
                    {
                        "kind": "policy",
                        "tiers": [
                            {"max_value": "100", "role_id": "approver"},
                            {"max_value": "50", "role_id": "approver"},
                        ],
                    }
                ]
            },
            "limits_not_ascending",
        ),
    ],
)
async def test_bad_input_is_a_422_with_its_code(world, body, expected):
    client, _orders, company, bea = world
    approvers = {"kind": "approvers", "approvers": []}
    body = {
        **body,
        "changes": {
            "APPROVERS": [approvers],
            "APPROVERS_TWICE": [approvers, approvers],
            "BUDGET_TWICE": [budget(bea), budget(bea)],
        }.get(str(body.get("changes")), body.get("changes")),
    }
    if body["changes"] is None:
        del body["changes"]
    r = await client.post(PATH, json=body, headers=auth(company.main))
    assert await code(r) == (422, expected), r.text


async def test_a_policy_naming_someone_who_may_not_approve_is_refused(world):
    client, _orders, company, bea = world
    change = {"kind": "policy", "tiers": [{"max_value": "100", "approver_ids": [str(bea.id)]}]}
    r = await client.post(PATH, json={"changes": [change]}, headers=auth(company.main))
    assert await code(r) == (422, "not_an_approver")
