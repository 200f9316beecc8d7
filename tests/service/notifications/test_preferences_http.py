"""``/api/me/notification-preferences`` on the in-memory store, with a stand-in for the token verifier (ADR 0027):
the caller's own choices only, refusals with a machine-readable code (never a 500), and the answer's shape."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi import Request

from contracts.topics import USERS_USERS
from contracts.users import v1 as users
from kc_runtime.auth import Caller
from kc_runtime.errors import ApiError
from kc_runtime.sealing import KeyRing, new_key
from notifications.application.mails import Mails
from notifications.main import create_app
from notifications.settings import NotificationsSettings
from tests.service.notifications.test_mail_rules import handle

PATH = "/api/me/notification-preferences"


async def stand_in_caller(request: Request) -> Caller:
    """Tokens of these tests are ``email:<address>``, verified (the real dependency checks JWTs against the JWKS)."""
    token = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if not token.startswith("email:"):
        raise ApiError(401, "invalid_token", "The access token is missing, invalid or expired.")
    email = token.removeprefix("email:")
    return Caller(subject=f"sub-{email}", email=email, issuer="https://idp.test", email_verified=True)


@pytest.fixture
async def api() -> AsyncIterator[tuple[httpx.AsyncClient, Mails]]:
    settings = NotificationsSettings(
        database_url="memory://", process_roles=["api"], log_format="console", fence_timeout_s=0
    )
    # users' key endpoint stands in as a dict: every person of these tests lives and has a key (ADR 0035)
    keys: dict[UUID, bytes] = {}
    app = create_app(settings, caller=stand_in_caller, key_ring=KeyRing(lambda who: keys.setdefault(who, new_key())))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notifications") as client:
        yield client, app.state.runtime.app


def user(mails: Mails, active: bool = True) -> tuple[UUID, dict[str, str]]:
    user_id = uuid4()
    email = f"{user_id.hex[:10]}@example.com"
    created = users.UserCreated(
        user_id=user_id, company_id=uuid4(), email=email, first_name="Bea", last_name="Buyer", language="de",
        status="active" if active else "inactive", role_ids=["buyer"], permissions=["place_orders"],
        budget=users.Budget(), is_main_contact=False, created_at="2026-12-06T08:00:00Z",
    )  # fmt: skip
    mails.save(*handle(mails, created, USERS_USERS))
    return user_id, {"Authorization": f"Bearer email:{email}"}


async def test_a_user_sees_every_kind_at_once_until_they_choose(api):
    client, mails = api
    me, headers = user(mails)
    r = await client.get(PATH, headers=headers)
    assert r.status_code == 200
    body = r.json()
    assert (body["user_id"], body["changed_at"], body["digest"]) == (
        str(me),
        None,
        {"hour": 7, "timezone": "Europe/Berlin"},
    )
    assert {p["kind"]: (p["delivery"], p["action_needed"]) for p in body["preferences"]} == {
        "approval_requested": ("immediately", True), "substitute_offer": ("immediately", True),
        "approval_reassigned": ("immediately", True), "order_approved": ("immediately", False),
        "order_rejected": ("immediately", False), "order_expired": ("immediately", False),
        "order_released_on_re_evaluation": ("immediately", False),
        "order_credit_hold": ("immediately", False), "order_credit_hold_figures": ("immediately", True),
    }  # fmt: skip


async def test_a_choice_is_answered_with_who_made_it_and_kept(api):
    client, mails = api
    me, headers = user(mails)
    r = await client.put(
        PATH, json={"preferences": {"order_approved": "digest", "order_rejected": "none"}}, headers=headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["changed_by"] == str(me) and r.json()["changed_at"]
    kept = {p["kind"]: p["delivery"] for p in (await client.get(PATH, headers=headers)).json()["preferences"]}
    assert (kept["order_approved"], kept["order_rejected"], kept["approval_requested"]) == (
        "digest",
        "none",
        "immediately",
    )


@pytest.mark.parametrize(
    ("choices", "code"),
    [
        ({"approval_requested": "none"}, "action_mail_cannot_be_off"),
        ({"substitute_offer": "none"}, "action_mail_cannot_be_off"),
        ({"newsletter": "digest"}, "unknown_kind"),
        ({"order_approved": "weekly"}, "invalid_request"),
        ({"order_approved": None}, "invalid_request"),
    ],
)
async def test_a_choice_that_is_not_allowed_is_refused_with_its_code_and_nothing_changes(api, choices, code):
    client, mails = api
    _, headers = user(mails)
    r = await client.put(PATH, json={"preferences": {"order_rejected": "none", **choices}}, headers=headers)
    assert (r.status_code, r.json()["error"]["code"]) == (422, code), r.text
    kept = {p["kind"]: p["delivery"] for p in (await client.get(PATH, headers=headers)).json()["preferences"]}
    assert kept["order_rejected"] == "immediately"


async def test_a_body_naming_whose_preferences_they_are_is_refused(api):
    client, mails = api
    victim, _ = user(mails)
    _, headers = user(mails)
    body = {"user_id": str(victim), "preferences": {"order_approved": "none"}}
    r = await client.put(PATH, json=body, headers=headers)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_request")
    assert mails.preferences(victim) is None


async def test_unknown_and_deactivated_callers_are_refused(api):
    client, mails = api
    _, gone = user(mails, active=False)
    refused = await client.get(PATH, headers=gone)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "user_inactive")
    nobody = await client.get(PATH, headers={"Authorization": "Bearer email:nobody@example.com"})
    assert (nobody.status_code, nobody.json()["error"]["code"]) == (401, "unknown_user")
    assert (await client.get(PATH)).status_code == 401
