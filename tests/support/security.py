"""Security tests' helpers: tokens an attacker could bring, and two companies whose data must never mix.

:func:`bad_token` makes tokens that name a real user and must all be refused with 401 ``invalid_token``
(forged from a valid one, or issued with a wrong expiry, audience or issuer). :func:`tenant` builds a company through the gateway (main contact, buyer, service technician, spare
users, a custom role, orders, ERP contacts) and collects every id and name that identifies its data, so a test
can scan another company's responses for them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import eventually
from tests.support.shop import BUDGET, Shop
from tests.support.users import JourneyCompany, UsersApi, erp_contact

# ---- tokens ------------------------------------------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def token_parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    return json.loads(_unb64(header)), json.loads(_unb64(payload)), signature


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


def bare(headers: dict[str, str]) -> str:
    """The token of an ``Authorization: Bearer ...`` header."""
    return headers["Authorization"].removeprefix("Bearer ")


# Kinds of tokens that name a real, active user and must nevertheless be refused (401 invalid_token).
# ``expired`` and ``wrong_audience``/``wrong_issuer`` come from the dev issuer (properly signed, wrong claims);
# the others are forged from a valid token.
FORGED_KINDS = (
    "reversed_signature",
    "tampered_claims",
    "alg_none",
    "foreign_key_same_kid",
    "hs256_with_public_key",
    "expired",
    "wrong_audience",
    "wrong_issuer",
    "not_a_jwt",
)


_FOREIGN_KEY: rsa.RSAPrivateKey | None = None


def _foreign_key() -> rsa.RSAPrivateKey:
    global _FOREIGN_KEY
    if _FOREIGN_KEY is None:
        _FOREIGN_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _FOREIGN_KEY


def forge(kind: str, valid: str, *, victim_email: str, jwks: dict[str, Any]) -> str:
    """A token of ``kind`` derived from ``valid`` (a token the dev issuer signed for someone else), claiming
    to be ``victim_email``. For the issuer-made kinds use :func:`issued_token`."""
    header, claims, signature = token_parts(valid)
    if kind == "reversed_signature":
        return f"{valid.rsplit('.', 1)[0]}.{signature[::-1]}"
    if kind == "tampered_claims":  # the attacker's own signature over somebody else's claims
        return f"{_unsigned(header, {**claims, 'email': victim_email})}.{signature}"
    if kind == "alg_none":
        return _unsigned({"alg": "none", "typ": "JWT"}, {**claims, "email": victim_email}) + "."
    if kind == "foreign_key_same_kid":
        return jwt.encode(
            {**claims, "email": victim_email}, _foreign_key(), algorithm="RS256", headers={"kid": header["kid"]}
        )
    if kind == "hs256_with_public_key":  # algorithm confusion: HMAC keyed with the issuer's public key
        jwk = next(k for k in jwks["keys"] if k.get("kid") == header.get("kid"))
        public_key = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(jwk))
        public_pem = public_key.public_bytes(  # type: ignore[union-attr]
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        signing_input = _unsigned(
            {"alg": "HS256", "typ": "JWT", "kid": header["kid"]}, {**claims, "email": victim_email}
        )
        mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(mac)}"
    if kind == "not_a_jwt":
        return "definitely-not-a-jwt"
    raise ValueError(f"not a forged kind: {kind}")


async def issued_token(kind: str, token: Callable[..., Awaitable[str]], email: str) -> str:
    """A token the dev issuer signed properly, but with a claim that must make every service refuse it."""
    if kind == "expired":
        past = int(time.time()) - 3600
        return await token(email=email, extra_claims={"iat": past - 60, "nbf": past - 60, "exp": past})
    if kind == "wrong_audience":
        return await token(email=email, audience="other-app")
    if kind == "wrong_issuer":
        return await token(email=email, extra_claims={"iss": "https://idp.evil.example"})
    raise ValueError(f"not an issued kind: {kind}")


ISSUED_KINDS = frozenset({"expired", "wrong_audience", "wrong_issuer"})


async def bad_token(kind: str, *, gateway: Any, token: Any, valid: str, victim_email: str) -> str:
    if kind in ISSUED_KINDS:
        return await issued_token(kind, token, victim_email)
    jwks = (await gateway.get("/dev-auth/jwks.json")).json()
    return forge(kind, valid, victim_email=victim_email, jwks=jwks)


# ---- two companies -------------------------------------------------------------------------------------------


@dataclass
class Tenant:
    """A company with people and data, as its callers and as the ids another company must never see."""

    shop: Shop
    company: JourneyCompany
    callers: dict[str, dict[str, str]]
    """Authorization headers by role: ``main_contact``, ``buyer``, ``service_technician``."""
    ids: dict[str, list[str]]
    """Ids of its data by the name the API gives them: user_id, role_id, order_id, erp_contact_id."""
    targets: dict[str, list[str]] = field(default_factory=dict)
    """The ids of ``ids`` that the company's own callers may change without losing their own access (the
    spare users rather than the callers themselves)."""
    markers: set[str] = field(default_factory=set)
    """Every id and name that identifies this company's data (ids, e-mail addresses, customer number)."""

    def found_in(self, text: str, *, unless_in: str = "") -> set[str]:
        """The markers that appear in ``text`` (case-insensitive), ignoring those that appear in ``unless_in``
        (a caller may of course read back what they sent)."""
        low, sent = text.lower(), unless_in.lower()
        return {m for m in self.markers if m.lower() in low and m.lower() not in sent}


async def tenant(users_api: UsersApi, *, spare_users: int = 2) -> Tenant:
    """A company through the gateway, known to approval: main contact, a buyer with a budget, a service
    technician, ``spare_users`` further users (targets for the company's own administration), a custom role,
    an order within budget and one over budget, two ERP contacts."""
    contacts = [erp_contact("Erna"), erp_contact("Egon")]
    company = await users_api.company(erp_contacts=contacts)
    shop = Shop(users_api, company)
    await eventually(lambda: shop.known_to_approval(company.main), what="approval to know the main contact")
    gw = users_api.gateway
    buyer, buyer_h = await shop.person(["buyer"], budget=BUDGET)
    tech, tech_h = await shop.person(["service_technician"])
    spares = [(await shop.person(["buyer", "approver"] if i % 2 else ["buyer"]))[0] for i in range(spare_users)]
    r = await gw.post(
        "/api/roles",
        json={"name": f"Rolle {uuid4().hex[:8]}", "permissions": ["view_reports", "view_data_sheets"]},
        headers=company.main,
    )
    assert r.status_code == 201, r.text
    role = r.json()
    released = await shop.order(buyer_h, quantity=1)
    pending = await shop.order(buyer_h, quantity=12)
    assert (released["status"], pending["status"]) == ("released", "pending_approval")
    users = [buyer, tech, *spares]
    t = Tenant(
        shop=shop,
        company=company,
        callers={"main_contact": company.main, "buyer": buyer_h, "service_technician": tech_h},
        ids={
            "user_id": [company.main_id, *(u["id"] for u in users)],
            "role_id": [role["id"]],
            "order_id": [released["id"], pending["id"]],
            "erp_contact_id": [c.erp_contact_id for c in contacts],
        },
    )
    predefined = ["buyer", "approver", "service_technician", "controller", "main_contact"]
    t.targets = {**t.ids, "user_id": [u["id"] for u in spares], "role_id": [role["id"], *predefined]}
    t.markers = {
        company.id,
        company.main_email,
        company.registration.company.customer_number,
        str(company.registration.registration_id),
        *(v for vs in t.ids.values() for v in vs),
        *(u["email"] for u in users),
        *(str(c.email) for c in contacts if c.email),
    }
    return t


def request_text(method: str, url: str, body: Any) -> str:
    """What a caller sent, as text (to tell an echo of their own input from a leak)."""
    if isinstance(body, bytes):
        sent = body.decode("utf-8", errors="replace")
    elif body is None:
        sent = ""
    else:
        try:
            sent = json.dumps(body, default=str, ensure_ascii=False)
        except (TypeError, ValueError):
            sent = repr(body)
    return f"{method} {url} {sent}"


def error_code(body: Any) -> str | None:
    """``body["error"]["code"]`` if ``body`` is the services' error envelope, else None."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = body["error"].get("code")
        return code if isinstance(code, str) and code else None
    return None
