"""Composition root of erp-sync."""

from __future__ import annotations

from fastapi import FastAPI

from erp_sync.adapters.inbound.http import ops_router
from erp_sync.adapters.inbound.kafka import consumer_specs, verification_consumer_specs
from erp_sync.adapters.inbound.verification_http import verification_ops_router
from erp_sync.adapters.inbound.verification_retries import VerificationRetries
from erp_sync.adapters.outbound.translator import translate
from erp_sync.application.exchanges import ExchangeNotFound, Exchanges
from erp_sync.application.verifications import Verifications
from erp_sync.domain.verification import RetryPolicy
from erp_sync.settings import ErpSyncSettings
from erp_sync.verification_settings import VerificationSettings
from kc_runtime.serve import serve
from kc_runtime.service import ServiceRuntime


def create_app(settings: ErpSyncSettings | None = None, verification: VerificationSettings | None = None) -> FastAPI:
    settings = settings or ErpSyncSettings()
    verification = verification or VerificationSettings()
    exchanges = Exchanges(env=settings.eventsourcing_env())
    verifications = Verifications(
        exchanges,
        RetryPolicy(verification.retry_initial_s, verification.retry_max_s, verification.give_up_after_s),
    )

    def retries(rt: ServiceRuntime) -> VerificationRetries:
        return VerificationRetries(
            rt,
            verifications,
            interval_s=verification.schedule_interval_s,
            leader=lambda: rt.relay is not None and rt.relay.active,
        )

    runtime = ServiceRuntime(
        settings,
        app=exchanges,
        translate=translate,
        consumers=[*consumer_specs(exchanges), *verification_consumer_specs(verifications)],
        title="Kundencenter erp-sync",
        description="The exchange with the ERP: what was sent, acknowledged, failed.",
        domain_errors={ExchangeNotFound: 404},
        followers=[retries],
    )
    runtime.include_router(ops_router(exchanges, runtime.blocking))
    runtime.include_router(verification_ops_router(verifications, runtime.blocking))
    runtime.http.state.runtime = runtime
    runtime.http.state.verifications = verifications
    return runtime.http


def run() -> None:
    serve(create_app, ErpSyncSettings())  # type: ignore[arg-type]
