"""Composition root of the approval service."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from approval.adapters.inbound.callers import Callers
from approval.adapters.inbound.deadline_timer import DeadlineTimer
from approval.adapters.inbound.decision_links_http import decision_links_router
from approval.adapters.inbound.explanations_http import explanations_router
from approval.adapters.inbound.http import orders_router
from approval.adapters.inbound.kafka import consumer_specs
from approval.adapters.inbound.reports_http import reports_router
from approval.adapters.inbound.what_if_http import what_if_router
from approval.adapters.outbound.figures import TABLES as FIGURE_TABLES
from approval.adapters.outbound.figures import FiguresProjector, FiguresStore
from approval.adapters.outbound.metrics import BusinessMetrics
from approval.adapters.outbound.read_model import TABLES, OrderProjector, OrderSummaries
from approval.adapters.outbound.translator import make_translator
from approval.adapters.outbound.what_if_facts import TABLES as WHAT_IF_TABLES
from approval.adapters.outbound.what_if_facts import WhatIfProjector, WhatIfStore
from approval.application.decision_links import DecisionLinks, LinkOutdated
from approval.application.explanations import Explanations
from approval.application.orders import CallerInactive, OrderingBlocked, Orders, UnknownCaller
from approval.application.reports import InvalidPeriod, PeriodTooLong
from approval.domain.bundles import BundleMismatch, BundleRefused
from approval.domain.model import (
    IdempotencyKeyReused,
    InvalidOrder,
    NotAllowed,
    OrderNotFound,
    VersionMismatch,
    WrongState,
)
from approval.domain.pricing import ArticlesRefused, MixedCurrencies, PriceChanged
from approval.settings import ApprovalSettings
from contracts.topics import USERS_COMPANIES, USERS_USERS
from kc_runtime.auth import TokenVerifier, caller_dependency
from kc_runtime.blind_index import index_secret
from kc_runtime.decision_links import secret_in_force
from kc_runtime.fence import ReadFence
from kc_runtime.person_keys import PersonKeyClient
from kc_runtime.serve import serve
from kc_runtime.service import HttpApi, ServiceRuntime


def create_app(settings: ApprovalSettings | None = None, caller: Any = None) -> FastAPI:
    """``caller``: the dependency that yields the verified caller (default: the JWT verifier of ``settings``;
    service tests pass a stand-in)."""
    settings = settings or ApprovalSettings()
    secret = index_secret(settings)
    # the persons' keys from users (ADR 0035): names, e-mail addresses and comments are stored sealed with them
    keys = PersonKeyClient.from_settings(settings)
    orders = Orders(env=settings.eventsourcing_env(), index_secret=secret, key_ring=keys.key_ring())
    orders.shortest_deadline = settings.shortest_deadline
    dsn = settings.database_url.get_secret_value()
    summaries = OrderSummaries(dsn, create=False)  # the runtime creates (or checks) TABLES at start
    figures = FiguresStore(dsn, create=False)  # the controller's fact tables (migration 0002, ADR 0021)
    what_if = WhatIfStore(dsn, create=False)  # the what-if's facts (migration 0003, ADR 0030)
    # the service's figures, exported by the replica that leads it only (runtime: assigned below)
    metrics = BusinessMetrics(
        settings.service_name, summaries.pool, settings.business_metrics_interval_s, leads=lambda: runtime.leads()
    )

    async def close_keys() -> None:
        keys.close()

    def projector(runtime: ServiceRuntime) -> OrderProjector:
        return OrderProjector(
            rows=summaries, service=settings.service_name, app=orders, dsn=dsn, blocking=runtime.blocking,
            idle_interval_s=settings.relay_idle_interval_s,
        )  # fmt: skip

    def figures_projector(runtime: ServiceRuntime) -> FiguresProjector:
        return FiguresProjector(
            rows=figures, service=settings.service_name, app=orders, dsn=dsn, blocking=runtime.blocking,
            idle_interval_s=settings.relay_idle_interval_s,
        )  # fmt: skip

    def what_if_projector(runtime: ServiceRuntime) -> WhatIfProjector:
        return WhatIfProjector(
            rows=what_if, service=settings.service_name, app=orders, dsn=dsn, blocking=runtime.blocking,
            idle_interval_s=settings.relay_idle_interval_s,
        )  # fmt: skip

    runtime = ServiceRuntime(
        settings,
        app=orders,
        translate=make_translator(lambda order_id, version: orders.repository.get(order_id, version=version)),
        consumers=consumer_specs(orders, summaries.pending_of_company_blocking),
        followers=[projector, figures_projector, what_if_projector],
        api=HttpApi(
            title="Kundencenter approval",
            description="Orders and their approval: submission, budget evaluation, routing, decisions, conversation.",
            errors={
                OrderNotFound: 404,
                InvalidOrder: 422,
                IdempotencyKeyReused: 422,
                VersionMismatch: 412,
                WrongState: 409,
                NotAllowed: 403,
                UnknownCaller: 401,
                CallerInactive: 403,
                OrderingBlocked: 403,
                ArticlesRefused: 422,
                MixedCurrencies: 422,
                PriceChanged: 409,
                InvalidPeriod: 422,
                PeriodTooLong: 422,
                LinkOutdated: 409,
                BundleMismatch: 422,
                BundleRefused: 409,
            },
        ),
        tables=[TABLES, FIGURE_TABLES, WHAT_IF_TABLES],
        on_startup=[summaries.pool, metrics.start],
        on_shutdown=[metrics.stop, summaries.close, figures.close, what_if.close, close_keys],
    )
    # the deadlines of waiting orders, taken by the leading replica (ADR 0033)
    timer = DeadlineTimer(
        settings.service_name, orders, summaries, runtime.blocking, settings.deadline_interval_s,
        leads=lambda: runtime.leads(),
    )  # fmt: skip
    runtime.on_startup.append(timer.start)
    runtime.on_shutdown.insert(0, timer.stop)
    if caller is None:
        caller = caller_dependency(TokenVerifier.from_settings(settings))
    fence = None
    if settings.fence_timeout_s > 0:
        # A change in users is in force when users answered it: fence on the users topics (ADR 0012).
        consumer = runtime.consumers[0] if runtime.consumers else None
        fence = ReadFence(settings, [USERS_USERS, USERS_COMPANIES], consumer, settings.fence_timeout_s)
        runtime.on_startup.append(fence.start)
        runtime.on_shutdown.append(fence.stop)
    link_secret = settings.decision_link_secret.get_secret_value() if settings.decision_link_secret else None
    links = DecisionLinks(orders, secret_in_force(
        settings.service_name, "APPROVAL_", settings.profile, link_secret
    ))  # fmt: skip
    router = orders_router(orders, summaries, runtime.blocking, caller, fence=fence)
    runtime.include_router(router)
    callers = Callers(orders, caller, fence)
    runtime.include_router(reports_router(orders, figures, runtime.blocking, callers))
    runtime.include_router(explanations_router(Explanations(orders), runtime.blocking, callers))
    runtime.include_router(what_if_router(orders, what_if, runtime.blocking, callers))
    runtime.include_router(decision_links_router(orders, links, runtime.blocking, fence))
    runtime.http.state.runtime = runtime
    return runtime.http


def run() -> None:
    serve(create_app, ApprovalSettings())
