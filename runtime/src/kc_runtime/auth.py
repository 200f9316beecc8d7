"""Verification of the shop's JWTs against the identity provider's key set (JWKS).

Signature, issuer, audience and expiry are checked; the token only says *who* the caller is. What the
caller may do comes from the service's own read model of users (active? which company? which rights?).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import jwt
from fastapi import Depends, Request

from kc_runtime.errors import ApiError

ALGORITHMS = ["RS256", "ES256"]


@dataclass(frozen=True)
class Caller:
    subject: str
    email: str | None
    claims: dict


class TokenVerifier:
    def __init__(self, jwks_url: str, issuer: str, audience: str) -> None:
        self.issuer = issuer
        self.audience = audience
        # PyJWKClient caches the key set and refetches it when a token names an unknown key id.
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300, timeout=5)

    def verify(self, token: str) -> Caller:
        try:
            key = self._jwks.get_signing_key_from_jwt(token).key
            claims = jwt.decode(
                token,
                key=key,
                algorithms=ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
                leeway=10,
            )
        except jwt.PyJWKClientConnectionError as exc:
            raise ApiError(503, "identity_provider_unavailable", "Cannot verify tokens right now.") from exc
        except (jwt.PyJWTError, ValueError) as exc:
            raise ApiError(401, "invalid_token", "The access token is missing, invalid or expired.") from exc
        return Caller(subject=str(claims["sub"]), email=claims.get("email"), claims=claims)


def bearer_token(request: Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token or len(token) > 8192:
        raise ApiError(401, "invalid_token", "The access token is missing, invalid or expired.")
    return token.strip()


def caller_dependency(verifier: TokenVerifier):
    """A FastAPI dependency that yields the verified :class:`Caller` (401 otherwise)."""

    async def _caller(token: Annotated[str, Depends(bearer_token)]) -> Caller:
        import asyncio

        return await asyncio.to_thread(verifier.verify, token)

    return _caller
