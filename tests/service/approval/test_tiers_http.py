"""``/api/approvals/policy`` on the in-memory store, with a stand-in for the token verifier: who may see and define
the approval policy, the request's rules (422 with a code), tenancy, and an order's tier in its answer (ADR 0025)."""

from decimal import Decimal

import pytest

from tests.service.approval.test_absences_http import api  # noqa: F401  (the fixture)
from tests.service.approval.test_bulk_decisions_http import auth
from tests.service.approval.test_tiers import BUDGET
from tests.support.approval import Company
from tests.unit.approval.test_order import content

PATH = "/api/approvals/policy"


def order_body(quantity: int) -> dict:
    c = content()
    return {
        "lines": [{"sku": "A-1", "quantity": quantity}],
        "delivery_address": vars(c.delivery_address),
        "billing_address": vars(c.billing_address),
        "payment_method": "invoice",
        "shipping_method": "standard",
    }


@pytest.fixture
def world(api):  # noqa: F811
    client, orders = api
    company = Company(orders)
    bea = company.member("bea", ["place_orders"], BUDGET)
    anna = company.member("anna", ["approve_orders"])
    bert = company.member("bert", ["approve_orders"])
    return client, orders, company, bea, anna, bert


def two_tiers(anna, bert) -> dict:
    return {"tiers": [{"max_value": "150", "approver_ids": [str(anna.id)]},
                      {"max_value": "500", "approver_ids": [str(bert.id)]}]}  # fmt: skip


async def test_without_a_definition_the_policy_is_the_default(world):
    client, _orders, company, _bea, _anna, _bert = world
    r = await client.get(PATH, headers=auth(company.main))
    assert r.status_code == 200, r.text
    assert (r.json()["version"], r.json()["default"], r.json()["tiers"]) == (None, True, [])


async def test_the_main_contact_defines_two_tiers_and_gets_them_back_with_the_audit(world):
    client, _orders, company, _bea, anna, bert = world
    r = await client.put(PATH, json=two_tiers(anna, bert), headers=auth(company.main))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["version"], body["default"], body["currency"], body["escalation"]) == (1, False, "EUR", "climb")
    assert [(t["tier"], t["max_value"]["amount"], t["approvers"][0]["name"]) for t in body["tiers"]] == [
        (1, "150", "Anna Muster"), (2, "500", "Bert Muster"),
    ]  # fmt: skip
    assert body["revisions"][0]["defined_by"]["id"] == str(company.main.id)
    seen = await client.get(PATH, headers=auth(anna))
    assert seen.json()["version"] == 1


async def test_an_order_shows_its_tier_and_climbs(world):
    client, _orders, company, bea, anna, bert = world
    await client.put(PATH, json=two_tiers(anna, bert), headers=auth(company.main))
    held = (await client.post("/api/orders", json=order_body(30), headers=auth(bea))).json()
    assert held["approval_tier"]["tier"] == 1
    assert held["approval_tier"]["max_value"]["amount"] == "150"
    r = await client.post(f"/api/orders/{held['id']}/approve", json={}, headers=auth(anna))
    climbed = r.json()
    assert (climbed["status"], climbed["approval_tier"]["tier"]) == ("pending_approval", 2)
    assert climbed["approval_tier"]["approved_below"][0]["by"]["id"] == str(anna.id)
    assert [a["id"] for a in climbed["approvers"]] == [str(bert.id)]
    assert any(e["event"] == "Escalated" and e["detail"]["tier"] == 2 for e in climbed["timeline"])
    again = await client.post(f"/api/orders/{held['id']}/approve", json={}, headers=auth(anna))
    assert (again.status_code, again.json()["error"]["code"]) == (403, "already_approved")
    done = await client.post(f"/api/orders/{held['id']}/approve", json={}, headers=auth(bert))
    assert done.json()["status"] == "released"


async def test_a_buyer_may_neither_define_nor_see_the_policy(world):
    client, _orders, _company, bea, anna, bert = world
    r = await client.put(PATH, json=two_tiers(anna, bert), headers=auth(bea))
    assert (r.status_code, r.json()["error"]["code"]) == (403, "not_allowed")
    assert (await client.get(PATH, headers=auth(bea))).status_code == 403


@pytest.mark.parametrize(
    ("tiers", "code"),
    [
        ([{"max_value": "500", "who": "anna"}, {"max_value": "150", "who": "bert"}], "limits_not_ascending"),
        ([{"max_value": "150"}], "no_tier_approvers"),
        ([{"max_value": "150", "who": "bea"}], "not_an_approver"),
    ],
)
async def test_an_unsound_policy_is_422_with_its_code(world, tiers, code):
    client, _orders, company, bea, anna, bert = world
    people = {"anna": anna, "bert": bert, "bea": bea}
    body = {"tiers": [{"max_value": t["max_value"], "approver_ids": [str(people[t["who"]].id)] if "who" in t else []}
                      for t in tiers]}  # fmt: skip
    r = await client.put(PATH, json=body, headers=auth(company.main))
    assert (r.status_code, r.json()["error"]["code"]) == (422, code)


async def test_a_limit_in_another_currency_is_refused(world):
    client, _orders, company, _bea, anna, bert = world
    r = await client.put(PATH, json={**two_tiers(anna, bert), "currency": "CHF"}, headers=auth(company.main))
    assert (r.status_code, r.json()["error"]["code"]) == (422, "currency_mismatch")


async def test_bad_input_is_422_never_a_500(world):
    client, _orders, company, _bea, anna, _bert = world
    for body in ({"tiers": [{"max_value": "-1", "approver_ids": []}]}, {"tiers": "x"}, {"tiers": [], "escalation": "up"},
                 {"tiers": [{"max_value": "1", "approver_ids": [str(anna.id), str(anna.id)]}]}):  # fmt: skip
        r = await client.put(PATH, json=body, headers=auth(company.main))
        assert r.status_code == 422, (body, r.text)


async def test_another_companys_main_contact_neither_sees_nor_changes_it(world):
    client, orders, company, _bea, anna, bert = world
    await client.put(PATH, json=two_tiers(anna, bert), headers=auth(company.main))
    other = Company(orders)
    assert (await client.get(PATH, headers=auth(other.main))).json()["version"] is None
    r = await client.put(PATH, json=two_tiers(anna, bert), headers=auth(other.main))
    assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found")  # our people are strangers to them
    mine = await client.get(PATH, headers=auth(company.main))
    assert mine.json()["version"] == 1 and Decimal(mine.json()["tiers"][0]["max_value"]["amount"]) == 150
