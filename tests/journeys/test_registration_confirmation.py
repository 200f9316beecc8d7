"""The confirmation token of the double opt-in: single use, expiring, and a wrong one gets nowhere."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator

import pytest

from tests.conftest import eventually
from tests.journeys.test_registration_support import (
    Registrar,
    confirmation_token,
    new_customer,
    random_ip,
    unique_email,
)
from tests.support.infra import ROOT

pytestmark = pytest.mark.journey


async def verified(gateway, erp_simulator) -> tuple[Registrar, str, str]:
    registrar = Registrar(gateway, random_ip())
    email = unique_email()
    rid = await registrar.started(await new_customer(erp_simulator), email=email)
    assert (await registrar.decided(rid))["status"] == "awaiting_confirmation"
    return registrar, rid, await confirmation_token(rid, email)


async def test_a_confirmation_token_cannot_be_used_twice(gateway, erp_simulator):
    registrar, rid, token = await verified(gateway, erp_simulator)
    assert (await registrar.confirm(rid, token)).status_code == 200
    again = await registrar.confirm(rid, token)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "confirmation_token_used"
    assert (await registrar.status(rid))["status"] == "completed"


async def test_a_wrong_token_is_refused_and_the_right_one_still_works(gateway, erp_simulator):
    registrar, rid, token = await verified(gateway, erp_simulator)
    wrong = await registrar.confirm(rid, token[::-1])
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (400, "invalid_confirmation_token")
    _, other_rid, _ = await verified(gateway, erp_simulator)
    crossed = await registrar.confirm(other_rid, token)  # a real token, of another registration
    assert crossed.status_code == 400
    assert (await registrar.confirm(rid, token)).status_code == 200


def _stack():
    sys.path.insert(0, str(ROOT / "deploy" / "local"))
    import stack  # the local stack's script, importable by design

    return stack


@pytest.fixture
async def short_lived_tokens() -> AsyncIterator[int]:
    """registration restarted with tokens valid for a few seconds (and restarted as before afterwards)."""
    stack = _stack()
    if not stack.is_ready("registration"):
        pytest.fail("needs the local stack's registration (stack.py) to restart it with short-lived tokens")
    ttl = 3

    def restart(extra: dict[str, str] | None) -> None:
        stack.stop_component("registration")
        stack.start_component("registration", extra_env=extra)

    await asyncio.to_thread(restart, {"REGISTRATION_CONFIRMATION_TTL_S": str(ttl)})
    try:
        yield ttl
    finally:
        await asyncio.to_thread(restart, None)


async def test_an_expired_token_is_refused_and_the_registration_shows_as_expired(
    gateway, erp_simulator, short_lived_tokens
):
    registrar, rid, token = await verified(gateway, erp_simulator)

    async def expired():
        s = await registrar.status(rid)
        return s if s["reason"] == "confirmation_expired" else None

    shown = await eventually(expired, timeout=short_lived_tokens + 10, interval=0.5, what="the token to expire")
    assert shown["status"] == "rejected"
    late = await registrar.confirm(rid, token)
    assert late.status_code == 410
    assert late.json()["error"]["code"] == "confirmation_token_expired"
    again = await registrar.confirm(rid, token)
    assert again.status_code == 410
