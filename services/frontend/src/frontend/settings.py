"""Settings of the frontend (``FRONTEND_…`` environment variables)."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_SESSION_SECRET = "development-only-frontend-session-secret"  # noqa: S105  # local stack and tests only


class FrontendSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FRONTEND_", extra="ignore")

    service_name: str = "frontend"
    http_host: str = "127.0.0.1"
    http_port: int = 8106
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="Proxies (comma-separated) whose X-Forwarded-For and X-Forwarded-Proto are believed (the gateway)",
    )
    log_level: str = "INFO"
    log_format: Literal["json", "console"] = "json"

    base_path: str = Field(
        default="/kundencenter",
        description="Where the gateway routes the pages (every link and the cookie path start with it)",
    )
    api_base_url: str = Field(
        default="http://127.0.0.1:8080",
        description="The Kundencenter API as this backend-for-frontend calls it: the gateway (in a cluster its "
        "Service, e.g. http://gateway)",
    )
    api_timeout_s: float = Field(default=30.0, gt=0, description="Timeout of one API call")

    cookie_secure: bool = Field(
        default=True,
        description="Session and CSRF cookies only over HTTPS (browsers also accept them on http://127.0.0.1 and "
        "localhost). Only a plain-HTTP test host needs false",
    )
    session_ttl_s: int = Field(
        default=8 * 3600, ge=60, description="A session ends this long after sign-in (or earlier with its token)"
    )
    session_idle_s: int = Field(default=3600, ge=60, description="A session unused this long ends")
    session_secret: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_SESSION_SECRET),
        min_length=16,
        description="Secret the session cookies are sealed with (AES-GCM; at least 16 bytes, the same in every "
        "replica). Required in production; changing it signs everybody out",
    )

    auth_mode: Literal["dev", "oidc"] = Field(
        default="oidc",
        description="How people sign in: oidc (the shop's OpenID Connect provider, authorization code flow with "
        "PKCE) or dev (the development token issuer of the local stack: a form that asks for an e-mail address; "
        "refused in the production profile)",
    )
    dev_issuer_token_url: str = Field(
        default="http://127.0.0.1:8080/dev-auth/token", description="auth_mode=dev: the issuer's token endpoint"
    )
    oidc_issuer: str | None = Field(
        default=None,
        description="auth_mode=oidc: the provider's issuer URL ({issuer}/.well-known/openid-configuration is read)",
    )
    oidc_client_id: str | None = Field(default=None, description="auth_mode=oidc: this frontend's client id")
    oidc_client_secret: SecretStr | None = Field(
        default=None, description="auth_mode=oidc: client secret, for a confidential client (PKCE is used either way)"
    )
    oidc_redirect_url: str | None = Field(
        default=None,
        description="auth_mode=oidc: the callback URL registered at the provider, e.g. "
        "https://shop.example/kundencenter/auth/callback",
    )
    oidc_scopes: str = Field(default="openid email profile", description="auth_mode=oidc: scopes asked for")
    oidc_audience: str | None = Field(
        default=None,
        description="auth_mode=oidc: `audience` parameter of the authorization request, for providers that need "
        "it to issue an access token for the Kundencenter API (aud kundencenter)",
    )
    oidc_logout_url: str | None = Field(
        default=None, description="auth_mode=oidc: where to send the browser after signing out (end_session)"
    )
    profile: Literal["development", "production"] = Field(
        default_factory=lambda: "production" if os.environ.get("KC_PROFILE") == "production" else "development",
        description="production (set by the image through KC_PROFILE): the development sign-in is refused",
    )
