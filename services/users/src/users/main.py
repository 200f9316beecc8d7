"""Composition root of the users service."""

from __future__ import annotations

from fastapi import FastAPI

from kc_runtime.serve import serve
from kc_runtime.service import ServiceRuntime
from users.application.directory import Directory
from users.settings import UsersSettings


def create_app(settings: UsersSettings | None = None) -> FastAPI:
    settings = settings or UsersSettings()
    app = Directory(env=settings.eventsourcing_env())
    runtime = ServiceRuntime(
        settings, app=app, title="Kundencenter users", description="Companies, users, roles, budgets and approvers."
    )
    runtime.http.state.runtime = runtime
    return runtime.http


def run() -> None:
    serve(create_app, UsersSettings())  # type: ignore[arg-type]
