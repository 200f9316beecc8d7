"""The sync state of every order and contact for operators: a projection of erp-sync's own events (asyncpg).

One row per exchange with the delivery of its latest message. ``sent`` is not stored: a message is sent once the
outbox relay's position (``kc_follower_position``) passed the notification that carries it, so a query compares
the two. Rebuildable at any time: truncate ``erp_sync_exchanges`` and reset the projector's position; updates are
guarded by the aggregate version, so replaying a batch after a crash changes nothing. The table is declared to the
runtime (:data:`TABLES`): created at start or by ``python -m kc_runtime.schema create erp_sync``, never here.
"""

from __future__ import annotations

from typing import Any, Literal, cast
from uuid import UUID

import asyncpg

from erp_sync.domain.model import ContactExchange, DeliveryStatus, SalesOrderExchange
from kc_runtime.follower import Batch, Projection, ProjectionRows
from kc_runtime.schema import Tables

SO = SalesOrderExchange
CX = ContactExchange

SyncStatus = Literal["requested", "sent", "acknowledged", "failed"]
"""A delivery's status as operators see it: ``sent`` once the relay published the latest message."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS erp_sync_exchanges (
    exchange_id uuid PRIMARY KEY,
    kind text NOT NULL,
    subject_id uuid NOT NULL,
    company_id uuid NOT NULL,
    customer_number text,
    status text NOT NULL,
    outcome text,
    idempotency_key text NOT NULL,
    notification_id bigint NOT NULL,
    attempts integer NOT NULL,
    erp_reference text,
    detail text,
    requested_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    version integer NOT NULL
);
CREATE INDEX IF NOT EXISTS erp_sync_exchanges_status ON erp_sync_exchanges (status, kind, updated_at DESC);
CREATE INDEX IF NOT EXISTS erp_sync_exchanges_company ON erp_sync_exchanges (company_id, kind, requested_at DESC);
"""
TABLES = Tables.of(SCHEMA)

KINDS = ("sales_order", "contact")
SYNC_STATUSES = ("requested", "sent", "acknowledged", "failed")


class ExchangeStates(ProjectionRows):
    """Queries of the projection. The pool is created on first use, in the running event loop; the table exists
    by then (:data:`TABLES`, created or checked by the runtime at start)."""

    def __init__(self, dsn: str, relay_name: str) -> None:
        super().__init__(dsn)
        self.relay_name = relay_name

    async def relay_position(self, conn: asyncpg.Connection) -> int:
        try:
            value = await conn.fetchval("SELECT position FROM kc_follower_position WHERE name = $1", self.relay_name)
        except asyncpg.UndefinedTableError:
            return 0  # the relay has not run yet
        return int(value or 0)

    async def query(
        self,
        *,
        kind: str | None = None,
        status: str | None = None,
        company_id: UUID | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[dict[str, Any]], int, int]:
        """Rows with their ``sync_status``, the total, and the relay's position."""
        pool = await self.pool()
        async with pool.acquire() as conn:
            relay = await self.relay_position(conn)
            sync = "CASE WHEN status = 'requested' AND notification_id <= $1::bigint THEN 'sent' ELSE status END"
            where, args = ["true"], list[Any]([relay])
            if kind is not None:
                args.append(kind)
                where.append(f"kind = ${len(args)}")
            if status is not None:
                args.append(status)
                where.append(f"({sync}) = ${len(args)}")
            if company_id is not None:
                args.append(company_id)
                where.append(f"company_id = ${len(args)}")
            sql_where = " AND ".join(where)
            total = await conn.fetchval(
                f"SELECT count(*) FROM erp_sync_exchanges WHERE {sql_where} AND $1::bigint IS NOT NULL", *args
            )
            rows = await conn.fetch(
                f"SELECT *, {sync} AS sync_status FROM erp_sync_exchanges WHERE {sql_where}"
                f" ORDER BY updated_at DESC, exchange_id LIMIT {int(limit)} OFFSET {int(offset)}",
                *args,
            )
        return [dict(r) for r in rows], int(total), relay

    async def pending(self) -> dict[str, int]:
        """Per kind: exchanges whose latest message the relay published and the ERP has not answered."""
        pool = await self.pool()
        async with pool.acquire() as conn:
            relay = await self.relay_position(conn)
            rows = await conn.fetch(
                "SELECT kind, count(*) AS n FROM erp_sync_exchanges"
                " WHERE status = 'requested' AND notification_id <= $1 GROUP BY kind",
                relay,
            )
        return {r["kind"]: int(r["n"]) for r in rows}

    async def row(self, exchange_id: UUID) -> tuple[dict[str, Any] | None, int]:
        pool = await self.pool()
        async with pool.acquire() as conn:
            relay = await self.relay_position(conn)
            row = await conn.fetchrow("SELECT * FROM erp_sync_exchanges WHERE exchange_id = $1", exchange_id)
        return (dict(row) if row else None), relay

    async def project(self, conn: asyncpg.Connection, batch: Batch) -> None:
        """The batch in a few statements: the new exchanges' rows first, then one update per exchange with what its
        later events of the batch set, in their order (a later value over an earlier one), guarded by the last
        version — with the guards that is what updating per event would leave, also for a batch projected again
        after a crash. Updates that set the same columns go together (one round trip)."""
        inserts: list[tuple[Any, ...]] = []
        updates: dict[UUID, tuple[int, Any, dict[str, Any]]] = {}
        for notification, event, _meta in batch:
            row = _new_row(notification.id, event)
            if row is not None:
                inserts.append(row)
                continue
            sets = _sets(notification.id, event)
            if sets is None:
                continue
            earlier = updates.get(event.originator_id)
            merged = {**earlier[2], **sets} if earlier else sets
            updates[event.originator_id] = (event.originator_version, event.timestamp, merged)
        if inserts:
            await conn.executemany(
                "INSERT INTO erp_sync_exchanges (exchange_id, kind, subject_id, company_id, customer_number, status,"
                " idempotency_key, notification_id, attempts, requested_at, updated_at, version)"
                " VALUES ($1, $2, $3, $4, $5, 'requested', $6, $7, 1, $8, $8, $9)"
                " ON CONFLICT (exchange_id) DO NOTHING",
                inserts,
            )
        alike: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        for xid, (version, at, sets) in updates.items():
            alike.setdefault(tuple(sets), []).append((xid, version, at, *sets.values()))
        for columns, rows in alike.items():
            assignments = ", ".join(f"{k} = ${i + 4}" for i, k in enumerate(columns))
            await conn.executemany(
                f"UPDATE erp_sync_exchanges SET {assignments}, updated_at = $3, version = $2"
                " WHERE exchange_id = $1 AND version < $2",
                rows,
            )


def _new_row(notification_id: int, e: Any) -> tuple[Any, ...] | None:
    """The row an exchange's first event creates (None: not a first event)."""
    xid, version = e.originator_id, e.originator_version
    if isinstance(e, SO.Requested):
        return (xid, "sales_order", e.order_id, e.company_id, e.request.get("customer_number"),
                f"sales-order/{e.order_id}", notification_id, e.requested_at, version)  # fmt: skip
    if isinstance(e, CX.Created):
        e = cast(Any, e)
        return (xid, "contact", e.user_id, e.company_id, e.customer_number, CX.key_of(e.user_id, 1),
                notification_id, e.at, version)  # fmt: skip
    return None


def _sets(notification_id: int, e: Any) -> dict[str, Any] | None:
    """What a later event of an exchange changes in its row (None: nothing)."""
    if isinstance(e, SO.Resent | CX.Resent):
        return {"status": "requested", "attempts": e.attempt, "notification_id": notification_id}
    if isinstance(e, SO.Failed | CX.Failed):
        return {"status": "failed", "attempts": e.attempts, "detail": "the ERP did not answer"}
    if isinstance(e, SO.Confirmed):
        return {"status": "acknowledged", "outcome": "confirmed", "erp_reference": e.erp_order_number, "detail": None}
    if isinstance(e, SO.Rejected):
        return {"status": "acknowledged", "outcome": "rejected", "detail": e.reason}
    if isinstance(e, CX.Changed | CX.Deactivated):
        return {
            "status": "requested", "outcome": None, "attempts": 1, "notification_id": notification_id,
            "idempotency_key": CX.key_of(e.user_id, e.sequence), "customer_number": e.state["customer_number"],
            "detail": None,
        }  # fmt: skip
    if isinstance(e, CX.Erased):  # ADR 0035: the erasure request is the contact's latest message
        return {
            "status": "requested", "outcome": None, "attempts": 1, "notification_id": notification_id,
            "idempotency_key": CX.key_of(e.user_id, e.sequence), "customer_number": e.customer_number,
            "detail": "erasure requested",
        }  # fmt: skip
    if isinstance(e, CX.ErpErased):
        return {"status": "acknowledged", "outcome": "erased", "erp_reference": e.erp_contact_id, "detail": None}
    if isinstance(e, CX.Acknowledged):
        sets: dict[str, Any] = {"erp_reference": e.erp_contact_id}
        if e.settles:
            sets.update(status="acknowledged", outcome="applied", detail=None)
        return sets
    if isinstance(e, CX.Amended):
        return {"customer_number": e.customer_number}
    return None


def sync_status(row: dict[str, Any] | None, relay_position: int, status: DeliveryStatus) -> SyncStatus:
    """``sent`` when the relay passed the latest message's notification; the aggregate's status otherwise."""
    published = row is not None and row["status"] == "requested" and row["notification_id"] <= relay_position
    return "sent" if status is DeliveryStatus.REQUESTED and published else status.value


class ExchangeProjector(Projection):
    kind = "exchange-projector"
