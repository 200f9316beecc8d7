"""Signing in: the shop's OpenID Connect provider (authorization code flow with PKCE), or, on the local stack, the
development token issuer. Either way the access token goes into the server-side session, never to the browser."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from frontend.session import Session
from frontend.settings import FrontendSettings


class SignInFailed(Exception):
    """The provider refused or answered something unusable; the message is for the log, not the page."""


@dataclass
class Tokens:
    access_token: str
    expires_in: float
    after: str = ""  # where the person wanted to go before signing in


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge) of RFC 7636."""
    verifier = _b64url(secrets.token_bytes(48))
    return verifier, _b64url(hashlib.sha256(verifier.encode()).digest())


def _claims(jwt: str) -> dict[str, Any]:
    """The payload of a JWT, unverified: only used for the ID token received straight from the token endpoint over
    TLS (OpenID Connect Core 3.1.3.7: TLS validates the issuer there), and only to check nonce and audience."""
    try:
        payload = jwt.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError) as exc:
        raise SignInFailed("the ID token is not a JWT") from exc
    if not isinstance(claims, dict):
        raise SignInFailed("the ID token's payload is not an object")
    return claims


class DevSignIn:
    """The local stack's development token issuer: a token for any e-mail address (refused in production)."""

    def __init__(self, settings: FrontendSettings, client: httpx.AsyncClient) -> None:
        self.url = settings.dev_issuer_token_url
        self.client = client

    async def token_for(self, email: str) -> Tokens:
        try:
            r = await self.client.post(self.url, json={"email": email, "ttl_s": 3600})
        except httpx.HTTPError as exc:
            raise SignInFailed(f"dev issuer unreachable: {exc!r}") from exc
        if r.status_code != 200:
            raise SignInFailed(f"dev issuer answered {r.status_code}")
        body = r.json()
        return Tokens(str(body["access_token"]), float(body.get("expires_in") or 3600))


class OidcSignIn:
    """Authorization code flow with PKCE (S256), state and nonce, against the provider's discovery document."""

    def __init__(self, settings: FrontendSettings, client: httpx.AsyncClient) -> None:
        if not (settings.oidc_issuer and settings.oidc_client_id and settings.oidc_redirect_url):
            raise ValueError(
                "FRONTEND_AUTH_MODE=oidc needs FRONTEND_OIDC_ISSUER, FRONTEND_OIDC_CLIENT_ID and FRONTEND_OIDC_REDIRECT_URL"
            )
        self.settings = settings
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.client = client
        self._discovery: dict[str, Any] | None = None
        self._discovered_at = 0.0

    async def discovery(self) -> dict[str, Any]:
        if self._discovery is None or time.monotonic() - self._discovered_at > 3600:
            try:
                r = await self.client.get(f"{self.issuer}/.well-known/openid-configuration")
                r.raise_for_status()
                doc = r.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise SignInFailed(f"discovery failed: {exc!r}") from exc
            for key in ("authorization_endpoint", "token_endpoint"):
                if not isinstance(doc.get(key), str):
                    raise SignInFailed(f"discovery document has no {key}")
            self._discovery, self._discovered_at = doc, time.monotonic()
        return self._discovery

    async def start(self, session: Session, after: str) -> str:
        """The provider's authorization URL; what the callback must check is kept in the session."""
        doc = await self.discovery()
        verifier, challenge = pkce_pair()
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        session.oidc = {"state": state, "nonce": nonce, "verifier": verifier, "after": after}
        params = {
            "response_type": "code",
            "client_id": self.settings.oidc_client_id,
            "redirect_uri": self.settings.oidc_redirect_url,
            "scope": self.settings.oidc_scopes,
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        if self.settings.oidc_audience:
            params["audience"] = self.settings.oidc_audience
        return f"{doc['authorization_endpoint']}?{urlencode(params)}"

    async def finish(self, session: Session, code: str, state: str) -> Tokens:
        pending, session.oidc = session.oidc, {}
        if not pending or not hmac.compare_digest(state.encode(), pending.get("state", "").encode()):
            raise SignInFailed("state does not match the sign-in this session started")
        doc = await self.discovery()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.settings.oidc_redirect_url,
            "client_id": self.settings.oidc_client_id,
            "code_verifier": pending["verifier"],
        }
        if self.settings.oidc_client_secret is not None:
            form["client_secret"] = self.settings.oidc_client_secret.get_secret_value()
        try:
            r = await self.client.post(doc["token_endpoint"], data=form, headers={"Accept": "application/json"})
            body = r.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise SignInFailed(f"token endpoint: {exc!r}") from exc
        if r.status_code != 200 or not isinstance(body.get("access_token"), str):
            raise SignInFailed(f"token endpoint answered {r.status_code}: {body.get('error')!r}")
        if isinstance(body.get("id_token"), str):
            claims = _claims(body["id_token"])
            audience = claims.get("aud")
            audiences = audience if isinstance(audience, list) else [audience]
            if claims.get("nonce") != pending["nonce"]:
                raise SignInFailed("the ID token's nonce is not this sign-in's")
            if self.settings.oidc_client_id not in audiences:
                raise SignInFailed("the ID token is not for this client")
            if str(claims.get("iss", "")).rstrip("/") != self.issuer:
                raise SignInFailed("the ID token's issuer is not the configured one")
        return Tokens(body["access_token"], float(body.get("expires_in") or 300), pending.get("after", ""))
