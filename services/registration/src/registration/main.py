"""Composition root of the registration service."""

from __future__ import annotations

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from kc_runtime.blind_index import index_secret
from kc_runtime.errors import error_response
from kc_runtime.person_keys import PersonKeyClient
from kc_runtime.sealing import KeyRing
from kc_runtime.serve import serve
from kc_runtime.service import HttpApi, ServiceRuntime
from registration.adapters.inbound.http import ops_router, registrations_router
from registration.adapters.inbound.kafka import consumer_specs
from registration.adapters.outbound.translator import make_translator
from registration.application.registrations import KeyReservation, RegistrationPolicy, Registrations
from registration.application.tokens import TokenIssuer
from registration.domain.lockout import LockoutPolicy, TooManyAttempts
from registration.domain.model import (
    PUBLIC_MESSAGES,
    AlreadyRegistered,
    ConfirmationTokenExpired,
    ConfirmationTokenInvalid,
    ConfirmationTokenUsed,
    EmailTaken,
    NotAwaitingConfirmation,
    RegistrationNotFound,
)
from registration.settings import DEVELOPMENT_TOKEN_SECRET, RegistrationSettings

log = structlog.get_logger("registration")


def create_app(
    settings: RegistrationSettings | None = None,
    *,
    key_ring: KeyRing | None = None,
    reserve_key: KeyReservation | None = None,
) -> FastAPI:
    """``key_ring`` and ``reserve_key``: the persons' keys and users making a new applicant's key (ADR 0035, 0040);
    by default users' internal endpoint (``PersonKeyClient``); service tests pass stand-ins."""
    settings = settings or RegistrationSettings()
    secret = index_secret(settings)
    if key_ring is None:
        keys = PersonKeyClient.from_settings(settings)
        key_ring, reserve_key = keys.key_ring(), keys.reserve
    tokens = TokenIssuer(settings.token_secret.get_secret_value().encode())
    policy = RegistrationPolicy(
        per_customer_at_address=LockoutPolicy(
            settings.lockout_max_failures_per_customer_at_address,
            settings.lockout_window_s,
            settings.lockout_duration_s,
        ),
        per_customer=LockoutPolicy(
            settings.lockout_max_failures_per_customer,
            settings.lockout_customer_window_s,
            settings.lockout_customer_duration_s,
        ),
        per_address=LockoutPolicy(
            settings.lockout_max_failures_per_address, settings.lockout_window_s, settings.lockout_duration_s
        ),
        confirmation_ttl_s=settings.confirmation_ttl_s,
        max_confirmation_failures=settings.confirmation_max_failures,
    )
    registrations = Registrations(
        env=settings.eventsourcing_env(),
        policy=policy,
        tokens=tokens,
        index_secret=secret,
        key_ring=key_ring,  # seals the applicant's values, opens users' (ADR 0035, 0040)
        reserve_key=reserve_key,
    )
    runtime = ServiceRuntime(
        settings,
        app=registrations,
        translate=make_translator(tokens, settings.confirm_path_template),
        consumers=consumer_specs(registrations),
        api=HttpApi(
            title="Kundencenter registration",
            description="Self-registration of business customers through the ERP.",
            errors={
                RegistrationNotFound: 404,
                ConfirmationTokenInvalid: 400,
                ConfirmationTokenExpired: 410,
                ConfirmationTokenUsed: 409,
                NotAwaitingConfirmation: 409,
                AlreadyRegistered: 409,
                EmailTaken: 409,
            },
        ),
    )

    async def too_many_attempts(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, TooManyAttempts)
        response = error_response(429, exc.code, PUBLIC_MESSAGES["too_many_attempts"])
        response.headers["Retry-After"] = str(exc.retry_after_s)
        return response

    runtime.http.add_exception_handler(TooManyAttempts, too_many_attempts)
    runtime.include_router(registrations_router(registrations, runtime.blocking))
    runtime.include_router(ops_router(registrations, runtime.blocking))
    runtime.http.state.runtime = runtime
    return runtime.http


def run() -> None:
    settings = RegistrationSettings()
    if settings.token_secret.get_secret_value() == DEVELOPMENT_TOKEN_SECRET:
        log.warning("REGISTRATION_TOKEN_SECRET is not set: using the development secret (local stack only)")
    serve(create_app, settings)
