"""Composition root of the notifications service."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI

from contracts.topics import USERS_USERS
from kc_runtime.auth import TokenVerifier, caller_dependency
from kc_runtime.blind_index import index_secret
from kc_runtime.decision_links import secret_in_force
from kc_runtime.fence import ReadFence
from kc_runtime.person_keys import PersonKeyClient
from kc_runtime.sealing import KeyRing
from kc_runtime.serve import serve
from kc_runtime.service import HttpApi, ServiceRuntime
from notifications.adapters.inbound.http import DigestSchedule, ops_router, preferences_router
from notifications.adapters.inbound.kafka import consumer_specs
from notifications.adapters.outbound.digests import TABLES, DigestScheduler
from notifications.adapters.outbound.dispatcher import DecisionLinkSigner, MailDispatcher
from notifications.adapters.outbound.smtp import SmtpSender
from notifications.adapters.outbound.templates import Templates
from notifications.application.mails import CallerError, CallerInactive, Mails
from notifications.domain.preferences import PreferenceError
from notifications.settings import NotificationsSettings


def create_app(
    settings: NotificationsSettings | None = None, caller: Any = None, key_ring: KeyRing | None = None
) -> FastAPI:
    """``caller``: the dependency that yields the verified caller (default: the JWT verifier of ``settings``;
    service tests pass a stand-in). ``key_ring``: the persons' keys (default: fetched from users' internal endpoint;
    service tests pass a ring over a stand-in)."""
    settings = settings or NotificationsSettings()
    # the persons' keys from users (ADR 0035): addresses and names are stored sealed with them and opened to send
    secret = index_secret(settings)  # each missing secret refuses the start, the index's first
    keys = PersonKeyClient.from_settings(settings) if key_ring is None else None
    ring = keys.key_ring() if keys is not None else key_ring
    mails = Mails(env=settings.eventsourcing_env(), index_secret=secret, key_ring=ring)
    zone = ZoneInfo(settings.digest_timezone)
    sender = SmtpSender(
        settings.smtp_host,
        settings.smtp_port,
        settings.mail_from,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        starttls=settings.smtp_starttls,
    )
    templates = Templates(timezone=settings.digest_timezone)
    schedulers: list[DigestScheduler] = []

    link_secret = settings.decision_link_secret.get_secret_value() if settings.decision_link_secret else None
    links = DecisionLinkSigner(
        secret_in_force(settings.service_name, "NOTIFICATIONS_", settings.profile, link_secret),
        timedelta(seconds=settings.decision_link_ttl_s),
        settings.decision_path_template,
    )

    def dispatcher(runtime: ServiceRuntime) -> MailDispatcher:
        return MailDispatcher(
            links=links,
            sender=sender,
            mails=mails,
            templates=templates,
            base_url=settings.shop_base_url,
            digest_hour=settings.digest_hour,
            digest_zone=zone,
            service=settings.service_name,
            dsn=settings.database_url.get_secret_value(),
            blocking=runtime.blocking,
            idle_interval_s=settings.relay_idle_interval_s,
        )

    def digest_scheduler(runtime: ServiceRuntime) -> DigestScheduler:
        scheduler = DigestScheduler(
            sender=sender,
            mails=mails,
            templates=templates,
            base_url=settings.shop_base_url,
            interval_s=settings.digest_check_interval_s,
            service=settings.service_name,
            dsn=settings.database_url.get_secret_value(),
            blocking=runtime.blocking,
            idle_interval_s=settings.relay_idle_interval_s,
        )
        schedulers.append(scheduler)
        return scheduler

    runtime = ServiceRuntime(
        settings,
        app=mails,
        consumers=consumer_specs(mails),
        followers=[dispatcher, digest_scheduler],
        api=HttpApi(
            title="Kundencenter notifications",
            description="E-mails to buyers, approvers and new customers: one mail per event and recipient, each user's "
            "choice per kind of mail (at once, a daily digest, or none).",
            errors={PreferenceError: 422, CallerError: 401, CallerInactive: 403},
        ),
        tables=[TABLES],
    )

    async def close_keys() -> None:
        if keys is not None:
            keys.close()

    runtime.on_shutdown.append(close_keys)
    if caller is None:
        caller = caller_dependency(TokenVerifier.from_settings(settings))
    fence = None
    if settings.fence_timeout_s > 0 and runtime.consumers:
        # who the caller is comes from the users topic: judge them on what users had answered (ADR 0012)
        fence = ReadFence(settings, [USERS_USERS], runtime.consumers[0], settings.fence_timeout_s)
        runtime.on_startup.append(fence.start)
        runtime.on_shutdown.append(fence.stop)
    schedule = DigestSchedule(hour=settings.digest_hour, timezone=settings.digest_timezone)
    runtime.include_router(preferences_router(mails, runtime.blocking, caller, schedule, fence=fence))
    runtime.http.include_router(
        ops_router(schedulers[0] if schedulers else None), dependencies=[runtime.operator], include_in_schema=False
    )
    runtime.http.state.runtime = runtime
    return runtime.http


def run() -> None:
    serve(create_app, NotificationsSettings())
