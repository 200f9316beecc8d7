"""Composition root of erp-sync."""

from __future__ import annotations

import structlog
from fastapi import FastAPI

from erp_sync.adapters.inbound.http import ops_router
from erp_sync.adapters.inbound.kafka import (
    consumer_specs,
    exchange_consumer_specs,
    price_consumer_specs,
    verification_consumer_specs,
)
from erp_sync.adapters.inbound.prices_http import price_ops_router
from erp_sync.adapters.inbound.retry_schedule import RetrySchedule, delivery_look, verification_look
from erp_sync.adapters.inbound.verification_http import verification_ops_router
from erp_sync.adapters.outbound import due, price_index, read_model, replay_index
from erp_sync.adapters.outbound.due import DueItems, DueProjection
from erp_sync.adapters.outbound.metrics import PendingGauge
from erp_sync.adapters.outbound.operations import Operations
from erp_sync.adapters.outbound.read_model import ExchangeProjector, ExchangeStates
from erp_sync.adapters.outbound.replay_index import IndexingRecorder, PostgresReplayIndex
from erp_sync.adapters.outbound.translator import translate
from erp_sync.application.deliveries import Deliveries
from erp_sync.application.exchanges import ExchangeNotFound, Exchanges
from erp_sync.application.operations import OperatorRuns
from erp_sync.application.verifications import Verifications
from erp_sync.domain.model import RetryPolicy
from erp_sync.settings import ErpSyncSettings
from erp_sync.verification_settings import VerificationSettings
from kc_runtime.person_keys import PersonKeyClient
from kc_runtime.serve import serve
from kc_runtime.service import HttpApi, ServiceRuntime

log = structlog.get_logger("erp_sync")

DOMAIN_ERRORS: dict[type[Exception], int] = {ExchangeNotFound: 404}


def create_app(settings: ErpSyncSettings | None = None, verification: VerificationSettings | None = None) -> FastAPI:
    settings = settings or ErpSyncSettings()
    verification = verification or VerificationSettings()
    env = settings.eventsourcing_env()
    index_factory = prices_factory = None
    tables = [read_model.TABLES, due.TABLES]
    if env["PERSISTENCE_MODULE"] == "eventsourcing.postgres":
        # The replay index is written by the recorder, in the events' transaction (ADR 0008).
        env["PROCESS_RECORDER_TOPIC"] = f"{IndexingRecorder.__module__}:{IndexingRecorder.__qualname__}"
        index_factory = PostgresReplayIndex
        prices_factory = price_index.PostgresPriceIndex
        tables.extend([replay_index.TABLES, price_index.TABLES])
    # the persons' keys from users (ADR 0035): names, e-mail addresses and comments are stored sealed with them;
    # fetched (blocking HTTP, kept 10 minutes) where events are encoded and decoded: the worker threads
    keys = PersonKeyClient.from_settings(settings)
    ring = keys.key_ring()  # users unavailable: PersonKeysUnavailable, a ConnectionError waited out as an outage
    exchanges = Exchanges(
        env=env, replay_index_factory=index_factory, price_index_factory=prices_factory, key_ring=ring
    )
    verifications = Verifications(
        exchanges,
        RetryPolicy(verification.retry_initial_s, verification.retry_max_s, verification.give_up_after_s),
    )
    deliveries = Deliveries(
        exchanges,
        RetryPolicy(
            settings.delivery_retry_initial_s, settings.delivery_retry_max_s, settings.delivery_give_up_after_s
        ),
    )
    dsn = settings.database_url.get_secret_value()
    states = ExchangeStates(dsn, relay_name=f"{settings.service_name}:{exchanges.name}")
    due_items = DueItems(dsn, deliveries=deliveries.policy, verifications=verifications.policy)
    specs = [
        *consumer_specs(exchanges),
        *exchange_consumer_specs(exchanges),
        *verification_consumer_specs(verifications),
        *price_consumer_specs(exchanges),
    ]

    async def close_keys() -> None:
        keys.close()

    def projector(rt: ServiceRuntime) -> ExchangeProjector:
        return ExchangeProjector(
            rows=states, service=settings.service_name, app=exchanges, dsn=dsn, blocking=rt.blocking,
            idle_interval_s=settings.relay_idle_interval_s,
        )  # fmt: skip

    def due_projector(rt: ServiceRuntime) -> DueProjection:
        return DueProjection(
            rows=due_items, service=settings.service_name, app=exchanges, dsn=dsn, blocking=rt.blocking,
            idle_interval_s=settings.relay_idle_interval_s,
        )  # fmt: skip

    def operations(rt: ServiceRuntime) -> Operations:
        return Operations(rt, exchanges=exchanges, runs=OperatorRuns(exchanges), deliveries=deliveries, specs=specs)

    runtime = ServiceRuntime(
        settings,
        app=exchanges,
        translate=translate,
        consumers=specs,
        api=HttpApi(
            title="Kundencenter erp-sync",
            description="The exchange with the ERP: what was sent, acknowledged, failed; replays and dead-letter retries.",
            errors=DOMAIN_ERRORS,
        ),
        followers=[projector, due_projector, operations],
        tables=tables,
        on_shutdown=[states.close, due_items.close, close_keys],
    )
    # the leading replica's periodic work (where the relay runs): the retry schedules and the pending gauge
    periodic = [
        RetrySchedule(
            "verification-retries", verification_look(due_items, verifications, runtime.blocking),
            verification.schedule_interval_s, runtime.leads, horizon_s=verifications.policy.initial_s,
            clock=verifications.clock,
        ),
        RetrySchedule(
            "delivery-retries", delivery_look(due_items, deliveries, runtime.blocking),
            settings.delivery_schedule_interval_s, runtime.leads, horizon_s=deliveries.policy.initial_s,
            clock=deliveries.clock,
        ),
        PendingGauge(settings.service_name, states.pending, interval_s=5.0, leads=runtime.leads),
    ] if runtime.relay is not None else []  # fmt: skip
    for task in periodic:
        runtime.on_startup.append(task.start)
        runtime.on_shutdown.insert(0, task.stop)
    runtime.include_router(ops_router(exchanges, runtime.blocking, states=states, settings=settings))
    runtime.include_router(verification_ops_router(verifications, runtime.blocking))
    runtime.include_router(price_ops_router(exchanges, runtime.blocking, settings))
    runtime.http.state.runtime = runtime
    runtime.http.state.verifications = verifications
    runtime.http.state.deliveries = deliveries
    if settings.ops_token is None:
        log.warning("ERP_SYNC_OPS_TOKEN is not set: using the development token (development profile only)")
    return runtime.http


def run() -> None:
    serve(create_app, ErpSyncSettings())
