"""Composition root of the approval service."""

from __future__ import annotations

from fastapi import FastAPI

from approval.adapters.inbound.http import orders_router
from approval.adapters.outbound.translator import translate
from approval.application.orders import Orders
from approval.domain.model import InvalidOrder, OrderNotFound, VersionMismatch
from approval.settings import ApprovalSettings
from kc_runtime.auth import TokenVerifier, caller_dependency
from kc_runtime.serve import serve
from kc_runtime.service import ServiceRuntime


def create_app(settings: ApprovalSettings | None = None) -> FastAPI:
    settings = settings or ApprovalSettings()
    orders = Orders(env=settings.eventsourcing_env())
    runtime = ServiceRuntime(
        settings,
        app=orders,
        translate=translate,
        title="Kundencenter approval",
        description="Orders and their approval: submission, budget evaluation, decisions, conversation.",
        domain_errors={OrderNotFound: 404, InvalidOrder: 422, VersionMismatch: 412},
    )
    verifier = TokenVerifier(settings.jwks_url, settings.jwt_issuer, settings.jwt_audience)
    runtime.include_router(orders_router(orders, runtime.blocking, caller_dependency(verifier)))
    runtime.http.state.runtime = runtime
    return runtime.http


def run() -> None:
    settings = ApprovalSettings()
    serve(create_app, settings)  # type: ignore[arg-type]
