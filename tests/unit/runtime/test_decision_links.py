"""The one-click decision links' tokens (ADR 0031): what we signed comes back exactly; anything else — another
secret, a changed claim, an expired link, a short secret — is refused."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import jwt
import pytest

from kc_runtime.decision_links import (
    DEVELOPMENT_SECRET,
    DecisionLink,
    DecisionLinkSecretMissing,
    LinkExpired,
    LinkInvalid,
    secret_in_force,
    sign,
    verify,
)

SECRET = "a-test-secret-of-at-least-thirty-two-bytes!"
NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)


def link(**changes) -> DecisionLink:
    base = {"approver_id": uuid4(), "order_id": uuid4(), "version": 2, "action": "approve",
            "expires_at": NOW + timedelta(days=7)}  # fmt: skip
    return DecisionLink(**{**base, **changes})


def test_a_signed_link_comes_back_as_it_was_signed():
    made = link(action="reject", version=5)
    assert verify(SECRET, sign(SECRET, made), now=NOW) == made


def test_a_link_signed_with_another_secret_is_refused():
    with pytest.raises(LinkInvalid):
        verify(SECRET, sign(SECRET + "x", link()), now=NOW)


def test_a_changed_claim_breaks_the_signature():
    token = sign(SECRET, link(action="reject"))
    header, _payload, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = jwt.encode({**claims, "act": "approve"}, "whatever-key-of-thirty-two-bytes-long!!", algorithm="HS256")
    with pytest.raises(LinkInvalid):
        verify(SECRET, f"{header}.{forged.split('.')[1]}.{signature}", now=NOW)


def test_an_unsigned_token_is_refused():
    claims = jwt.decode(sign(SECRET, link()), options={"verify_signature": False})
    with pytest.raises(LinkInvalid):
        verify(SECRET, jwt.encode(claims, None, algorithm="none"), now=NOW)


@pytest.mark.parametrize("token", ["", "x", "a.b.c", "ä" * 3000])
def test_garbage_is_refused_as_invalid(token):
    with pytest.raises(LinkInvalid):
        verify(SECRET, token, now=NOW)


def test_an_unknown_action_is_refused_even_when_signed():
    token = sign(SECRET, link(action="delete"))  # type: ignore[arg-type]
    with pytest.raises(LinkInvalid):
        verify(SECRET, token, now=NOW)


def test_a_link_expires_at_its_expiry():
    token = sign(SECRET, link(expires_at=NOW + timedelta(minutes=1)))
    verify(SECRET, token, now=NOW)
    with pytest.raises(LinkExpired):
        verify(SECRET, token, now=NOW + timedelta(minutes=1))


def test_a_short_secret_is_refused():
    with pytest.raises(ValueError):
        sign("too short", link())


def test_outside_development_a_service_without_the_secret_does_not_start():
    assert secret_in_force("approval", "APPROVAL_", "development", None) == DEVELOPMENT_SECRET
    assert secret_in_force("approval", "APPROVAL_", "production", SECRET) == SECRET
    with pytest.raises(DecisionLinkSecretMissing, match="APPROVAL_DECISION_LINK_SECRET"):
        secret_in_force("approval", "APPROVAL_", "production", None)
    with pytest.raises(ValueError):
        secret_in_force("approval", "APPROVAL_", "production", "short")
