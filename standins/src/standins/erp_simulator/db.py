"""The simulator's own PostgreSQL tables and queries (asyncpg)."""

from __future__ import annotations

import json
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
"""

SCHEMA_LOCK = 0x4B43_4552_5053  # advisory lock id: two simulators starting together create the tables once

SALES_ORDER_COLUMNS = """
    idempotency_key, sales_order_number, order_id, company_id, customer_number, received_at,
    duplicates_discarded, last_duplicate_at, topic, partition, "offset", event_id, correlation_id, payload
"""


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


async def upsert_sales_order(conn: asyncpg.Connection, order: dict[str, Any]) -> asyncpg.Record:
    """Create the sales order, or count a duplicate of its idempotency key. Returns ``created`` (bool),
    ``sales_order_number`` and ``duplicates_discarded``."""
    record = await conn.fetchrow(
        """
        INSERT INTO sales_orders (idempotency_key, order_id, company_id, customer_number, payload, event_id,
                                  correlation_id, topic, partition, "offset")
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        ON CONFLICT (idempotency_key) DO UPDATE
            SET duplicates_discarded = sales_orders.duplicates_discarded + 1, last_duplicate_at = now()
        RETURNING (xmax = 0) AS created, sales_order_number, duplicates_discarded
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
                   (SELECT coalesce(sum(duplicates_discarded), 0) FROM sales_orders) AS duplicates_discarded
            """
        )
    assert row is not None
    return {k: int(v) for k, v in row.items()}


async def received(pool: asyncpg.Pool, topic: str | None, limit: int = 1000) -> list[dict[str, Any]]:
    columns = """id, topic, partition, "offset", record_timestamp_ms, key, headers, event_type, payload,
                 payload_text, outcome, error, idempotency_key, received_at"""
    async with pool.acquire() as conn:
        if topic is None:
            rows = await conn.fetch(f"SELECT {columns} FROM received ORDER BY id DESC LIMIT $1", limit)
        else:
            rows = await conn.fetch(
                f"SELECT {columns} FROM received WHERE topic = $1 ORDER BY id DESC LIMIT $2", topic, limit
            )
    return [dict(r) for r in rows]
