"""Composition root of erp-sync."""

from __future__ import annotations

from fastapi import FastAPI

from erp_sync.adapters.inbound.http import ops_router
from erp_sync.adapters.inbound.kafka import consumer_specs
from erp_sync.adapters.outbound.translator import translate
from erp_sync.application.exchanges import ExchangeNotFound, Exchanges
from erp_sync.settings import ErpSyncSettings
from kc_runtime.serve import serve
from kc_runtime.service import ServiceRuntime


def create_app(settings: ErpSyncSettings | None = None) -> FastAPI:
    settings = settings or ErpSyncSettings()
    exchanges = Exchanges(env=settings.eventsourcing_env())
    runtime = ServiceRuntime(
        settings,
        app=exchanges,
        translate=translate,
        consumers=consumer_specs(exchanges),
        title="Kundencenter erp-sync",
        description="The exchange with the ERP: what was sent, acknowledged, failed.",
        domain_errors={ExchangeNotFound: 404},
    )
    runtime.include_router(ops_router(exchanges, runtime.blocking))
    runtime.http.state.runtime = runtime
    return runtime.http


def run() -> None:
    serve(create_app, ErpSyncSettings())  # type: ignore[arg-type]
