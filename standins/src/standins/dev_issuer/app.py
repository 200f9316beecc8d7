"""HTTP API of the development token issuer."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
import structlog
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from standins._common import add_health_routes, refuse_to_start, serve, setup_logging
from standins.dev_issuer.keys import SigningKey, generate, load_or_create
from standins.dev_issuer.settings import DevIssuerSettings

log = structlog.get_logger("standins.dev_issuer")

TOKEN_PATH = "/dev-auth/token"
JWKS_PATH = "/.well-known/jwks.json"


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sub: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="The subject; default: a stable subject derived from `email` (the same address always gets "
        "the same subject, as one account at an identity provider would)",
    )
    email: str | None = Field(default=None, max_length=320)
    email_verified: bool | None = Field(
        default=None, description="The provider's `email_verified` claim; default: true when an e-mail is given"
    )
    company_id: str | None = Field(default=None, max_length=255)
    kid: str | None = Field(
        default=None, max_length=100, description="Sign with this extra key (`POST /admin/keys`); default: the main key"
    )
    ttl_s: int = Field(default=3600, ge=1, description="Lifetime in seconds (at most DEV_ISSUER_MAX_TTL_S)")
    audience: str = Field(default="kundencenter", min_length=1)
    extra_claims: dict[str, Any] = Field(
        default_factory=dict,
        description="Added to the token last, so they may also replace a standard claim (e.g. `iss` or "
        "`exp` for negative tests)",
    )


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int


_SUBJECTS = uuid.uuid5(uuid.NAMESPACE_URL, "urn:kundencenter:dev-issuer:subjects")


def stable_subject(email: str) -> str:
    """The subject the dev issuer gives an e-mail address when no subject is asked for (case-insensitive)."""
    return f"dev|{uuid.uuid5(_SUBJECTS, email.strip().lower())}"


def issue(key: SigningKey, issuer: str, request: TokenRequest) -> tuple[str, dict[str, Any]]:
    now = int(time.time())
    if request.sub is not None:
        sub = request.sub
    elif request.email is not None:
        sub = stable_subject(request.email)
    else:
        sub = f"dev|{uuid.uuid4()}"
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": request.audience,
        "sub": sub,
        "iat": now,
        "nbf": now,
        "exp": now + request.ttl_s,
        "jti": str(uuid.uuid4()),
    }
    if request.email is not None:
        claims["email"] = request.email
        claims["email_verified"] = True if request.email_verified is None else request.email_verified
    elif request.email_verified is not None:
        claims["email_verified"] = request.email_verified
    if request.company_id is not None:
        claims["company_id"] = request.company_id
    claims.update(request.extra_claims)
    token = jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid, "typ": "JWT"})
    return token, claims


def create_app(settings: DevIssuerSettings | None = None, key: SigningKey | None = None) -> FastAPI:
    settings = settings or DevIssuerSettings()
    key = key or load_or_create(settings.key_file, settings.kid)
    issuer = settings.issuer.rstrip("/")
    app = FastAPI(
        title="dev-issuer (stand-in)",
        description="Development token issuer standing in for the shop's identity provider. "
        "Local stack and tests only; never deployed.",
        version="0.1.0",
    )
    app.state.signing_key = key
    extra: dict[str, SigningKey] = {}  # keys added for key-rotation tests; never saved

    async def readiness() -> dict[str, str]:
        return {"signing_key": "ok" if app.state.signing_key is not None else "missing"}

    add_health_routes(app, readiness)

    @app.get(JWKS_PATH, summary="The public key set (JWKS)")
    @app.get("/dev-auth/jwks.json", summary="The public key set (JWKS), reachable through the gateway")
    async def jwks() -> dict[str, Any]:
        return {"keys": [key.public_jwk(), *(k.public_jwk() for k in extra.values())]}

    @app.post("/admin/keys", status_code=201, summary="Add a signing key to the JWKS (key-rotation tests)")
    async def add_key() -> dict[str, str]:
        added = SigningKey(generate(), f"extra-{uuid.uuid4().hex[:12]}", "generated")
        extra[added.kid] = added
        log.info("signing key added", kid=added.kid)
        return {"kid": added.kid}

    @app.delete("/admin/keys/{kid}", status_code=204, summary="Remove an added key from the JWKS (a revoked key)")
    async def remove_key(kid: str) -> None:
        if extra.pop(kid, None) is None:
            raise HTTPException(404, f"no added key {kid}")
        log.info("signing key removed", kid=kid)

    @app.get("/.well-known/openid-configuration", summary="Minimal discovery document")
    async def discovery() -> dict[str, Any]:
        return {
            "issuer": settings.issuer,
            "jwks_uri": f"{issuer}{JWKS_PATH}",
            "token_endpoint": f"{issuer}{TOKEN_PATH}",
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["none"],
        }

    @app.post(TOKEN_PATH, response_model=TokenResponse, summary="Mint an access token for any subject")
    async def token(request: TokenRequest) -> TokenResponse:
        if request.ttl_s > settings.max_ttl_s:
            raise HTTPException(422, f"ttl_s must be at most {settings.max_ttl_s}")
        signing = key
        if request.kid is not None:
            if request.kid not in extra:
                raise HTTPException(422, f"no added key {request.kid}")
            signing = extra[request.kid]
        access_token, claims = issue(signing, settings.issuer, request)
        exp, iat = claims.get("exp"), claims.get("iat")
        expires_in = exp - iat if isinstance(exp, int) and isinstance(iat, int) else request.ttl_s
        log.info(
            "token issued",
            sub=claims.get("sub"),
            aud=claims.get("aud"),
            company_id=claims.get("company_id"),
            jti=claims.get("jti"),
            expires_in=expires_in,
        )
        return TokenResponse(access_token=access_token, expires_in=expires_in)

    return app


def run() -> None:
    settings = DevIssuerSettings()
    setup_logging(settings)
    if not settings.enabled:
        refuse_to_start(
            settings.service_name,
            "DEV_ISSUER_ENABLED is not true. This development token issuer signs tokens for anyone and must "
            "never run outside the local stack or tests; set DEV_ISSUER_ENABLED=true to start it.",
        )
    try:
        key = load_or_create(settings.key_file, settings.kid)
    except (OSError, ValueError) as exc:
        refuse_to_start(settings.service_name, f"cannot load the signing key from {settings.key_file}: {exc}")
        raise  # not reached
    log.info(
        "signing key ready",
        kid=key.kid,
        source=key.source,
        key_file=str(settings.key_file) if settings.key_file else None,
        issuer=settings.issuer,
    )
    serve(create_app(settings, key), settings)
