"""Composition root of the users service."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import structlog
from fastapi import FastAPI

from kc_runtime.auth import Caller, TokenVerifier
from kc_runtime.blind_index import index_secret
from kc_runtime.published import Publication, answer_when_published
from kc_runtime.schema import Tables
from kc_runtime.serve import serve
from kc_runtime.service import HttpApi, ServiceRuntime
from kc_runtime.tokens import TokenIssuer
from users.adapters.inbound.http import users_routers
from users.adapters.inbound.internal import internal_router
from users.adapters.inbound.kafka import consumer_specs
from users.adapters.outbound.person_keys import PERSON_KEYS_TABLE, PostgresPersonKeys
from users.adapters.outbound.read_model import SCHEMA, PostgresReadModel, ProjectingRecorder
from users.adapters.outbound.translator import make_translator
from users.application.directory import Directory
from users.application.read_model import InMemoryReadModel
from users.domain.errors import Conflict, Forbidden, Gone, Invalid, NotFound, Unauthenticated, VersionMismatch
from users.settings import DEVELOPMENT_EMAIL_CHANGE_SECRET, UsersSettings

log = structlog.get_logger("users")

DOMAIN_ERRORS: dict[type[Exception], int] = {
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    Gone: 410,
    VersionMismatch: 412,
    Invalid: 422,
}


def build_directory(settings: UsersSettings, *, catch_up: bool = True) -> Directory:
    """The application on the configured store: PostgreSQL with the read model in the events' transaction, or
    memory (``memory://``) with the in-memory read model. ``catch_up=False``: the caller catches the read model
    up later (the service does it at start, after the runtime checked that its tables exist)."""
    env = settings.eventsourcing_env()
    secret = index_secret(settings)  # no start without it outside the development profile (ADR 0035)
    if env["PERSISTENCE_MODULE"] == "eventsourcing.popo":
        return Directory(env=env, index_secret=secret)
    env["PROCESS_RECORDER_TOPIC"] = f"{ProjectingRecorder.__module__}:{ProjectingRecorder.__qualname__}"
    directory = Directory(
        env=env,
        read_model_factory=PostgresReadModel,
        person_keys_factory=PostgresPersonKeys,
        index_secret=secret,
    )
    if catch_up:
        catch_up_read_model(directory)
    return directory


def catch_up_read_model(directory: Directory) -> None:
    # Normally a no-op (the read model is written with every save); after a new deployment of the read
    # model's tables, or a rebuild, it replays what they have not seen.
    applied = directory.catch_up_read_model()
    if applied:
        log.info("read model caught up", notifications=applied)


def create_app(settings: UsersSettings | None = None, verify_token: Callable[[str], Caller] | None = None) -> FastAPI:
    settings = settings or UsersSettings()
    directory = build_directory(settings, catch_up=False)
    postgres = not isinstance(directory.read_model, InMemoryReadModel)

    async def caught_up() -> None:
        if postgres:
            await asyncio.to_thread(catch_up_read_model, directory)

    secret = settings.email_change_token_secret.get_secret_value()
    if secret == DEVELOPMENT_EMAIL_CHANGE_SECRET:
        log.warning("USERS_EMAIL_CHANGE_TOKEN_SECRET is not set: using the development secret (local stack only)")
    tokens = TokenIssuer(secret.encode())
    runtime = ServiceRuntime(
        settings,
        app=directory,
        translate=make_translator(tokens, settings.email_change_confirm_path_template),
        consumers=consumer_specs(directory),
        api=HttpApi(
            title="Kundencenter users",
            description="Companies, users, roles and rights, budgets and approvers. Every call needs the shop's "
            "JWT; the token's (issuer, subject) names the user (bound at the first sign-in by a verified e-mail), and "
            "everything else comes from our own state.",
            errors=DOMAIN_ERRORS,
        ),
        # The read model's tables come with the event store's (the recorder's CREATE statements), the keys' with
        # migration 0002: only checked.
        tables=[Tables.of(*SCHEMA, create=False), Tables.of(PERSON_KEYS_TABLE, create=False)] if postgres else [],
        on_startup=[caught_up],
    )
    if verify_token is None:
        verify_token = TokenVerifier.from_settings(settings).verify
    email_change_ttl = timedelta(seconds=settings.email_change_ttl_s)
    for router in users_routers(directory, runtime.blocking, verify_token, tokens, email_change_ttl):
        runtime.include_router(router)
    runtime.include_router(internal_router(directory, runtime.blocking, settings))
    if postgres and settings.publish_wait_s > 0:
        # A change is in force when it is acknowledged: answered once its event is on Kafka (ADR 0012).
        publication = Publication(
            service=settings.service_name,
            relay=runtime.relay,
            relay_name=f"{settings.service_name}:{directory.name}",
            dsn=settings.database_url.get_secret_value(),
            timeout_s=settings.publish_wait_s,
        )
        answer_when_published(runtime.http, publication, lambda: runtime.blocking.run(directory.max_notification_id))
        runtime.on_shutdown.append(publication.close)
    runtime.http.state.runtime = runtime
    return runtime.http


def run() -> None:
    serve(create_app, UsersSettings())
