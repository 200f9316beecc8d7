"""Composition root of the notifications service."""

from __future__ import annotations

from fastapi import FastAPI

from kc_runtime.serve import serve
from kc_runtime.service import ServiceRuntime
from notifications.application.mails import Mails
from notifications.settings import NotificationsSettings


def create_app(settings: NotificationsSettings | None = None) -> FastAPI:
    settings = settings or NotificationsSettings()
    app = Mails(env=settings.eventsourcing_env())
    runtime = ServiceRuntime(
        settings,
        app=app,
        title="Kundencenter notifications",
        description="E-mails to buyers, approvers and new customers.",
    )
    runtime.http.state.runtime = runtime
    return runtime.http


def run() -> None:
    serve(create_app, NotificationsSettings())  # type: ignore[arg-type]
