"""One-click decisions from the approval-request mail (issue 17 item 4, ADR 0031): signed, expiring links bound to
one approver, one order at one version and one decision.

A link's token is a JWT (HS256, PyJWT) signed with a secret notifications (which writes the mail) and approval
(which decides) share; nothing is stored for it. It is single-use because it is bound to the order's version: the
decision it makes changes the version, and so does every other change of the order (another approver's decision,
a modification, a re-evaluation), after which the link only explains that the order changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from uuid import UUID

import jwt

AUDIENCE = "kundencenter:decision-link"
ISSUER = "kundencenter:notifications"
Action = Literal["approve", "reject"]
ACTIONS: tuple[Action, ...] = ("approve", "reject")
MIN_SECRET_BYTES = 32
DEVELOPMENT_SECRET = "development-only-decision-link-secret-0123456789"  # noqa: S105  # local stack and tests only


class LinkInvalid(Exception):
    """Not a link we signed (tampered, another secret, malformed)."""

    code = "invalid_decision_link"


class LinkExpired(Exception):
    """Signed by us, but older than its expiry."""

    code = "decision_link_expired"


@dataclass(frozen=True)
class DecisionLink:
    approver_id: UUID
    order_id: UUID
    version: int
    action: Action
    expires_at: datetime


def _key(secret: str | bytes) -> bytes:
    key = secret.encode() if isinstance(secret, str) else secret
    if len(key) < MIN_SECRET_BYTES:
        raise ValueError(f"the decision link secret must have at least {MIN_SECRET_BYTES} bytes")
    return key


def sign(secret: str | bytes, link: DecisionLink) -> str:
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(link.approver_id),
        "oid": str(link.order_id),
        "ver": link.version,
        "act": link.action,
        "exp": int(link.expires_at.timestamp()),
    }
    return jwt.encode(claims, _key(secret), algorithm="HS256")


def verify(secret: str | bytes, token: str, now: datetime | None = None) -> DecisionLink:
    """The link ``token`` stands for; :class:`LinkExpired` after its expiry, :class:`LinkInvalid` for anything we
    did not sign exactly so."""
    if len(token) > 2000:
        raise LinkInvalid("This is not a decision link of the customer center.")
    try:
        claims = jwt.decode(
            token,
            _key(secret),
            algorithms=["HS256"],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "sub", "aud", "iss"], "verify_exp": False},
        )
        link = DecisionLink(
            approver_id=UUID(str(claims["sub"])),
            order_id=UUID(str(claims["oid"])),
            version=int(claims["ver"]),
            action=claims["act"],
            expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
        )
    except (jwt.InvalidTokenError, KeyError, ValueError, TypeError) as exc:
        raise LinkInvalid("This is not a decision link of the customer center.") from exc
    if link.action not in ACTIONS or isinstance(claims["ver"], bool):
        raise LinkInvalid("This is not a decision link of the customer center.")
    if (now or datetime.now(UTC)) >= link.expires_at:
        raise LinkExpired("This link has expired: open the order in the shop to decide it.")
    return link


class DecisionLinkSecretMissing(RuntimeError):
    pass


def secret_in_force(service_name: str, env_prefix: str, profile: str, configured: str | None) -> str:
    """The secret the links are signed with: the configured one; in the development profile a development secret;
    else the service does not start (a link is a credential: no deployment signs with a known secret)."""
    if configured:
        _key(configured)
        return configured
    if profile == "development":
        return DEVELOPMENT_SECRET
    raise DecisionLinkSecretMissing(
        f"{service_name}: {env_prefix}DECISION_LINK_SECRET is not set and the profile is {profile!r}. The one-click "
        f"decision links of the approval mails need a secret of at least {MIN_SECRET_BYTES} bytes, the same in "
        "approval and notifications (ADR 0031); or KC_PROFILE=development on a developer's machine."
    )
