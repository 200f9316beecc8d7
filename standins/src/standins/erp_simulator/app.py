"""Composition of the ERP simulator: database, Kafka consumer and the HTTP API for tests and operators."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Annotated, Any
from uuid import UUID

import asyncpg
import structlog
from fastapi import FastAPI, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contracts.common import Address
from contracts.erp.v1 import ErpContactPerson
from kc_runtime.kafka import create_broker
from kc_runtime.logging import configure_logging
from standins._common import add_health_routes, serve, throttle_library_logs
from standins.erp_simulator import db
from standins.erp_simulator.consumer import ErpConsumer
from standins.erp_simulator.outbox import OutboxPublisher
from standins.erp_simulator.seed import SEED_CUSTOMERS
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
        self.outbox = OutboxPublisher(
            self.broker,
            topic_prefix=settings.topic_prefix,
            retry_max_s=settings.retry_max_s,
            sending=lambda: self.consumer.consuming,
        )
        self.consumer.on_sent = self.outbox.wake
        self.pool: asyncpg.Pool | None = None
        self.broker_started = False
        self._startup: asyncio.Task[None] | None = None
        self._publishing: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        """In the background, so /healthz answers while PostgreSQL or Kafka are still coming up."""
        self._startup = asyncio.create_task(self._start(), name="erp-simulator-startup")

    async def _start(self) -> None:
        delay = self.settings.retry_initial_s
        while self.pool is None:
            try:
                pool = await db.connect(self.settings.database_url.get_secret_value())
                await db.create_schema(pool)
                seeded = await db.seed(pool, SEED_CUSTOMERS) if self.settings.seed else 0
                self.outbox.producer = f"erp-simulator/{(await db.instance_id(pool))[:8]}"
                self.pool = pool
                log.info("seed customers inserted", inserted=seeded)
            except Exception as exc:
                log.warning("database not ready yet, retrying", error=repr(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.retry_max_s)
        self.consumer.pool = self.pool
        self.outbox.pool = self.pool
        log.info("database ready, tables created")
        await self.consumer.start_broker()
        self.broker_started = True
        self._publishing = asyncio.create_task(self.outbox.run(self._stopping), name="erp-simulator-outbox")

    async def stop(self) -> None:
        self.consumer.stopping.set()
        self._stopping.set()
        if self._publishing is not None:
            with suppress(Exception):
                await asyncio.wait_for(self._publishing, 10)
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


CustomerNumber = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9-]*$")]


class CustomerIn(BaseModel):
    """A customer to add to the simulated ERP. Left out: a fresh random number, three invoices
    ``R-<number>-1..3`` and two contact persons."""

    model_config = ConfigDict(extra="forbid")

    customer_number: CustomerNumber | None = None
    name: str | None = Field(default=None, max_length=200)
    customer_center_allowed: bool = True
    invoices: list[Annotated[str, StringConstraints(min_length=1, max_length=40)]] | None = None
    contacts: list[ErpContactPerson] | None = None
    billing_address: Address | None = None
    delivery_addresses: list[Address] = Field(default_factory=list)
    vat_id: str | None = Field(default=None, max_length=40)
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")


def _fresh_number() -> str:
    return "7" + "".join(secrets.choice("0123456789") for _ in range(8))


def _customer_row(body: CustomerIn, number: str) -> dict[str, Any]:
    name = body.name or f"Testkunde {number} GmbH"
    contacts = body.contacts
    if contacts is None:
        contacts = [
            ErpContactPerson(
                contact_id=f"{number}-{i}", email=f"kontakt{i}.{number}@example.com", first_name=first, last_name=last
            )
            for i, (first, last) in enumerate((("Erika", "Mustermann"), ("Max", "Beispiel")), start=1)
        ]
    billing = body.billing_address or Address(
        name=name, street="Teststr. 1", postal_code="10115", city="Berlin", country="DE"
    )
    return {
        "customer_number": number,
        "name": name,
        "customer_center_allowed": body.customer_center_allowed,
        "invoices": body.invoices if body.invoices is not None else [f"R-{number}-{i}" for i in (1, 2, 3)],
        "contacts": [c.model_dump(mode="json") for c in contacts],
        "billing_address": billing.model_dump(mode="json"),
        "delivery_addresses": [a.model_dump(mode="json") for a in body.delivery_addresses],
        "vat_id": body.vat_id,
        "currency": body.currency,
    }


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

    @app.get("/received", summary="Received messages (the latest 1000 at most), newest first")
    async def received(
        topic: str | None = None,
        key: str | None = None,
        event_type: str | None = None,
        idempotency_key: str | None = None,
        limit: int = Query(1000, ge=1, le=1000),
    ) -> list[dict[str, Any]]:
        return await db.received(simulator.require_pool(), topic, limit, key, event_type, idempotency_key)

    @app.get("/sent", summary="Messages the ERP sent (answers), newest first")
    async def sent(key: str | None = None, limit: int = Query(1000, ge=1, le=1000)) -> list[dict[str, Any]]:
        return await db.sent(simulator.require_pool(), key, limit)

    @app.get("/customers", summary="Customers, newest first")
    async def list_customers(limit: int = Query(100, ge=1, le=1000)) -> list[dict[str, Any]]:
        return await db.customers(simulator.require_pool(), limit)

    @app.get("/customers/{customer_number}", summary="One customer, with its customer-center flags")
    async def get_customer(customer_number: str) -> dict[str, Any]:
        found = await db.customer(simulator.require_pool(), customer_number)
        if found is None:
            raise HTTPException(404, f"no customer {customer_number}")
        return found

    @app.post("/admin/customers", status_code=status.HTTP_201_CREATED, summary="Add a customer to the ERP")
    async def add_customer(body: CustomerIn) -> dict[str, Any]:
        pool = simulator.require_pool()
        for _ in range(20):
            number = body.customer_number or _fresh_number()
            if await db.insert_customer(pool, _customer_row(body, number)):
                created = await db.customer(pool, number)
                assert created is not None
                log.info("customer added", customer_number=number, allowed=body.customer_center_allowed)
                return created
            if body.customer_number:
                raise HTTPException(409, f"customer {number} exists")
        raise HTTPException(503, "no free customer number found")

    @app.get("/admin/status", summary="Whether the simulated ERP consumes")
    async def admin_status() -> dict[str, Any]:
        return {
            "consuming": simulator.broker_started and simulator.consumer.consuming,
            "producer": simulator.outbox.producer,
            "broker_started": simulator.broker_started,
            "group_id": settings.group_id,
            "topics": simulator.consumer.topic_names,
        }

    @app.post("/admin/pause", summary="Stop consuming and answering (simulate an ERP outage)")
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
        simulator.outbox.wake()
        return {"consuming": simulator.consumer.consuming, "changed": changed}

    return app


def run() -> None:
    settings = ErpSimulatorSettings()
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    throttle_library_logs(("aiokafka", "asyncpg"))
    serve(create_app(settings), settings)
