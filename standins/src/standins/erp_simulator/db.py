"""The simulator's own PostgreSQL tables and queries (asyncpg)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

SCHEMA = """
CREATE TABLE IF NOT EXISTS received (
    id                   bigserial PRIMARY KEY,
    topic                text        NOT NULL,
    partition            integer     NOT NULL,
    "offset"             bigint      NOT NULL,
    record_timestamp_ms  bigint      NOT NULL DEFAULT -1,
    key                  text,
    headers              jsonb       NOT NULL,
    event_type           text,
    payload              jsonb,
    payload_text         text,
    outcome              text        NOT NULL,
    error                text,
    idempotency_key      text,
    received_at          timestamptz NOT NULL DEFAULT now(),
    -- a record redelivered to us (we crashed between commit and ack) is the same record: same position
    -- and timestamp. A record at the same offset after the topic was recreated has another timestamp.
    UNIQUE (topic, partition, "offset", record_timestamp_ms)
);
CREATE INDEX IF NOT EXISTS received_topic_id ON received (topic, id DESC);

CREATE SEQUENCE IF NOT EXISTS sales_order_number_seq START 100001;

CREATE TABLE IF NOT EXISTS sales_orders (
    idempotency_key       text PRIMARY KEY,
    sales_order_number    text        NOT NULL UNIQUE DEFAULT ('SO-' || nextval('sales_order_number_seq')),
    order_id              uuid        NOT NULL,
    company_id            uuid,
    customer_number       text,
    payload               jsonb       NOT NULL,
    event_id              text,
    correlation_id        text,
    topic                 text        NOT NULL,
    partition             integer     NOT NULL,
    "offset"              bigint      NOT NULL,
    received_at           timestamptz NOT NULL DEFAULT now(),
    duplicates_discarded  integer     NOT NULL DEFAULT 0,
    last_duplicate_at     timestamptz
);
CREATE INDEX IF NOT EXISTS sales_orders_order_id ON sales_orders (order_id, received_at);

-- The ERP's customers: master data, invoices, known contact persons, the customer-center flags.
CREATE TABLE IF NOT EXISTS customers (
    customer_number          text PRIMARY KEY,
    name                     text        NOT NULL,
    customer_center_allowed  boolean     NOT NULL,
    customer_center_active   boolean     NOT NULL DEFAULT false,
    activated_at             timestamptz,
    activation               jsonb,
    billing_address          jsonb,
    delivery_addresses       jsonb       NOT NULL DEFAULT '[]',
    vat_id                   text,
    currency                 text        NOT NULL DEFAULT 'EUR',
    invoices                 jsonb       NOT NULL DEFAULT '[]',
    contacts                 jsonb       NOT NULL DEFAULT '[]',
    seeded                   boolean     NOT NULL DEFAULT false,
    created_at               timestamptz NOT NULL DEFAULT now()
);

-- What the ERP sends (answers), published in id order by the simulator's outbox publisher. The id is the
-- messages' kc-source-notification-id: ids commit in order (inserts take OUTBOX_LOCK), so it rises per partition.
CREATE TABLE IF NOT EXISTS outbox (
    id              bigserial PRIMARY KEY,
    topic           text        NOT NULL,
    key             text        NOT NULL,
    event_type      text        NOT NULL,
    schema_version  integer     NOT NULL DEFAULT 1,
    payload         jsonb       NOT NULL,
    correlation_id  text,
    causation_id    text,
    idempotency_key text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    published_at    timestamptz
);
CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
CREATE INDEX IF NOT EXISTS outbox_key ON outbox (key, id DESC);

-- The ERP's answer to each sales order (the same for every copy of its request).
ALTER TABLE sales_orders ADD COLUMN IF NOT EXISTS status text NOT NULL DEFAULT 'confirmed';
ALTER TABLE sales_orders ADD COLUMN IF NOT EXISTS rejection_reason text;
ALTER TABLE sales_orders ADD COLUMN IF NOT EXISTS reason_code text;

ALTER TABLE customers ADD COLUMN IF NOT EXISTS master_data_version integer NOT NULL DEFAULT 0;

-- Each customer's credit as the ERP's credit management sees it (ADR 0026); a customer without a row has never had
-- its credit sent, and the Kundencenter checks no credit for it.
CREATE TABLE IF NOT EXISTS customer_credit (
    customer_number   text PRIMARY KEY,
    currency          text        NOT NULL,
    credit_limit      numeric     NOT NULL,
    open_receivables  numeric     NOT NULL DEFAULT 0,
    open_orders       numeric     NOT NULL DEFAULT 0,
    credit_blocked    boolean     NOT NULL DEFAULT false,
    version           integer     NOT NULL DEFAULT 1,
    as_of             timestamptz NOT NULL DEFAULT now()
);

-- Contact persons the Kundencenter told the ERP about (shop users), with the ERP's contact ids.
CREATE SEQUENCE IF NOT EXISTS contact_number_seq START 100001;
CREATE TABLE IF NOT EXISTS shop_contacts (
    user_id          uuid PRIMARY KEY,
    contact_id       text        NOT NULL UNIQUE,
    company_id       uuid        NOT NULL,
    customer_number  text,
    email            text,
    first_name       text,
    last_name        text,
    language         text,
    phone            text,
    active           boolean     NOT NULL DEFAULT true,
    is_main_contact  boolean     NOT NULL DEFAULT false,
    sequence         integer     NOT NULL,
    version          integer     NOT NULL DEFAULT 1,
    messages         jsonb       NOT NULL DEFAULT '[]',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS shop_contacts_customer ON shop_contacts (customer_number, created_at);
-- A contact person erased on the Kundencenter's request (ADR 0035): ids kept, personal data gone.
ALTER TABLE shop_contacts ADD COLUMN IF NOT EXISTS erased_at timestamptz;

-- Every message acted on, by idempotency key (besides sales orders, which count their own duplicates).
CREATE TABLE IF NOT EXISTS processed_messages (
    idempotency_key       text PRIMARY KEY,
    kind                  text        NOT NULL,
    topic                 text        NOT NULL,
    outcome               text,
    received_at           timestamptz NOT NULL DEFAULT now(),
    duplicates_discarded  integer     NOT NULL DEFAULT 0,
    last_duplicate_at     timestamptz
);

-- This database's identity: part of the producer name, so a fresh database (ids from 1 again) is a new producer
-- for the consumers' tracking instead of a replay they would skip.
CREATE TABLE IF NOT EXISTS instance (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    id         uuid    NOT NULL DEFAULT gen_random_uuid()
);
INSERT INTO instance DEFAULT VALUES ON CONFLICT DO NOTHING;

-- The ERP's customer prices (see prices.py): one row per customer and article, its version rising with every
-- change; published_version is the version last queued in the outbox (below version: not published yet).
CREATE TABLE IF NOT EXISTS customer_prices (
    customer_number    text        NOT NULL,
    sku                text        NOT NULL,
    description        text        NOT NULL DEFAULT '',
    unit               text        NOT NULL DEFAULT 'piece',
    unit_price         numeric     NOT NULL,
    currency           text        NOT NULL,
    price_breaks       jsonb       NOT NULL DEFAULT '[]',
    valid_from         timestamptz,
    valid_to           timestamptz,
    blocked            boolean     NOT NULL DEFAULT false,
    listed             boolean     NOT NULL DEFAULT true,
    version            integer     NOT NULL DEFAULT 1,
    published_version  integer     NOT NULL DEFAULT 0,
    changed_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_number, sku)
);
CREATE INDEX IF NOT EXISTS customer_prices_unpublished ON customer_prices (customer_number, sku)
    WHERE published_version < version;
CREATE SEQUENCE IF NOT EXISTS price_resend_seq;
"""

OUTBOX_LOCK = 0x4B43_4552_504F  # advisory lock id: outbox inserts commit one after another, in id order

CUSTOMER_COLUMNS = """
    customer_number, name, customer_center_allowed, customer_center_active, activated_at, activation,
    billing_address, delivery_addresses, vat_id, currency, invoices, contacts, seeded, created_at, master_data_version
"""

SCHEMA_LOCK = 0x4B43_4552_5053  # advisory lock id: two simulators starting together create the tables once

SALES_ORDER_COLUMNS = """
    idempotency_key, sales_order_number, order_id, company_id, customer_number, received_at,
    duplicates_discarded, last_duplicate_at, topic, partition, "offset", event_id, correlation_id, payload,
    status, rejection_reason, reason_code
"""


@asynccontextmanager
async def sending(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A transaction that may queue messages, with the outbox's lock taken as its first statement.

    Every writer that sends takes the locks in one order — outbox first, then rows (customers, credit, contacts,
    prices). A writer that locked a customer's row first and the outbox second deadlocked with a consumer batch
    that had queued an earlier answer (holding the outbox) and then locked the same row (an activation): PostgreSQL
    broke it after ``deadlock_timeout`` with a 500 to the ERP change."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", OUTBOX_LOCK)
        yield conn


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def connect(dsn: str) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(dsn, min_size=0, max_size=4, init=_init_connection, timeout=5, command_timeout=10)
    assert pool is not None
    return pool


async def create_schema(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", SCHEMA_LOCK)
        await conn.execute(SCHEMA)


async def insert_received(conn: asyncpg.Connection, row: dict[str, Any]) -> int | None:
    """The id of the new row, or None when this very record was received before (a redelivery)."""
    return await conn.fetchval(
        """
        INSERT INTO received (topic, partition, "offset", record_timestamp_ms, key, headers, event_type,
                              payload, payload_text, outcome, error, idempotency_key)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
        ON CONFLICT (topic, partition, "offset", record_timestamp_ms) DO NOTHING
        RETURNING id
        """,
        row["topic"],
        row["partition"],
        row["offset"],
        row["record_timestamp_ms"],
        row["key"],
        row["headers"],
        row["event_type"],
        row["payload"],
        row["payload_text"],
        row["outcome"],
        row["error"],
        row["idempotency_key"],
    )


async def set_outcome(conn: asyncpg.Connection, received_id: int, outcome: str) -> None:
    await conn.execute("UPDATE received SET outcome = $1 WHERE id = $2", outcome, received_id)


async def upsert_sales_order(
    conn: asyncpg.Connection,
    order: dict[str, Any],
    decision: tuple[str, str | None, str | None] = ("confirmed", None, None),
) -> asyncpg.Record:
    """Create the sales order with its ``decision`` (status, reason, reason code), or count a duplicate of its
    idempotency key (which keeps the first decision). Returns ``created`` (bool) and the stored sales order."""
    record = await conn.fetchrow(
        f"""
        INSERT INTO sales_orders (idempotency_key, order_id, company_id, customer_number, payload, event_id,
                                  correlation_id, topic, partition, "offset", status, rejection_reason, reason_code)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
        ON CONFLICT (idempotency_key) DO UPDATE
            SET duplicates_discarded = sales_orders.duplicates_discarded + 1, last_duplicate_at = now()
        RETURNING (xmax = 0) AS created, {SALES_ORDER_COLUMNS}
        """,
        order["idempotency_key"],
        order["order_id"],
        order["company_id"],
        order["customer_number"],
        order["payload"],
        order["event_id"],
        order["correlation_id"],
        order["topic"],
        order["partition"],
        order["offset"],
        *decision,
    )
    assert record is not None
    return record


def _sales_order(record: asyncpg.Record) -> dict[str, Any]:
    return dict(record)


async def sales_orders(pool: asyncpg.Pool, order_id: Any = None) -> list[dict[str, Any]]:
    async with pool.acquire() as conn:
        if order_id is None:
            rows = await conn.fetch(
                f"SELECT {SALES_ORDER_COLUMNS} FROM sales_orders ORDER BY received_at, sales_order_number"
            )
        else:
            rows = await conn.fetch(
                f"SELECT {SALES_ORDER_COLUMNS} FROM sales_orders WHERE order_id = $1 ORDER BY received_at",
                order_id,
            )
    return [_sales_order(r) for r in rows]


async def stats(pool: asyncpg.Pool) -> dict[str, int]:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            """
            SELECT (SELECT count(*) FROM received) AS received,
                   (SELECT count(*) FROM sales_orders) AS sales_orders,
                   (SELECT coalesce(sum(duplicates_discarded), 0) FROM sales_orders) AS duplicates_discarded,
                   (SELECT count(*) FROM customers) AS customers,
                   (SELECT count(*) FROM customers WHERE customer_center_active) AS active_customer_centers,
                   (SELECT count(*) FROM sales_orders WHERE status = 'confirmed') AS sales_orders_confirmed,
                   (SELECT count(*) FROM sales_orders WHERE status = 'rejected') AS sales_orders_rejected,
                   (SELECT count(*) FROM shop_contacts) AS contacts,
                   (SELECT coalesce(sum(duplicates_discarded), 0) FROM processed_messages WHERE kind = 'contact')
                       AS contact_duplicates_discarded,
                   (SELECT coalesce(sum(duplicates_discarded), 0) FROM processed_messages
                       WHERE kind = 'customer_center_activation') AS activation_duplicates_discarded,
                   (SELECT count(*) FROM customer_prices) AS prices,
                   (SELECT count(*) FROM processed_messages WHERE kind = 'price_list_request') AS price_list_requests,
                   (SELECT coalesce(sum(duplicates_discarded), 0) FROM processed_messages
                       WHERE kind = 'price_list_request') AS price_list_request_duplicates_discarded,
                   (SELECT count(*) FROM outbox) AS sent,
                   (SELECT count(*) FROM outbox WHERE published_at IS NULL) AS unpublished
            """
        )
    assert row is not None
    return {k: int(v) for k, v in row.items()}


async def received(
    pool: asyncpg.Pool,
    topic: str | None,
    limit: int = 1000,
    key: str | None = None,
    event_type: str | None = None,
    idempotency_key: str | None = None,
) -> list[dict[str, Any]]:
    columns = """id, topic, partition, "offset", record_timestamp_ms, key, headers, event_type, payload,
                 payload_text, outcome, error, idempotency_key, received_at"""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            f"""SELECT {columns} FROM received
                WHERE ($1::text IS NULL OR topic = $1) AND ($2::text IS NULL OR key = $2)
                  AND ($3::text IS NULL OR event_type = $3) AND ($4::text IS NULL OR idempotency_key = $4)
                ORDER BY id DESC LIMIT $5""",
            topic,
            key,
            event_type,
            idempotency_key,
            limit,
        )
    return [dict(r) for r in rows]


# ---- customers ---------------------------------------------------------------------------------------------


async def insert_customer(conn: asyncpg.Connection | asyncpg.Pool, c: dict[str, Any], seeded: bool = False) -> bool:
    """Insert a customer; False when its number is taken."""
    result = await conn.fetchval(
        """
        INSERT INTO customers (customer_number, name, customer_center_allowed, billing_address, delivery_addresses,
                               vat_id, currency, invoices, contacts, seeded)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        ON CONFLICT (customer_number) DO NOTHING
        RETURNING true
        """,
        c["customer_number"],
        c["name"],
        c["customer_center_allowed"],
        c.get("billing_address"),
        c.get("delivery_addresses") or [],
        c.get("vat_id"),
        c.get("currency") or "EUR",
        c.get("invoices") or [],
        c.get("contacts") or [],
        seeded,
    )
    return bool(result)


async def customer(conn: asyncpg.Connection | asyncpg.Pool, customer_number: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE customer_number = $1", customer_number)
    return dict(row) if row else None


async def customers(pool: asyncpg.Pool, limit: int = 100) -> list[dict[str, Any]]:
    rows = await pool.fetch(f"SELECT {CUSTOMER_COLUMNS} FROM customers ORDER BY created_at DESC LIMIT $1", limit)
    return [dict(r) for r in rows]


async def activate_customer(conn: asyncpg.Connection, customer_number: str, activation: dict[str, Any]) -> str:
    """``activated``, ``already_active`` or ``unknown_customer``."""
    row = await conn.fetchrow(
        "SELECT customer_center_active FROM customers WHERE customer_number = $1 FOR UPDATE", customer_number
    )
    if row is None:
        return "unknown_customer"
    if row["customer_center_active"]:
        return "already_active"
    await conn.execute(
        "UPDATE customers SET customer_center_active = true, activated_at = now(), activation = $2"
        " WHERE customer_number = $1",
        customer_number,
        activation,
    )
    return "activated"


async def instance_id(pool: asyncpg.Pool) -> str:
    return str(await pool.fetchval("SELECT id FROM instance"))


async def seed(pool: asyncpg.Pool, customers: list[dict[str, Any]]) -> int:
    """Insert the seed customers that are missing; returns how many were inserted."""
    inserted = 0
    async with pool.acquire() as conn:
        for c in customers:
            inserted += await insert_customer(conn, c, seeded=True)
    return inserted


# ---- outbox ------------------------------------------------------------------------------------------------


async def enqueue(conn: asyncpg.Connection, message: dict[str, Any]) -> int:
    """Queue a message the ERP sends (inside the caller's transaction). Returns its id."""
    # One round trip: the lock is taken (the CTE is read) before the row, and with it the id, is made.
    outbox_id = await conn.fetchval(
        """
        WITH locked AS (SELECT pg_advisory_xact_lock($9))
        INSERT INTO outbox (topic, key, event_type, schema_version, payload, correlation_id, causation_id,
                            idempotency_key)
        SELECT $1, $2, $3, $4, $5, $6, $7, $8 FROM locked
        RETURNING id
        """,
        message["topic"],
        message["key"],
        message["event_type"],
        message["schema_version"],
        message["payload"],
        message.get("correlation_id"),
        message.get("causation_id"),
        message.get("idempotency_key"),
        OUTBOX_LOCK,
    )
    return int(outbox_id)


OUTBOX_COLUMNS = """id, topic, key, event_type, schema_version, payload, correlation_id, causation_id,
                    idempotency_key, created_at, published_at"""


async def unpublished(pool: asyncpg.Pool, limit: int = 100) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1", limit
    )
    return [dict(r) for r in rows]


async def mark_published(pool: asyncpg.Pool, ids: list[int]) -> None:
    await pool.execute("UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])", ids)


async def sent(pool: asyncpg.Pool, key: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE ($1::text IS NULL OR key = $1) ORDER BY id DESC LIMIT $2",
        key,
        limit,
    )
    return [dict(r) for r in rows]


# ---- the ERP's side of sales orders, contacts and master data -------------------------------------------------


async def set_sales_order_decision(
    conn: asyncpg.Connection, idempotency_key: str, status: str, reason: str | None, reason_code: str | None
) -> None:
    await conn.execute(
        "UPDATE sales_orders SET status = $2, rejection_reason = $3, reason_code = $4 WHERE idempotency_key = $1",
        idempotency_key,
        status,
        reason,
        reason_code,
    )


async def sales_order_by_key(conn: asyncpg.Connection, idempotency_key: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"SELECT {SALES_ORDER_COLUMNS} FROM sales_orders WHERE idempotency_key = $1", idempotency_key
    )
    return dict(row) if row else None


async def mark_processed(conn: asyncpg.Connection, idempotency_key: str, kind: str, topic: str) -> bool:
    """Record a message acted on; False (and a counted duplicate) when its key was seen before."""
    created = await conn.fetchval(
        """
        INSERT INTO processed_messages (idempotency_key, kind, topic) VALUES ($1, $2, $3)
        ON CONFLICT (idempotency_key) DO UPDATE
            SET duplicates_discarded = processed_messages.duplicates_discarded + 1, last_duplicate_at = now()
        RETURNING (xmax = 0)
        """,
        idempotency_key,
        kind,
        topic,
    )
    return bool(created)


async def processed(pool: asyncpg.Pool, idempotency_key: str) -> dict[str, Any] | None:
    row = await pool.fetchrow("SELECT * FROM processed_messages WHERE idempotency_key = $1", idempotency_key)
    return dict(row) if row else None


SEQ = "contact_number_seq"

SHOP_CONTACT_COLUMNS = """user_id, contact_id, company_id, customer_number, email, first_name, last_name, language,
    phone, active, is_main_contact, sequence, version, messages, created_at, updated_at, erased_at"""


async def shop_contact(conn: asyncpg.Connection | asyncpg.Pool, user_id: Any) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {SHOP_CONTACT_COLUMNS} FROM shop_contacts WHERE user_id = $1", user_id)
    return dict(row) if row else None


async def shop_contacts(
    pool: asyncpg.Pool, customer_number: str | None = None, limit: int = 1000
) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        f"""SELECT {SHOP_CONTACT_COLUMNS} FROM shop_contacts WHERE ($1::text IS NULL OR customer_number = $1)
            ORDER BY created_at DESC LIMIT $2""",
        customer_number,
        limit,
    )
    return [dict(r) for r in rows]


async def apply_shop_contact(conn: asyncpg.Connection, m: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Create or change a contact person from a Kundencenter message (the whole state). A message older than the
    last applied (lower sequence) changes nothing. Returns the contact and whether it changed."""
    row = await conn.fetchrow(
        f"SELECT {SHOP_CONTACT_COLUMNS} FROM shop_contacts WHERE user_id = $1 FOR UPDATE", m["user_id"]
    )
    entry = {"idempotency_key": m["idempotency_key"], "event_type": m["event_type"], "sequence": m["sequence"]}
    fields = (m["email"], m["first_name"], m["last_name"], m["language"], m["active"], m["is_main_contact"])
    if row is None:
        contact_id = m.get("erp_contact_id") or f"C-{await conn.fetchval('SELECT nextval($1::regclass)', SEQ)}"
        created = await conn.fetchrow(
            f"""INSERT INTO shop_contacts (user_id, contact_id, company_id, customer_number, email, first_name,
                    last_name, language, active, is_main_contact, sequence, messages)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                RETURNING {SHOP_CONTACT_COLUMNS}""",
            m["user_id"], contact_id, m["company_id"], m.get("customer_number"), *fields, m["sequence"], [entry],
        )  # fmt: skip
        assert created is not None
        return dict(created), True
    if m["sequence"] <= row["sequence"]:
        return dict(row), False
    updated = await conn.fetchrow(
        f"""UPDATE shop_contacts SET customer_number = coalesce($2, customer_number), email = $3, first_name = $4,
                last_name = $5, language = $6, active = $7, is_main_contact = $8, sequence = $9,
                version = version + 1, messages = messages || $10::jsonb, updated_at = now()
            WHERE user_id = $1 RETURNING {SHOP_CONTACT_COLUMNS}""",
        m["user_id"], m.get("customer_number"), *fields, m["sequence"], [entry],
    )  # fmt: skip
    assert updated is not None
    return dict(updated), True


async def erase_shop_contact(conn: asyncpg.Connection, m: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Erase a contact person on the Kundencenter's request (ADR 0035): names, e-mail, phone and language go, the
    ids stay (its sales orders still name the contact id), inactive. A contact the ERP never had is kept as erased
    (ids only), so that an older message replayed later (a lower sequence) creates nothing. Returns the contact
    and whether it changed (False: erased before)."""
    row = await conn.fetchrow(
        f"SELECT {SHOP_CONTACT_COLUMNS} FROM shop_contacts WHERE user_id = $1 FOR UPDATE", m["user_id"]
    )
    entry = {"idempotency_key": m["idempotency_key"], "event_type": m["event_type"], "sequence": m["sequence"]}
    if row is None:
        contact_id = m.get("erp_contact_id") or f"C-{await conn.fetchval('SELECT nextval($1::regclass)', SEQ)}"
        created = await conn.fetchrow(
            f"""INSERT INTO shop_contacts (user_id, contact_id, company_id, customer_number, active, sequence, messages,
                    erased_at)
                VALUES ($1, $2, $3, $4, false, $5, $6, now())
                RETURNING {SHOP_CONTACT_COLUMNS}""",
            m["user_id"], contact_id, m["company_id"], m.get("customer_number"), m["sequence"], [entry],
        )  # fmt: skip
        assert created is not None
        return dict(created), True
    if row["erased_at"] is not None:
        return dict(row), False
    updated = await conn.fetchrow(
        f"""UPDATE shop_contacts SET email = NULL, first_name = NULL, last_name = NULL, phone = NULL, language = NULL,
                active = false, sequence = greatest(sequence, $2), version = version + 1,
                messages = messages || $3::jsonb, updated_at = now(), erased_at = now()
            WHERE user_id = $1 RETURNING {SHOP_CONTACT_COLUMNS}""",
        m["user_id"], m["sequence"], [entry],
    )  # fmt: skip
    assert updated is not None
    return dict(updated), True


async def change_shop_contact(
    conn: asyncpg.Connection, contact_id: str, changes: dict[str, Any]
) -> dict[str, Any] | None:
    """A change made in the ERP to a contact person that is a shop user."""
    row = await conn.fetchrow(
        f"SELECT {SHOP_CONTACT_COLUMNS} FROM shop_contacts WHERE contact_id = $1 FOR UPDATE", contact_id
    )
    if row is None:
        return None
    new = {**dict(row), **changes}
    updated = await conn.fetchrow(
        f"""UPDATE shop_contacts SET email = $2, first_name = $3, last_name = $4, phone = $5, active = $6,
                version = version + 1, updated_at = now()
            WHERE contact_id = $1 RETURNING {SHOP_CONTACT_COLUMNS}""",
        contact_id, new["email"], new["first_name"], new["last_name"], new["phone"], new["active"],
    )  # fmt: skip
    return dict(updated) if updated else None


async def customer_for_update(conn: asyncpg.Connection, customer_number: str) -> dict[str, Any] | None:
    """The customer, its row locked for the caller's transaction (opened with ``sending``: the outbox first)."""
    row = await conn.fetchrow(
        f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE customer_number = $1 FOR UPDATE", customer_number
    )
    return dict(row) if row else None


async def update_customer(conn: asyncpg.Connection, customer_number: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Change master data (name, addresses, VAT id, currency, the customer-center flag); a new version."""
    columns = ("name", "customer_center_allowed", "billing_address", "delivery_addresses", "vat_id", "currency")
    sets = {k: v for k, v in changes.items() if k in columns}
    assignments = "".join(f", {k} = ${i + 2}" for i, k in enumerate(sets))
    row = await conn.fetchrow(
        f"""UPDATE customers SET master_data_version = master_data_version + 1{assignments}
            WHERE customer_number = $1 RETURNING {CUSTOMER_COLUMNS}""",
        customer_number,
        *sets.values(),
    )
    assert row is not None
    return dict(row)


async def set_customer_contacts(conn: asyncpg.Connection, customer_number: str, contacts: list[dict[str, Any]]) -> None:
    await conn.execute("UPDATE customers SET contacts = $2 WHERE customer_number = $1", customer_number, contacts)


async def add_invoice(conn: asyncpg.Connection, customer_number: str, invoice_number: str) -> bool:
    """Add an invoice number to the customer's invoices; False when it was there."""
    added = await conn.fetchval(
        """UPDATE customers SET invoices = invoices || to_jsonb($2::text)
           WHERE customer_number = $1 AND NOT invoices ? $2 RETURNING true""",
        customer_number,
        invoice_number,
    )
    return bool(added)


# ---- customer credit (ADR 0026) ------------------------------------------------------------------------------

CREDIT_COLUMNS = (
    "customer_number, currency, credit_limit, open_receivables, open_orders, credit_blocked, version, as_of"
)


async def customer_credit(conn: asyncpg.Connection | asyncpg.Pool, customer_number: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"SELECT {CREDIT_COLUMNS} FROM customer_credit WHERE customer_number = $1", customer_number
    )
    return dict(row) if row else None


async def change_credit(
    conn: asyncpg.Connection, customer_number: str, currency: str, changes: dict[str, Any], more_open_orders: Any = 0
) -> dict[str, Any]:
    """Set a customer's credit figures (left out: unchanged; a first change starts from a limit of 0, nothing open,
    not blocked), ``more_open_orders`` added to the open orders: a new version, taken now.

    Takes the outbox's lock first: the credit's writers send it, and the consumer may hold that lock already (an
    earlier answer of its batch), so every writer locks outbox, then credit — never the other way round."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", OUTBOX_LOCK)
    before = await conn.fetchrow(
        f"SELECT {CREDIT_COLUMNS} FROM customer_credit WHERE customer_number = $1 FOR UPDATE", customer_number
    )
    now = {"credit_limit": 0, "open_receivables": 0, "open_orders": 0, "credit_blocked": False}
    if before is not None:
        now.update({k: before[k] for k in now})
    now.update(changes)
    now["open_orders"] += more_open_orders
    row = await conn.fetchrow(
        f"""INSERT INTO customer_credit (customer_number, currency, credit_limit, open_receivables, open_orders,
                credit_blocked, version, as_of)
            VALUES ($1, $2, $3, $4, $5, $6, 1, clock_timestamp())
            ON CONFLICT (customer_number) DO UPDATE SET currency = $2, credit_limit = $3, open_receivables = $4,
                open_orders = $5, credit_blocked = $6, version = customer_credit.version + 1,
                as_of = clock_timestamp()
            RETURNING {CREDIT_COLUMNS}""",
        customer_number, currency, now["credit_limit"], now["open_receivables"], now["open_orders"],
        now["credit_blocked"],
    )  # fmt: skip
    assert row is not None
    return dict(row)


# ---- customer prices ---------------------------------------------------------------------------------------

PRICE_COLUMNS = """customer_number, sku, description, unit, unit_price, currency, price_breaks, valid_from, valid_to,
    blocked, listed, version, published_version, changed_at"""


async def insert_prices(
    conn: asyncpg.Connection, customer_number: str, currency: str, articles: list[dict[str, Any]]
) -> int:
    """Insert the articles a customer does not have yet (not published: ``published_version`` 0)."""
    inserted = 0
    for a in articles:
        breaks = [{"min_quantity": b["min_quantity"], "unit_price": str(b["unit_price"])} for b in a["price_breaks"]]
        inserted += bool(
            await conn.fetchval(
                """INSERT INTO customer_prices (customer_number, sku, description, unit, unit_price, currency,
                       price_breaks, blocked)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                   ON CONFLICT (customer_number, sku) DO NOTHING RETURNING true""",
                customer_number,
                a["sku"],
                a["description"],
                a["unit"],
                a["unit_price"],
                currency,
                breaks,
                a["blocked"],
            )
        )
    return inserted


async def unpublished_prices(conn: asyncpg.Connection, customer_number: str | None = None) -> list[dict[str, Any]]:
    """Price rows whose latest version was not queued yet, locked for the caller's transaction."""
    rows = await conn.fetch(
        f"""SELECT {PRICE_COLUMNS} FROM customer_prices
            WHERE published_version < version AND ($1::text IS NULL OR customer_number = $1)
            ORDER BY customer_number, sku FOR UPDATE""",
        customer_number,
    )
    return [dict(r) for r in rows]


async def mark_prices_published(conn: asyncpg.Connection, rows: list[dict[str, Any]]) -> None:
    await conn.executemany(
        "UPDATE customer_prices SET published_version = $3 WHERE customer_number = $1 AND sku = $2",
        [(r["customer_number"], r["sku"], r["version"]) for r in rows],
    )


async def change_price(
    conn: asyncpg.Connection, customer_number: str, sku: str, currency: str, fields: dict[str, Any]
) -> dict[str, Any]:
    """Create or change one article of a customer (a new version, changed now; not published yet)."""
    columns = ("description", "unit", "unit_price", "price_breaks", "valid_from", "valid_to", "blocked", "listed")
    sets = {k: v for k, v in fields.items() if k in columns}
    row = await conn.fetchrow(
        f"SELECT {PRICE_COLUMNS} FROM customer_prices WHERE customer_number = $1 AND sku = $2 FOR UPDATE",
        customer_number,
        sku,
    )
    if row is None:
        if "unit_price" not in sets:
            raise KeyError("unit_price")
        await conn.execute(
            "INSERT INTO customer_prices (customer_number, sku, unit_price, currency, version) VALUES ($1, $2, $3, $4, 0)",
            customer_number,
            sku,
            sets["unit_price"],
            currency,
        )
    assignments = "".join(f", {k} = ${i + 3}" for i, k in enumerate(sets))
    updated = await conn.fetchrow(
        f"""UPDATE customer_prices SET version = version + 1, changed_at = clock_timestamp(){assignments}
            WHERE customer_number = $1 AND sku = $2 RETURNING {PRICE_COLUMNS}""",
        customer_number,
        sku,
        *sets.values(),
    )
    assert updated is not None
    return dict(updated)


async def customer_prices(conn: asyncpg.Connection | asyncpg.Pool, customer_number: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT {PRICE_COLUMNS} FROM customer_prices WHERE customer_number = $1 ORDER BY sku", customer_number
    )
    return [dict(r) for r in rows]


async def next_resend_id(conn: asyncpg.Connection, customer_number: str) -> str:
    return f"resend-{customer_number}-{await conn.fetchval('SELECT nextval($1::regclass)', 'price_resend_seq')}"


async def delete_price(pool: asyncpg.Pool, customer_number: str, sku: str) -> dict[str, Any] | None:
    row = await pool.fetchrow(
        f"DELETE FROM customer_prices WHERE customer_number = $1 AND sku = $2 RETURNING {PRICE_COLUMNS}",
        customer_number,
        sku,
    )
    return dict(row) if row else None
