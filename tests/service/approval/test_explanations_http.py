"""``GET /api/orders/{id}/explanation`` on the in-memory store, with a stand-in for the token verifier: the answer's
shape (ADR 0028) and who gets 403 or 404."""

from collections.abc import AsyncIterator
from datetime import timedelta
from uuid import uuid4

import httpx
import pytest

from approval.application.orders import Orders
from approval.main import create_app
from approval.settings import ApprovalSettings
from tests.service.approval.test_bulk_decisions_http import auth, stand_in_caller
from tests.service.approval.test_orders_application import BUDGET, order
from tests.support.approval import Company


@pytest.fixture
async def api() -> AsyncIterator[tuple[httpx.AsyncClient, Orders]]:
    settings = ApprovalSettings(
        database_url="memory://", process_roles=["api"], log_format="console", fence_timeout_s=0
    )
    app = create_app(settings, caller=stand_in_caller)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://approval") as client:
        yield client, app.state.runtime.app


@pytest.fixture
def world(api):
    client, orders = api
    company = Company(orders)
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    anna = company.member("anna", ["approve_orders", "view_company_orders"])
    sam = company.member("sam", ["approve_orders", "view_company_orders"])
    company.approvers(anna)
    held = orders.submit(buyer, order(20))
    return client, orders, company, buyer, anna, sam, held


def url(order_id) -> str:
    return f"/api/orders/{order_id}/explanation"


async def test_the_explanation_names_the_budget_the_verdict_and_who_could_decide(world):
    client, orders, _, buyer, anna, sam, _ = world
    orders.record_absence(anna, sam.id, orders.clock(), orders.clock() + timedelta(hours=8))
    held = orders.submit(buyer, order(20))
    orders.approve(sam, held.id, "In Vertretung")
    r = await client.get(url(held.id), headers=auth(buyer))
    assert r.status_code == 200, r.text
    x = r.json()
    assert (x["order_id"], x["status"], x["buyer"]["name"]) == (str(held.id), "released", "Buyer Muster")
    assert (x["decided_by"]["name"], x["decided_on_behalf_of"]["name"]) == ("Sam Muster", "Anna Muster")
    submitted, routed, offered, approved, released = x["steps"]
    assert [s["kind"] for s in x["steps"]] == ["submitted", "approval_requested", "offered_to_substitute",
                                               "approved", "released"]  # fmt: skip
    judged = submitted["judgement"]
    assert (judged["budget"]["max_quantity"], judged["budget_source"], judged["within_budget"]) == (10, "recorded",
                                                                                                    False)  # fmt: skip
    assert [x["limit"] for x in judged["exceeded_limits"]] == ["max_quantity", "max_value"]
    assert submitted["content"]["price_source"] == "erp"
    assert submitted["content"]["lines"][0]["unit_price"] == {"amount": "10.00", "currency": "EUR"}
    assert (routed["routing"]["rule"], [a["name"] for a in routed["routing"]["approvers"]]) == (
        "approvers_named", ["Anna Muster"],
    )  # fmt: skip
    assert routed["routing"]["substitutes"][0]["substitute"]["name"] == "Sam Muster"
    assert set(routed["routing"]["substitutes"][0]) == {"absence_id", "substitute", "on_behalf_of", "from", "until",
                                                        "recorded_by"}  # fmt: skip
    assert {(d["person"]["name"], d["capacity"]) for d in routed["waiting"]["could_decide"]} == {
        ("Anna Muster", "approver"), ("Sam Muster", "substitute"),
    }  # fmt: skip
    assert routed["waiting"]["ended_by"] == "approved"
    assert offered["offer"]["on_behalf_of"]["name"] == "Anna Muster"
    decision = approved["decision"]
    assert (decision["capacity"], decision["on_behalf_of"]["name"], approved["comment"]) == (
        "substitute", "Anna Muster", "In Vertretung",
    )  # fmt: skip
    assert released["by"]["name"] == "Sam Muster"


async def test_a_colleague_who_sees_the_order_but_never_decided_it_gets_403(world):
    client, _, _, _, _, sam, held = world
    r = await client.get(url(held.id), headers=auth(sam))
    assert (r.status_code, r.json()["error"]["code"]) == (403, "not_allowed")


async def test_an_unrelated_buyer_and_another_company_get_exactly_what_a_missing_order_gets(world):
    client, orders, company, _, _, _, held = world
    colleague = company.member("other", ["place_orders"], BUDGET)
    stranger = Company(orders).main
    missing = uuid4()
    for who in (colleague, stranger):
        theirs = await client.get(url(held.id), headers=auth(who))
        nothing = await client.get(url(missing), headers=auth(who))
        assert (theirs.status_code, theirs.json()["error"]["code"]) == (404, "not_found")
        assert theirs.text.replace(str(held.id), str(missing)) == nothing.text
