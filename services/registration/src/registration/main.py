"""Composition root of the registration service."""

from __future__ import annotations

from fastapi import FastAPI

from kc_runtime.serve import serve
from kc_runtime.service import ServiceRuntime
from registration.application.registrations import Registrations
from registration.settings import RegistrationSettings


def create_app(settings: RegistrationSettings | None = None) -> FastAPI:
    settings = settings or RegistrationSettings()
    app = Registrations(env=settings.eventsourcing_env())
    runtime = ServiceRuntime(
        settings,
        app=app,
        title="Kundencenter registration",
        description="Self-registration of business customers through the ERP.",
    )
    runtime.http.state.runtime = runtime
    return runtime.http


def run() -> None:
    serve(create_app, RegistrationSettings())  # type: ignore[arg-type]
