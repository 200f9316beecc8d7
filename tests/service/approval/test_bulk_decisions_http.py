"""``POST /api/orders/decisions`` on the in-memory store, with a stand-in for the token verifier: the request's rules
(422 with a machine-readable code, never a 500) and the answer's shape."""

from collections.abc import AsyncIterator
from uuid import uuid4

import httpx
import pytest
from fastapi import Request

from approval.application.orders import DECISIONS_MAX, Orders
from approval.main import create_app
from approval.settings import ApprovalSettings
from kc_runtime.auth import Caller
from kc_runtime.errors import ApiError
from tests.service.approval.test_orders_application import BUDGET, order
from tests.support.approval import Company
from tests.support.users import signed_in

PATH = "/api/orders/decisions"


async def stand_in_caller(request: Request) -> Caller:
    """Tokens of these tests are ``email:<address>`` (the real dependency verifies JWTs against the JWKS)."""
    token = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if not token.startswith("email:"):
        raise ApiError(401, "invalid_token", "The access token is missing, invalid or expired.")
    return signed_in(token.removeprefix("email:"))


def auth(member) -> dict[str, str]:
    return {"Authorization": f"Bearer email:{member.email}"}


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
    approver = company.member("approver", ["approve_orders"])
    company.approvers(approver, company.main)
    return client, orders, company, buyer, approver


async def test_a_result_per_order_in_the_order_asked(world):
    client, orders, company, buyer, approver = world
    first, late = orders.submit(buyer, order(20)), orders.submit(buyer, order(20))
    orders.reject(company.main, late.id, "Nein")
    missing = uuid4()
    body = {"decision": "approve", "order_ids": [str(first.id), str(late.id), str(missing)], "comment": "ok"}
    r = await client.post(PATH, json=body, headers=auth(approver))
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["decided"], out["failed"]) == (1, 2)
    approved, rejected_before, nothing = out["results"]
    assert approved == {
        "order_id": str(first.id), "outcome": "approved", "status": "released", "version": approved["version"],
        "decided_by": {"id": str(approver.id), "name": "Approver Muster", "erased": False}, "on_behalf_of": None, "error": None,
    }  # fmt: skip
    assert (rejected_before["outcome"], rejected_before["status"], rejected_before["error"]["code"]) == (
        "failed", "rejected", "wrong_state",
    )  # fmt: skip
    assert rejected_before["decided_by"]["id"] == str(company.main.id)
    assert nothing == {
        "order_id": str(missing), "outcome": "failed", "status": None, "version": None, "decided_by": None,
        "on_behalf_of": None,
        "error": {"code": "not_found", "message": "Not found.", "details": None},
    }  # fmt: skip


async def test_a_rejection_answers_rejected(world):
    client, orders, _, buyer, approver = world
    held = orders.submit(buyer, order(20))
    body = {"decision": "reject", "order_ids": [str(held.id)], "comment": "Zu viel"}
    r = await client.post(PATH, json=body, headers=auth(approver))
    assert r.status_code == 200, r.text
    ((result),) = r.json()["results"]
    assert (result["outcome"], result["status"]) == ("rejected", "rejected")


def _detail_types(r: httpx.Response) -> set[str]:
    return {d["type"] for d in r.json()["error"].get("details", [])}


BAD = {
    "empty": ({"decision": "approve", "order_ids": []}, "too_short"),
    "over_the_limit": ({"decision": "approve", "order_ids": [str(uuid4()) for _ in range(DECISIONS_MAX + 1)]}, "too_long"),
    "malformed_id": ({"decision": "approve", "order_ids": ["not-an-id"]}, "uuid_parsing"),
    "unknown_field": ({"decision": "approve", "order_ids": [str(uuid4())], "unknown": 1}, "extra_forbidden"),
    "unknown_decision": ({"decision": "cancel", "order_ids": [str(uuid4())]}, "literal_error"),
    "no_decision": ({"order_ids": [str(uuid4())]}, "missing"),
    "reject_without_comment": ({"decision": "reject", "order_ids": [str(uuid4())]}, "comment_required"),
    "reject_with_blank_comment": ({"decision": "reject", "order_ids": [str(uuid4())], "comment": "  "}, "comment_required"),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD)
async def test_bad_input_is_422_with_a_machine_readable_code(world, case):
    client, *_, approver = world
    body, detail = BAD[case]
    r = await client.post(PATH, json=body, headers=auth(approver))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "invalid_request"
    assert detail in _detail_types(r)


async def test_a_control_character_in_the_comment_is_422_invalid_characters(world):
    client, *_, approver = world
    for text in ("a\x00b", "a\x1bb", "a\u202eb"):
        r = await client.post(PATH, json={"decision": "approve", "order_ids": [str(uuid4())], "comment": text},
                              headers=auth(approver))  # fmt: skip
        assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_characters"), r.text


async def test_an_order_named_twice_refuses_the_whole_request(world):
    client, orders, _, buyer, approver = world
    held = orders.submit(buyer, order(20))
    body = {"decision": "approve", "order_ids": [str(held.id), str(held.id)]}
    r = await client.post(PATH, json=body, headers=auth(approver))
    assert r.status_code == 422, r.text
    assert _detail_types(r) == {"duplicate_order_ids"}
    assert orders.get_order(approver, held.id).status.value == "pending_approval"


async def test_the_limit_itself_is_accepted(world):
    client, *_, approver = world
    body = {"decision": "approve", "order_ids": [str(uuid4()) for _ in range(DECISIONS_MAX)]}
    r = await client.post(PATH, json=body, headers=auth(approver))
    assert r.status_code == 200, r.text
    assert r.json()["failed"] == DECISIONS_MAX


async def test_without_a_token_401(world):
    client, *_ = world
    r = await client.post(PATH, json={"decision": "approve", "order_ids": [str(uuid4())]})
    assert (r.status_code, r.json()["error"]["code"]) == (401, "invalid_token")


async def test_the_route_does_not_shadow_an_order_and_is_not_one(world):
    client, orders, _, buyer, approver = world
    held = orders.submit(buyer, order(20))
    r = await client.get(f"/api/orders/{held.id}", headers=auth(approver))
    assert (r.status_code, r.json()["id"]) == (200, str(held.id))
    r = await client.post(PATH, json={"decision": "approve", "order_ids": [str(held.id)]}, headers=auth(approver))
    assert r.json()["results"][0]["outcome"] == "approved"
