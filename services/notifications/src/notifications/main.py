"""Composition root of the notifications service."""

from __future__ import annotations

from fastapi import FastAPI

from kc_runtime.serve import serve
from kc_runtime.service import ServiceRuntime
from notifications.adapters.inbound.kafka import consumer_specs
from notifications.adapters.outbound.dispatcher import MailDispatcher
from notifications.adapters.outbound.smtp import SmtpSender
from notifications.adapters.outbound.templates import Templates
from notifications.application.mails import Mails
from notifications.settings import NotificationsSettings


def create_app(settings: NotificationsSettings | None = None) -> FastAPI:
    settings = settings or NotificationsSettings()
    mails = Mails(env=settings.eventsourcing_env())
    sender = SmtpSender(
        settings.smtp_host,
        settings.smtp_port,
        settings.mail_from,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        starttls=settings.smtp_starttls,
    )

    def dispatcher(runtime: ServiceRuntime) -> MailDispatcher:
        return MailDispatcher(
            sender=sender,
            mails=mails,
            templates=Templates(),
            base_url=settings.shop_base_url,
            service=settings.service_name,
            dsn=settings.database_url.get_secret_value(),
            blocking=runtime.blocking,
            idle_interval_s=settings.relay_idle_interval_s,
        )

    runtime = ServiceRuntime(
        settings,
        app=mails,
        consumers=consumer_specs(mails),
        followers=[dispatcher],
        title="Kundencenter notifications",
        description="E-mails to buyers, approvers and new customers: one mail per event and recipient.",
    )
    runtime.http.state.runtime = runtime
    return runtime.http


def run() -> None:
    serve(create_app, NotificationsSettings())  # type: ignore[arg-type]
