"""The composition of one service process: event store, broker, relay, consumers and the HTTP app.

Each service's ``create_app(settings)`` builds a :class:`ServiceRuntime` and adds its own routes and
handlers; nothing is created at import time. ``settings.process_roles`` chooses what this process runs (HTTP API,
consumers, relay): together in development, apart where a platform team wants to scale them separately.
"""

from __future__ import annotations

import asyncio
import hmac
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import structlog
from fastapi import APIRouter, Depends, FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kc_runtime import context, metrics, ops, schema
from kc_runtime.consumer import ConsumerSpec, IdempotentConsumer
from kc_runtime.errors import DocumentedErrors, JsonResponse, error_response, install_error_handlers
from kc_runtime.eventstore import ServiceApplication, WorkerPool
from kc_runtime.follower import LogFollower, LogReader, arrange
from kc_runtime.kafka import create_broker
from kc_runtime.logging import configure_logging
from kc_runtime.migrations import SchemaMismatch
from kc_runtime.relay import OutboxRelay, Translator
from kc_runtime.retrying import retrying
from kc_runtime.settings import ServiceSettings
from kc_runtime.tracing import setup_tracing

log = structlog.get_logger("kc.service")

CORRELATION_HEADER = "X-Correlation-ID"
CORRELATION_HEADER_RAW = CORRELATION_HEADER.lower().encode()
PLAIN_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
"""A caller's request or correlation id is taken only in this form (the gateway applies the same rule)."""


class RequestPath:
    """What every request passes through, as one pure ASGI middleware (Starlette's ``BaseHTTPMiddleware`` costs a
    task group, a second task and a wrapped body stream per request and per middleware):

    - every path under ``/ops`` (routes a service adds itself included, unknown ones too) needs the operator token,
      in every profile: these views hold personal data and the commands change state;
    - the caller's correlation id (``X-Correlation-ID``, else ``X-Request-ID``) is taken only in :data:`PLAIN_ID`
      form, else a fresh one is made; it is bound for the request's logs and events and echoed in the response;
    - an exception no handler answered is logged and answered 500 (routes raise ApiError for anything expected);
    - the latency histogram by method, route template and status.
    """

    def __init__(self, app: ASGIApp, *, service: str, ops_token: bytes, ops_token_variable: str) -> None:
        self.app = app
        self.service = service
        self.ops_token = ops_token
        self.ops_refusal = f"The operator API needs the operator token ({ops_token_variable})."

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        correlation = request_id = authorization = None
        for name, value in scope["headers"]:  # names are lower case (ASGI); the first of each counts
            if name == b"x-correlation-id":
                correlation = value if correlation is None else correlation
            elif name == b"x-request-id":
                request_id = value if request_id is None else request_id
            elif name == b"authorization":
                authorization = value if authorization is None else authorization
        correlation = correlation or request_id
        caller_id = correlation.decode("latin-1") if correlation else None
        if caller_id is not None and not PLAIN_ID.fullmatch(caller_id):
            caller_id = None  # replaced by a fresh one: only short, plain ids travel into headers and logs
        status = 500
        response_started = False

        try:
            with context.bound(caller_id, None):
                echoed = (CORRELATION_HEADER_RAW, (context.correlation_id.get() or "").encode("latin-1"))

                async def send_correlated(message: Message) -> None:
                    nonlocal status, response_started
                    if message["type"] == "http.response.start":
                        status = message["status"]
                        response_started = True
                        headers = [h for h in message.get("headers", ()) if h[0].lower() != CORRELATION_HEADER_RAW]
                        headers.append(echoed)
                        message["headers"] = headers
                    await send(message)

                try:
                    path = scope["path"]
                    if (path == "/ops" or path.startswith("/ops/")) and not self._operator(authorization):
                        refusal = error_response(401, "invalid_ops_token", self.ops_refusal)
                        await refusal(scope, receive, send_correlated)
                    else:
                        await self.app(scope, receive, send_correlated)
                except Exception as exc:  # last resort; routes raise ApiError for anything expected
                    log.exception("unhandled error", error=repr(exc))
                    if response_started:
                        raise  # too late for an error response; the server closes the connection
                    failed = error_response(500, "internal_error", "Something went wrong on our side.")
                    await failed(scope, receive, send_correlated)
        finally:
            route = scope.get("route")
            metrics.HTTP_REQUESTS.labels(
                self.service, scope["method"], getattr(route, "path", "unmatched"), str(status)
            ).observe(time.perf_counter() - started)

    def _operator(self, authorization: bytes | None) -> bool:
        scheme, _, token = (authorization or b"").partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self.ops_token)


@dataclass(frozen=True)
class HttpApi:
    """A service's HTTP API as its OpenAPI document presents it, and the HTTP status each domain error answers
    with (the error's ``code`` attribute becomes the body's ``error.code``)."""

    title: str
    description: str = ""
    errors: Mapping[type[Exception], int] = field(default_factory=dict)
    version: str = "0.1.0"


class ServiceRuntime:
    """What every service runs: its HTTP API, the Kafka consumers, the followers of its event log (the outbox relay
    with ``translate``, projections), its tables — each part only where ``settings.process_roles`` says so.

    ``ServiceRuntime(settings, app=orders, api=HttpApi("Kundencenter approval", errors={OrderNotFound: 404}),
    translate=…, consumers=[…], followers=[…], tables=[…])``; a service adds its routers with
    :meth:`include_router` and serves :attr:`http`."""

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        app: ServiceApplication,
        api: HttpApi,
        translate: Translator | None = None,
        consumers: Sequence[ConsumerSpec] = (),
        followers: Sequence[Callable[[ServiceRuntime], LogFollower]] = (),
        on_startup: Sequence[Callable[[], Awaitable[Any]]] = (),
        on_shutdown: Sequence[Callable[[], Awaitable[Any]]] = (),
        span_processors: Sequence[Any] = (),
        tables: Sequence[schema.Tables] = (),
    ) -> None:
        self.on_startup = list(on_startup)
        # The service's own tables beside the event store: created at start (flag on) and by `schema create`,
        # required at start (flag off) and by `schema check`.
        self.tables = list(tables)
        self.on_shutdown = list(on_shutdown)
        # Tracing off (the default): no provider, no middleware, no log processor — nothing to pay.
        self.tracing = setup_tracing(settings, span_processors)
        configure_logging(
            settings.service_name, settings.log_level, settings.log_format, trace_ids=self.tracing.enabled
        )
        self.settings = settings
        # Refuse to start without an operator token outside the development profile (raises OpsTokenMissing).
        self.operator = Depends(ops.operator_dependency(settings))
        self.app = app
        self.blocking = WorkerPool(settings.worker_threads)
        self.broker = create_broker(settings)
        self.stopping = asyncio.Event()
        self.relay: OutboxRelay | None = None
        if translate is not None and "relay" in settings.process_roles:
            self.relay = OutboxRelay(
                service=settings.service_name,
                app=app,
                broker=self.broker,
                translate=translate,
                dsn=settings.database_url.get_secret_value(),
                blocking=self.blocking,
                batch_size=settings.relay_batch_size,
                idle_interval_s=settings.relay_idle_interval_s,
                topic_prefix=settings.topic_prefix,
                tracer=self.tracing.tracer,
            )
        # Other followers of the notification log (mail dispatch, projections) run with the relay role.
        relays = "relay" in settings.process_roles
        self.followers: list[LogFollower] = [make(self) for make in followers] if relays else []
        for follower in self._all_followers:
            follower.create_schema = settings.create_schema
        self.consumers: list[IdempotentConsumer] = []
        if "consumers" in settings.process_roles and consumers:
            consumer = IdempotentConsumer(
                service=settings.service_name,
                group_id=settings.group_id,
                app=app,
                broker=self.broker,
                blocking=self.blocking,
                specs=consumers,
                max_attempts=settings.consumer_max_attempts,
                backoff_initial_s=settings.consumer_backoff_initial_s,
                backoff_max_s=settings.consumer_backoff_max_s,
                topic_prefix=settings.topic_prefix,
                batch_size=settings.consumer_batch_size,
                instance_id=settings.instance_id,
                session_timeout_ms=settings.consumer_session_timeout_ms,
                commit_interval_s=settings.consumer_commit_interval_s,
                tracer=self.tracing.tracer,
            )
            consumer.register()
            self.consumers.append(consumer)
        self.http = self._build_http(api)
        # Documented in docs/platform.md (operator API), not in the shop-facing OpenAPI documents.
        self.http.include_router(ops.parked_router(self), dependencies=[self.operator], include_in_schema=False)
        self.tracing.instrument(self.http)

    def leads(self) -> bool:
        """Whether this process leads its service: its outbox relay holds the relay's advisory lock (one replica at
        a time, ``kc_relay_active``). Leader-only work asks it: service-wide gauges
        (:func:`kc_runtime.metrics.withdraw`), schedules."""
        return self.relay is not None and self.relay.active

    @property
    def _all_followers(self) -> list[LogFollower]:
        return [*([self.relay] if self.relay is not None else []), *self.followers]

    # ---- HTTP -------------------------------------------------------------------------------------------

    def include_router(self, router: APIRouter) -> None:
        self.http.include_router(router)

    def _build_http(self, api: HttpApi) -> FastAPI:
        # No trailing-slash redirects: Starlette builds their Location from the request's Host header, so
        # `GET /api/users/` with `Host: evil.example` would send the caller there. A wrong path is a 404.
        http = DocumentedErrors(
            title=api.title,
            description=api.description,
            version=api.version,
            lifespan=self._lifespan,
            redirect_slashes=False,
        )
        install_error_handlers(http, dict(api.errors))

        prefix = self.settings.model_config.get("env_prefix", "")
        http.add_middleware(
            RequestPath,
            service=self.settings.service_name,
            ops_token=ops.ops_token(self.settings).encode(),
            ops_token_variable=f"{prefix}OPS_TOKEN",
        )

        @http.get("/healthz", include_in_schema=False)
        async def healthz() -> dict[str, str]:
            return {"status": "ok"}

        @http.get("/readyz", include_in_schema=False)
        async def readyz() -> JsonResponse:
            checks = await self.readiness()
            ok = all(v == "ok" for v in checks.values())
            return JsonResponse(
                status_code=200 if ok else 503, content={"status": "ok" if ok else "unavailable", **checks}
            )

        @http.get("/metrics", include_in_schema=False)
        async def metrics_endpoint() -> Response:
            return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

        return http

    async def readiness(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        try:
            conn = await asyncpg.connect(self.settings.database_url.get_secret_value(), timeout=2)
            await conn.close()
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}"
        if self._broker_needed:
            checks["broker"] = "ok" if await self.broker.ping(timeout=2) else "unreachable"
        return checks

    @property
    def _broker_needed(self) -> bool:
        return self.relay is not None or bool(self.consumers)

    # ---- lifecycle --------------------------------------------------------------------------------------

    @asynccontextmanager
    async def _lifespan(self, _: FastAPI) -> AsyncIterator[None]:
        tasks: list[asyncio.Task[None]] = []
        if self.settings.create_schema:
            # a database whose tables are not the baseline's is not adopted: say so, do not retry for ever
            await self._retrying(self._migrate, "schema migration", fatal=(SchemaMismatch,))
        else:
            # Fail at once, and say why, rather than migrate or fail later on every request.
            await self._retrying(self._require_schema, "schema check", fatal=(schema.SchemaMissing,))
        for hook in self.on_startup:
            await self._retrying(hook, "start-up step")
        if self._broker_needed:
            await self._start_broker()
        # The followers that only follow the log share one reader; the others run alone (ADR 0036).
        for runner in arrange(self._all_followers):
            name = "log-reader" if isinstance(runner, LogReader) else runner.kind
            tasks.append(asyncio.create_task(runner.run(self.stopping), name=name))
        log.info(
            "service started",
            process_roles=self.settings.process_roles,
            consumers=sorted(t for c in self.consumers for t in c.specs),
        )
        try:
            yield
        finally:
            # Graceful shutdown: HTTP has stopped taking requests; stop consuming (the message in flight is
            # finished and committed), let the relay finish its batch, then close the pools.
            log.info("service stopping")
            self.stopping.set()
            for consumer in self.consumers:
                await consumer.stop_committing()
            if self._broker_needed:
                await self.broker.stop()
            for task in tasks:
                try:
                    await asyncio.wait_for(task, timeout=15)
                except TimeoutError:
                    task.cancel()
            for hook in self.on_shutdown:
                await hook()
            await asyncio.get_running_loop().run_in_executor(None, self.blocking.shutdown)
            self.app.close()
            self.tracing.shutdown()
            log.info("service stopped")

    # ---- schema -----------------------------------------------------------------------------------------

    async def create_schema(self) -> None:
        """Make every table of the service: migrate its database to the head revision (ADR 0019).

        A service without a migration history (tests' own): the event store's tables (and tables its recorder
        adds) were created when the application was constructed with ``create_schema`` on; the declared
        :class:`~kc_runtime.schema.Tables` are created here, as at start; start-up hooks may create more; the
        follower position table is the runtime's own.
        """
        if await self._upgrade():
            return
        await self._create_tables()
        for hook in self.on_startup:
            await hook()
        await schema.create_runtime_tables(self.settings)

    def required_tables(self) -> list[str]:
        """Every table this process needs: the event store's, the followers' positions, the declared ones."""
        return schema.required_tables(self.app, followers=bool(self._all_followers), declared=self.tables)

    async def _create_tables(self) -> None:
        await schema.create_tables(self.settings, self.tables)

    async def _upgrade(self) -> bool:
        """Migrate to the head revision (blocking Alembic, in a thread); False: the service has no history."""
        return await asyncio.to_thread(schema.migrate, self.settings) is not None

    async def _migrate(self) -> None:
        if not await self._upgrade():
            await self._create_tables()

    async def _start_broker(self) -> None:
        await self._retrying(self.broker.start, "broker connection")

    async def _require_schema(self) -> None:
        await schema.require_revision(self.settings)
        await schema.require(self.settings, self.required_tables())

    async def _retrying(
        self, step: Callable[[], Awaitable[Any]], what: str, fatal: tuple[type[Exception], ...] = ()
    ) -> None:
        """Run ``step`` until it succeeds (an outage at start is waited out), unless it fails with ``fatal``."""

        def on_retry(exc: BaseException, wait: float) -> None:
            log.warning(f"{what} failed, retrying", error=repr(exc), retry_in_s=round(wait, 2))

        async for attempt in retrying(initial_s=0.5, max_s=10.0, fatal=fatal, on_retry=on_retry):
            with attempt:
                await step()
