"""Composition of the ERP simulator: database, Kafka consumer and the HTTP API for tests and operators."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

import asyncpg
import structlog
from fastapi import FastAPI, HTTPException, Query, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from contracts.base import Message, Money
from contracts.common import Address
from contracts.erp.v1 import ErpContactPerson, InvoiceIssued
from contracts.topics import (
    ERP_INBOUND_CONTACTS,
    ERP_INBOUND_CUSTOMER_CREDIT,
    ERP_INBOUND_CUSTOMER_PRICES,
    ERP_INBOUND_CUSTOMERS,
    ERP_INBOUND_INVOICES,
    Topic,
)
from kc_runtime.kafka import create_broker
from kc_runtime.logging import configure_logging
from kc_runtime.retrying import retrying
from standins._common import add_health_routes, serve, throttle_library_logs
from standins.erp_simulator import db, erp, prices
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
        self.consumer.rules = erp.Rules(
            settings.reject_sku_prefix or None, settings.reject_total_above, settings.ignore_sku_prefix or None
        )
        self.outbox = OutboxPublisher(
            self.broker,
            topic_prefix=settings.topic_prefix,
            poll_interval_s=settings.outbox_idle_interval_s,
            retry_initial_s=settings.retry_initial_s,
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
        def on_retry(exc: BaseException, wait: float) -> None:
            log.warning("database not ready yet, retrying", error=repr(exc), retry_in_s=round(wait, 2))

        async for attempt in retrying(
            initial_s=self.settings.retry_initial_s, max_s=self.settings.retry_max_s, on_retry=on_retry
        ):
            with attempt:
                pool = await db.connect(self.settings.database_url.get_secret_value())
                await db.create_schema(pool)
                seeded = await db.seed(pool, SEED_CUSTOMERS) if self.settings.seed else 0
                prices = await self._seed_prices(pool) if self.settings.seed else 0
                self.outbox.producer = f"erp-simulator/{(await db.instance_id(pool))[:8]}"
                self.pool = pool
                log.info("seed customers inserted", inserted=seeded, prices_published=prices)
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

    async def _seed_prices(self, pool: asyncpg.Pool) -> int:
        """Insert the seed customers' prices they do not have and publish every price never published (a restart
        publishes nothing again). Returns how many were published."""
        async with db.sending(pool) as conn:
            for c in SEED_CUSTOMERS:
                number = c["customer_number"]
                if await db.customer(conn, number) is not None:
                    await db.insert_prices(conn, number, c.get("currency") or "EUR", prices.price_list(number))
            return await self.publish_prices(conn)

    async def publish_prices(self, conn: asyncpg.Connection, customer_number: str | None = None) -> int:
        """Queue every price row not published yet (of one customer, or all), one message per article, in the
        caller's transaction. Returns how many."""
        rows = await db.unpublished_prices(conn, customer_number)
        for row in rows:
            await self.send(conn, ERP_INBOUND_CUSTOMER_PRICES, row["customer_number"], prices.article_message(row))
        await db.mark_prices_published(conn, rows)
        return len(rows)

    def require_pool(self) -> asyncpg.Pool:
        if self.pool is None:
            raise HTTPException(503, "the database is not ready yet")
        return self.pool

    async def send(self, conn: asyncpg.Connection, topic: Topic, key: str, message: Message) -> int:
        """Queue a message the ERP sends on its own (inside the caller's transaction); published in id order."""
        return await db.enqueue(
            conn,
            {
                "topic": topic.name,
                "key": key,
                "event_type": message.event_type,
                "schema_version": message.schema_version,
                "payload": message.model_dump(mode="json"),
                "idempotency_key": getattr(message, "idempotency_key", None),
            },
        )


SkuPath = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$")]
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


class MasterDataIn(BaseModel):
    """What changes in the ERP's master data of a customer (left out: unchanged). The whole master data is sent
    to the Kundencenter on the ERP's customers topic."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    customer_center_allowed: bool | None = None
    billing_address: Address | None = None
    delivery_addresses: list[Address] | None = None
    vat_id: str | None = Field(default=None, max_length=40)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")


class ErpContactIn(BaseModel):
    """A contact person created or changed in the ERP (an existing ``contact_id``: changed). Sent to the Kundencenter
    on the ERP's contacts topic."""

    model_config = ConfigDict(extra="forbid")

    contact_id: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=200)
    first_name: str = Field(default="", max_length=200)
    last_name: str = Field(default="", max_length=200)
    phone: str | None = Field(default=None, max_length=200)
    active: bool = True


class InvoiceIn(BaseModel):
    """An invoice the ERP issues to a customer (usable for a registration from then on). Sent to the Kundencenter on
    the ERP's invoices topic."""

    model_config = ConfigDict(extra="forbid")

    invoice_number: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = None
    invoice_date: date | None = None
    total: Money | None = None


class CreditIn(BaseModel):
    """A customer's credit as the ERP's credit management now sees it (left out: unchanged; the first time: a limit
    of 0, nothing open, not blocked). Amounts in the customer's currency. Sent to the Kundencenter on the ERP's
    customer-credit topic, taken now."""

    model_config = ConfigDict(extra="forbid")

    credit_limit: Decimal | None = Field(default=None, ge=0, max_digits=18, decimal_places=4)
    open_receivables: Decimal | None = Field(default=None, max_digits=18, decimal_places=4)
    open_orders: Decimal | None = Field(default=None, ge=0, max_digits=18, decimal_places=4)
    credit_blocked: bool | None = None


class PriceBreakIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_quantity: int = Field(gt=1, le=1_000_000_000)
    unit_price: Decimal = Field(ge=0, max_digits=18, decimal_places=4)


NULLABLE_PRICE_FIELDS = ("valid_from", "valid_to")


class PriceIn(BaseModel):
    """One article of a customer's assortment as the ERP now keeps it (left out: unchanged; a new article needs
    ``unit_price``). Amounts are in the customer's currency. Sent to the Kundencenter on the ERP's customer-prices
    topic, changed now."""

    model_config = ConfigDict(extra="forbid")

    unit_price: Decimal | None = Field(default=None, ge=0, max_digits=18, decimal_places=4)
    price_breaks: list[PriceBreakIn] | None = Field(default=None, max_length=50)
    blocked: bool | None = None
    listed: bool | None = None
    valid_from: AwareDatetime | None = None
    valid_to: AwareDatetime | None = None
    description: str | None = Field(default=None, max_length=200)
    unit: str | None = Field(default=None, min_length=1, max_length=40)


class RulesIO(BaseModel):
    """Which sales orders the simulated ERP rejects (see ``erp.Rules``)."""

    model_config = ConfigDict(extra="forbid")

    reject_sku_prefix: str | None = Field(default=None, max_length=40)
    reject_total_above: Decimal | None = Field(default=None, ge=0)
    ignore_sku_prefix: str | None = Field(default=None, max_length=40)


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
        description="Plays the ERP on Kafka: records what it receives, acts on each message once per idempotency "
        "key (sales orders confirmed or rejected, contact persons kept, customer centers switched on), answers "
        "through its outbox, and sends master data, contacts and invoices on command. Local stack and tests only; "
        "never deployed.",
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

    @app.get("/stats", summary="Counts: received messages, sales orders, prices, discarded duplicates")
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
            async with db.sending(pool) as conn:
                inserted = await db.insert_customer(conn, _customer_row(body, number))
                if inserted:
                    # the default price list, published with the customer (one message per article)
                    await db.insert_prices(conn, number, body.currency, prices.price_list())
                    published = await simulator.publish_prices(conn, number)
            if inserted:
                simulator.outbox.wake()
                created = await db.customer(pool, number)
                assert created is not None
                log.info(
                    "customer added", customer_number=number, allowed=body.customer_center_allowed, prices=published
                )
                return created
            if body.customer_number:
                raise HTTPException(409, f"customer {number} exists")
        raise HTTPException(503, "no free customer number found")

    @app.post(
        "/admin/customers/{customer_number}/master-data",
        summary="Change a customer's master data (e.g. revoke the customer center) and send it to the Kundencenter",
    )
    async def change_master_data(customer_number: str, body: MasterDataIn) -> dict[str, Any]:
        pool = simulator.require_pool()
        changes = body.model_dump(mode="json", exclude_unset=True)
        async with db.sending(pool) as conn:
            if await db.customer_for_update(conn, customer_number) is None:
                raise HTTPException(404, f"no customer {customer_number}")
            customer = await db.update_customer(conn, customer_number, changes)
            message = erp.master_data(customer, datetime.now(UTC))
            outbox_id = await simulator.send(conn, ERP_INBOUND_CUSTOMERS, customer_number, message)
        simulator.outbox.wake()
        log.info("master data changed", customer_number=customer_number, changes=sorted(changes), outbox_id=outbox_id)
        return {**customer, "sent": {"outbox_id": outbox_id, "idempotency_key": message.idempotency_key}}

    @app.post(
        "/admin/customers/{customer_number}/contacts",
        summary="Create or change a contact person in the ERP and send it to the Kundencenter",
    )
    async def change_erp_contact(customer_number: str, body: ErpContactIn) -> dict[str, Any]:
        pool = simulator.require_pool()
        async with db.sending(pool) as conn:
            customer = await db.customer_for_update(conn, customer_number)
            if customer is None:
                raise HTTPException(404, f"no customer {customer_number}")
            contact_id = body.contact_id or f"{customer_number}-E{secrets.randbelow(10**8):08d}"
            changes = body.model_dump(exclude={"contact_id"}, exclude_unset=True)
            shop = await db.change_shop_contact(conn, contact_id, changes) if body.contact_id else None
            if shop is not None:
                contact: dict[str, Any] = shop
            else:
                contacts = [c for c in customer["contacts"] if c.get("contact_id") != contact_id]
                before: dict[str, Any] = next(
                    (c for c in customer["contacts"] if c.get("contact_id") == contact_id), {}
                )
                version = int(before.get("version", 0)) + 1
                person = {**before, **changes, "contact_id": contact_id}
                kept = {**ErpContactPerson.model_validate(person).model_dump(mode="json"), "version": version}
                kept["active"] = person.get("active", True)
                await db.set_customer_contacts(conn, customer_number, [*contacts, kept])
                contact = {"customer_number": customer_number, **kept}
            message = erp.contact_answer(contact, None, datetime.now(UTC))
            outbox_id = await simulator.send(conn, ERP_INBOUND_CONTACTS, customer_number, message)
        simulator.outbox.wake()
        return {**message.model_dump(mode="json"), "sent": {"outbox_id": outbox_id}}

    @app.post(
        "/admin/customers/{customer_number}/invoices",
        status_code=status.HTTP_201_CREATED,
        summary="Issue an invoice to a customer (valid for registrations) and send it to the Kundencenter",
    )
    async def issue_invoice(customer_number: str, body: InvoiceIn | None = None) -> dict[str, Any]:
        body = body or InvoiceIn()
        pool = simulator.require_pool()
        number = body.invoice_number or f"R-{customer_number}-{secrets.randbelow(10**6):06d}"
        async with db.sending(pool) as conn:
            if await db.customer_for_update(conn, customer_number) is None:
                raise HTTPException(404, f"no customer {customer_number}")
            if not await db.add_invoice(conn, customer_number, number):
                raise HTTPException(409, f"invoice {number} exists")
            now = datetime.now(UTC)
            message = InvoiceIssued(
                idempotency_key=f"invoice/{number}",
                customer_number=customer_number,
                invoice_number=number,
                invoice_date=body.invoice_date or now.date(),
                total=body.total,
                issued_at=now,
            )
            outbox_id = await simulator.send(conn, ERP_INBOUND_INVOICES, customer_number, message)
        simulator.outbox.wake()
        return {**message.model_dump(mode="json"), "sent": {"outbox_id": outbox_id}}

    @app.get("/customers/{customer_number}/credit", summary="A customer's credit as last sent (404: never sent)")
    async def get_credit(customer_number: str) -> dict[str, Any]:
        found = await db.customer_credit(simulator.require_pool(), customer_number)
        if found is None:
            raise HTTPException(404, f"no credit for customer {customer_number}")
        return found

    @app.put(
        "/admin/customers/{customer_number}/credit",
        summary="Change a customer's credit limit, open receivables, open orders or credit block, and send it to the "
        "Kundencenter",
    )
    async def put_credit(customer_number: str, body: CreditIn) -> dict[str, Any]:
        pool = simulator.require_pool()
        changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
        async with db.sending(pool) as conn:
            customer = await db.customer_for_update(conn, customer_number)
            if customer is None:
                raise HTTPException(404, f"no customer {customer_number}")
            row = await db.change_credit(conn, customer_number, customer["currency"], changes)
            message = erp.credit_message(row)
            outbox_id = await simulator.send(conn, ERP_INBOUND_CUSTOMER_CREDIT, customer_number, message)
        simulator.outbox.wake()
        log.info("credit changed", customer_number=customer_number, version=row["version"], outbox_id=outbox_id)
        return {**message.model_dump(mode="json"), "sent": {"outbox_id": outbox_id}}

    @app.get("/customers/{customer_number}/prices", summary="A customer's articles and prices, by sku")
    async def get_prices(customer_number: str) -> list[dict[str, Any]]:
        pool = simulator.require_pool()
        if await db.customer(pool, customer_number) is None:
            raise HTTPException(404, f"no customer {customer_number}")
        return await db.customer_prices(pool, customer_number)

    @app.put(
        "/admin/customers/{customer_number}/prices/{sku}",
        summary="Change (or add) one article's price of a customer and send it to the Kundencenter",
    )
    async def put_price(customer_number: str, sku: SkuPath, body: PriceIn) -> dict[str, Any]:
        pool = simulator.require_pool()
        # null: unchanged, except for the validity bounds, where it means "since ever" / "until further notice"
        fields = {
            k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None or k in NULLABLE_PRICE_FIELDS
        }
        if "price_breaks" in fields:
            fields["price_breaks"] = [
                {"min_quantity": b["min_quantity"], "unit_price": str(b["unit_price"])} for b in fields["price_breaks"]
            ]
        async with db.sending(pool) as conn:
            customer = await db.customer_for_update(conn, customer_number)
            if customer is None:
                raise HTTPException(404, f"no customer {customer_number}")
            try:
                row = await db.change_price(conn, customer_number, sku, customer["currency"], fields)
            except KeyError:
                raise HTTPException(
                    422, f"{sku} is a new article for {customer_number}: unit_price is required"
                ) from None
            row = {**row, "published_version": row["version"]}
            message = prices.article_message(row)
            outbox_id = await simulator.send(conn, ERP_INBOUND_CUSTOMER_PRICES, customer_number, message)
            await db.mark_prices_published(conn, [row])
        simulator.outbox.wake()
        log.info("price changed", customer_number=customer_number, sku=sku, version=row["version"], outbox_id=outbox_id)
        return {**row, "sent": {"outbox_id": outbox_id, "idempotency_key": message.idempotency_key}}

    @app.delete(
        "/admin/customers/{customer_number}/prices/{sku}",
        summary="Lose an article without telling the Kundencenter (as an ERP restored from an older backup); a full "
        "resend then leaves it out",
    )
    async def lose_price(customer_number: str, sku: SkuPath) -> dict[str, Any]:
        deleted = await db.delete_price(simulator.require_pool(), customer_number, sku)
        if deleted is None:
            raise HTTPException(404, f"no article {sku} for customer {customer_number}")
        return deleted

    @app.get("/contacts", summary="Contact persons the Kundencenter sent (shop users), newest first")
    async def list_contacts(
        customer_number: str | None = None, limit: int = Query(1000, ge=1, le=1000)
    ) -> list[dict[str, Any]]:
        return await db.shop_contacts(simulator.require_pool(), customer_number, limit)

    @app.get("/contacts/{user_id}", summary="A contact person the Kundencenter sent, by its user id")
    async def get_contact(user_id: UUID) -> dict[str, Any]:
        found = await db.shop_contact(simulator.require_pool(), user_id)
        if found is None:
            raise HTTPException(404, f"no contact for user {user_id}")
        return found

    @app.get("/messages/{idempotency_key:path}", summary="A message acted on, by its key: duplicates discarded")
    async def get_processed(idempotency_key: str) -> dict[str, Any]:
        found = await db.processed(simulator.require_pool(), idempotency_key)
        if found is None:
            raise HTTPException(404, f"no message {idempotency_key}")
        return found

    @app.get("/admin/rules", response_model=RulesIO, summary="Which sales orders the simulated ERP rejects")
    async def get_rules() -> RulesIO:
        rules = simulator.consumer.rules
        return RulesIO(
            reject_sku_prefix=rules.reject_sku_prefix,
            reject_total_above=rules.reject_total_above,
            ignore_sku_prefix=rules.ignore_sku_prefix,
        )

    @app.put("/admin/rules", response_model=RulesIO, summary="Change which sales orders the simulated ERP rejects")
    async def put_rules(body: RulesIO) -> RulesIO:
        simulator.consumer.rules = erp.Rules(
            body.reject_sku_prefix or None, body.reject_total_above, body.ignore_sku_prefix or None
        )
        log.info("rules changed", **body.model_dump(mode="json"))
        return body

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
