"""Composition of the ERP simulator: database, Kafka consumer and the HTTP API for tests and operators."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any
from uuid import UUID

import asyncpg
import structlog
from fastapi import FastAPI, HTTPException, Query

from kc_runtime.kafka import create_broker
from kc_runtime.logging import configure_logging
from standins._common import add_health_routes, serve, throttle_library_logs
from standins.erp_simulator import db
from standins.erp_simulator.consumer import ErpConsumer
from standins.erp_simulator.settings import ErpSimulatorSettings

log = structlog.get_logger("standins.erp_simulator")


class Simulator:
    def __init__(self, settings: ErpSimulatorSettings) -> None:
        self.settings = settings
        self.broker = create_broker(settings)
        self.consumer = ErpConsumer(
            self.broker,
            group_id=settings.group_id,
            topic_prefix=settings.topic_prefix,
            retry_initial_s=settings.retry_initial_s,
            retry_max_s=settings.retry_max_s,
        )
        self.consumer.register()
        self.pool: asyncpg.Pool | None = None
        self.broker_started = False
        self._startup: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """In the background, so /healthz answers while PostgreSQL or Kafka are still coming up."""
        self._startup = asyncio.create_task(self._start(), name="erp-simulator-startup")

    async def _start(self) -> None:
        delay = self.settings.retry_initial_s
        while self.pool is None:
            try:
                pool = await db.connect(self.settings.database_url.get_secret_value())
                await db.create_schema(pool)
                self.pool = pool
            except Exception as exc:
                log.warning("database not ready yet, retrying", error=repr(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.retry_max_s)
        self.consumer.pool = self.pool
        log.info("database ready, tables created")
        await self.consumer.start_broker()
        self.broker_started = True

    async def stop(self) -> None:
        self.consumer.stopping.set()
        if self._startup is not None and not self._startup.done():
            self._startup.cancel()
            with suppress(asyncio.CancelledError):
                await self._startup
        # The message in flight is finished (recorded and acknowledged) before the consumer stops.
        await self.broker.stop()
        if self.pool is not None:
            with suppress(Exception):
                await asyncio.wait_for(self.pool.close(), 10)

    async def readiness(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        if self.pool is None:
            checks["database"] = "not connected"
        else:
            try:
                async with self.pool.acquire(timeout=2) as conn:
                    await conn.fetchval("SELECT 1", timeout=2)
                checks["database"] = "ok"
            except Exception as exc:
                checks["database"] = f"unreachable: {type(exc).__name__}"
        if not self.broker_started:
            checks["broker"] = "not started"
            return checks
        checks["broker"] = "ok" if await self.broker.ping(timeout=2) else "unreachable"
        try:
            missing = await self.consumer.missing_topics()
            checks["topics"] = "ok" if not missing else f"missing: {', '.join(missing)}"
        except Exception as exc:
            checks["topics"] = f"unknown: {type(exc).__name__}"
        return checks

    def require_pool(self) -> asyncpg.Pool:
        if self.pool is None:
            raise HTTPException(503, "the database is not ready yet")
        return self.pool


def create_app(settings: ErpSimulatorSettings | None = None) -> FastAPI:
    settings = settings or ErpSimulatorSettings()
    simulator = Simulator(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await simulator.start()
        try:
            yield
        finally:
            log.info("erp simulator stopping")
            await simulator.stop()
            log.info("erp simulator stopped")

    app = FastAPI(
        title="erp-simulator (stand-in)",
        description="Plays the ERP on Kafka: records what it receives and creates each sales order once. "
        "Local stack and tests only; never deployed.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.simulator = simulator
    add_health_routes(app, simulator.readiness)

    @app.get("/sales-orders", summary="Sales orders, oldest first")
    async def list_sales_orders(order_id: UUID | None = None) -> list[dict[str, Any]]:
        return await db.sales_orders(simulator.require_pool(), order_id)

    @app.get("/sales-orders/{order_id}", summary="The sales order of an order (the first, should there be more)")
    async def get_sales_order(order_id: UUID) -> dict[str, Any]:
        orders = await db.sales_orders(simulator.require_pool(), order_id)
        if not orders:
            raise HTTPException(404, f"no sales order for order {order_id}")
        return orders[0]

    @app.get("/stats", summary="Counts: received messages, sales orders, discarded duplicates")
    async def stats() -> dict[str, int]:
        return await db.stats(simulator.require_pool())

    @app.get("/received", summary="The latest 1000 received messages, newest first")
    async def received(topic: str | None = None, limit: int = Query(1000, ge=1, le=1000)) -> list[dict[str, Any]]:
        return await db.received(simulator.require_pool(), topic, limit)

    @app.get("/admin/status", summary="Whether the simulated ERP consumes")
    async def status() -> dict[str, Any]:
        return {
            "consuming": simulator.broker_started and simulator.consumer.consuming,
            "broker_started": simulator.broker_started,
            "group_id": settings.group_id,
            "topics": simulator.consumer.topic_names,
        }

    @app.post("/admin/pause", summary="Stop consuming (simulate an ERP outage)")
    async def pause() -> dict[str, Any]:
        if not simulator.broker_started:
            raise HTTPException(503, "the consumer has not started yet")
        changed = await simulator.consumer.pause()
        return {"consuming": simulator.consumer.consuming, "changed": changed}

    @app.post("/admin/resume", summary="Consume again after a pause")
    async def resume() -> dict[str, Any]:
        if not simulator.broker_started:
            raise HTTPException(503, "the consumer has not started yet")
        changed = await simulator.consumer.resume()
        return {"consuming": simulator.consumer.consuming, "changed": changed}

    return app


def run() -> None:
    settings = ErpSimulatorSettings()
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    throttle_library_logs(("aiokafka", "asyncpg"))
    serve(create_app(settings), settings)
