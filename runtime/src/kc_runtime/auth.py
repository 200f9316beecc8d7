"""Verification of the shop's JWTs against the identity provider's key set (JWKS).

Signature, issuer, audience and expiry are checked, and the claims we read (``sub``, ``email``,
``email_verified``) must have the right type: anything else is a 401 ``invalid_token``, never a 500. The
token only says *who* the caller is — the provider's (issuer, subject), and an e-mail address the provider may
have verified; what the caller may do comes from the service's own read model of users.

The key set is cached for at most ``keys_max_age_s``: a key the provider removed from its JWKS stops being
trusted within that time. A token naming a key id the cached set does not hold causes at most one extra fetch
per ``unknown_kid_refresh_s`` (PyJWT's ``cooldown_duration``), so random key ids cannot make us hammer the
provider. Individual keys are not cached on their own (PyJWT's ``cache_keys`` LRU never expires, which would
keep a removed key trusted until a restart).

A verified token is remembered (key: the token as sent) so that a caller's next requests skip the signature check:
until its ``exp``, and only while the key set that verified it is the current one and within its age — a refreshed
key set (every ``keys_max_age_s``, or earlier for an unknown key id) forgets every token verified with the one
before, so a removed key stops being trusted within the same time as without the cache. Only tokens that passed
every check are remembered; the same string always carries the same claims, so issuer, audience and the claims'
shape need no second look, and what the caller may do is still decided per request by the service.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Protocol

import jwt
from fastapi import Request

from kc_runtime.errors import ApiError

ALGORITHMS = ["RS256", "ES256"]
SUBJECT_MAX = 255
EMAIL_MAX = 320


@dataclass(frozen=True)
class Caller:
    """Who the token says the caller is. ``(issuer, subject)`` is the identity; ``email`` (with the provider's
    ``email_verified``) only finds an invited user at their first sign-in."""

    subject: str
    email: str | None
    claims: dict[str, Any] = field(default_factory=dict, compare=False)
    issuer: str = ""
    email_verified: bool = False

    @property
    def verified_email(self) -> str | None:
        return self.email if self.email_verified else None


class JwtSettings(Protocol):
    jwks_url: str
    jwt_issuer: str
    jwt_audience: str
    jwks_max_age_s: float
    jwks_unknown_kid_refresh_s: float


def _invalid(claim: str | None = None) -> ApiError:
    if claim:
        return ApiError(401, "invalid_token", f"The access token's {claim} claim is malformed.")
    return ApiError(401, "invalid_token", "The access token is missing, invalid or expired.")


def caller_from_claims(claims: dict[str, Any]) -> Caller:
    """The caller named by verified claims; claims of the wrong type or shape → 401 ``invalid_token``."""
    sub, iss, email, verified = claims.get("sub"), claims.get("iss"), claims.get("email"), claims.get("email_verified")
    if not isinstance(sub, str) or not sub.strip() or len(sub) > SUBJECT_MAX:
        raise _invalid("sub")
    if not isinstance(iss, str):
        raise _invalid("iss")
    if email is not None:
        if not isinstance(email, str) or len(email) > EMAIL_MAX or "@" not in email:
            raise _invalid("email")
        if any(ch.isspace() or ord(ch) < 32 for ch in email):
            raise _invalid("email")
    if verified is not None and not isinstance(verified, bool):
        raise _invalid("email_verified")
    return Caller(subject=sub, email=email, claims=claims, issuer=iss, email_verified=verified is True)


class _KeySet(jwt.PyJWKClient):
    """PyJWT's JWKS client, counting its fetches: a token verified with one key set is trusted from memory only
    while that set is the current one (``generation``) and younger than its age (``fresh_until``)."""

    def __init__(self, uri: str, *, lifespan: float, **options: Any) -> None:
        super().__init__(uri, lifespan=lifespan, **options)
        self.lifespan = lifespan
        self.generation = 0
        self.fresh_until = float("-inf")

    def fetch_data(self) -> Any:
        started = time.monotonic()  # the set is at least this new; PyJWT's own age counts from a moment later
        data = super().fetch_data()
        self.generation += 1
        self.fresh_until = started + self.lifespan
        return data

    def signing_key_of(self, token: str) -> tuple[Any, int, float]:
        """The key for ``token``, with the generation and freshness of the set it came from (PyJWT fetches only
        under its client lock, so the set cannot change between the two)."""
        with self._client_lock:
            key = self.get_signing_key_from_jwt(token).key
            return key, self.generation, self.fresh_until


@dataclass(frozen=True, slots=True)
class _Verified:
    caller: Caller
    generation: int
    fresh_until: float
    """monotonic: when the key set that verified it has to be fetched again"""
    expires: float
    """wall clock: the token's ``exp``"""


class TokenVerifier:
    def __init__(
        self,
        jwks_url: str,
        issuer: str,
        audience: str,
        *,
        keys_max_age_s: float = 300,
        unknown_kid_refresh_s: float = 30,
        remembered_tokens: int = 10_000,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.remembered_tokens = remembered_tokens
        self._verified: OrderedDict[str, _Verified] = OrderedDict()
        self._lock = threading.Lock()  # verify() runs in worker threads, cached() on the event loop
        self._jwks = _KeySet(
            jwks_url,
            cache_keys=False,
            cache_jwk_set=True,
            lifespan=keys_max_age_s,
            cooldown_duration=unknown_kid_refresh_s,
            timeout=5,
        )

    @classmethod
    def from_settings(cls, settings: JwtSettings) -> TokenVerifier:
        return cls(
            settings.jwks_url,
            settings.jwt_issuer,
            settings.jwt_audience,
            keys_max_age_s=settings.jwks_max_age_s,
            unknown_kid_refresh_s=settings.jwks_unknown_kid_refresh_s,
        )

    def cached(self, token: str) -> Caller | None:
        """The caller of a token verified before, if that still holds (see the module's docstring); else None."""
        with self._lock:
            found = self._verified.get(token)
            if found is None:
                return None
            if (
                found.generation == self._jwks.generation
                and time.monotonic() < found.fresh_until
                and time.time() < found.expires
            ):
                self._verified.move_to_end(token)
                return found.caller
            del self._verified[token]
            return None

    def verify(self, token: str) -> Caller:
        known = self.cached(token)
        if known is not None:
            return known
        caller, generation, fresh_until = self._verify(token)
        exp = caller.claims.get("exp")
        if isinstance(exp, int | float) and self.remembered_tokens > 0:
            with self._lock:
                self._verified[token] = _Verified(caller, generation, fresh_until, float(exp))
                self._verified.move_to_end(token)
                while len(self._verified) > self.remembered_tokens:
                    self._verified.popitem(last=False)
        return caller

    def _verify(self, token: str) -> tuple[Caller, int, float]:
        try:
            key, generation, fresh_until = self._jwks.signing_key_of(token)
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
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise _invalid() from exc
        if not isinstance(claims, dict):
            raise _invalid()
        return caller_from_claims(claims), generation, fresh_until


def bearer_token(request: Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token or len(token) > 8192:
        raise _invalid()
    return token.strip()


def caller_dependency(verifier: TokenVerifier):
    """A FastAPI dependency that yields the verified :class:`Caller` (401 otherwise). One dependency, reading the
    header itself: FastAPI resolves each dependency of every request anew (and runs a plain ``def`` one in a
    thread), so nesting ``bearer_token`` would cost a thread hop and a resolution per request."""

    async def _caller(request: Request) -> Caller:
        token = bearer_token(request)
        # A token seen before is answered here, without a hop into a thread; a new one may need the JWKS (I/O).
        known = verifier.cached(token)
        if known is not None:
            return known
        return await asyncio.to_thread(verifier.verify, token)

    return _caller
