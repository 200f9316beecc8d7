"""Order summaries for lists and the approvers' inbox: a projection of approval's own events (asyncpg).

Rebuildable at any time: truncate ``approval_order_summaries`` and ``approval_order_counts`` and reset the
projector's position; the :class:`OrderProjector` replays the notification log. Updates are idempotent (guarded
by the order version), so replaying a batch after a crash changes nothing.

The lists' totals come from ``approval_order_counts`` (orders per company, buyer and status, kept in the same
transaction as the summaries): counting a long history row by row would make every list cost more as it grows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from approval.domain.deadlines import CompanyDeadlines
from approval.domain.model import Order, OrderContent
from kc_runtime.follower import Batch, Projection, ProjectionRows
from kc_runtime.schema import Tables

SCHEMA = """
CREATE TABLE IF NOT EXISTS approval_order_summaries (
    order_id uuid PRIMARY KEY,
    company_id uuid NOT NULL,
    buyer_id uuid NOT NULL,
    status text NOT NULL,
    total numeric NOT NULL,
    currency text NOT NULL,
    total_quantity integer NOT NULL,
    line_count integer NOT NULL,
    reference text,
    approvers uuid[] NOT NULL DEFAULT '{}',
    round integer NOT NULL DEFAULT 1,
    submitted_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    version integer NOT NULL
);
-- One index per kind of list, in the lists' order (newest first, then id): a page of a company with a long
-- history is read from the index alone, without sorting all of the company's or the buyer's orders.
CREATE INDEX IF NOT EXISTS approval_order_summaries_buyer_list
    ON approval_order_summaries (company_id, buyer_id, submitted_at DESC, order_id);
CREATE INDEX IF NOT EXISTS approval_order_summaries_buyer_status_list
    ON approval_order_summaries (company_id, buyer_id, status, submitted_at DESC, order_id);
CREATE INDEX IF NOT EXISTS approval_order_summaries_company_list
    ON approval_order_summaries (company_id, submitted_at DESC, order_id);
CREATE INDEX IF NOT EXISTS approval_order_summaries_company_status_list
    ON approval_order_summaries (company_id, status, submitted_at DESC, order_id);
DROP INDEX IF EXISTS approval_order_summaries_buyer;
DROP INDEX IF EXISTS approval_order_summaries_company;
CREATE INDEX IF NOT EXISTS approval_order_summaries_approvers
    ON approval_order_summaries USING gin (approvers);
-- The oldest order waiting for a decision (business metrics), found without reading the whole history.
CREATE INDEX IF NOT EXISTS approval_order_summaries_pending
    ON approval_order_summaries (submitted_at) WHERE status = 'pending_approval';
CREATE TABLE IF NOT EXISTS approval_order_counts (
    company_id uuid NOT NULL,
    buyer_id uuid NOT NULL,
    status text NOT NULL,
    orders bigint NOT NULL,
    PRIMARY KEY (company_id, buyer_id, status)
);
"""


TABLES = Tables.of(SCHEMA)

DEADLINES_SCHEMA = """
-- Deadlines (ADR 0033; migration 0005 in the service's history): when each pending order began its wait (null:
-- before the migration — its submission counts), the last deadline step it took, and each company's deadlines; the
-- timer asks for the pending orders of companies with deadlines, oldest wait first.
ALTER TABLE approval_order_summaries
    ADD COLUMN IF NOT EXISTS waiting_since timestamptz,
    ADD COLUMN IF NOT EXISTS deadline_stage smallint NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS approval_order_summaries_waiting
    ON approval_order_summaries (company_id, (coalesce(waiting_since, submitted_at))) WHERE status = 'pending_approval';
CREATE TABLE IF NOT EXISTS approval_deadline_settings (
    company_id uuid PRIMARY KEY,
    remind_after_s integer,
    escalate_after_s integer,
    expire_after_s integer,
    version integer NOT NULL
);
"""
"""Run after :data:`SCHEMA` where this module creates its tables (tests, tools); the service's database gets it from
its migrations. Not in :data:`TABLES` (the tables of the baseline, adopted from databases made before migrations)."""


async def _count_existing(conn: asyncpg.Connection) -> None:
    """Counts for summaries projected before the counts existed: once, with the projector held off meanwhile."""
    if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM approval_order_counts)"):
        return
    async with conn.transaction():
        await conn.execute("LOCK TABLE approval_order_summaries IN SHARE MODE")
        if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM approval_order_counts)"):
            return
        await conn.execute(
            "INSERT INTO approval_order_counts (company_id, buyer_id, status, orders)"
            " SELECT company_id, buyer_id, status, count(*) FROM approval_order_summaries GROUP BY 1, 2, 3"
        )


class OrderSummaries(ProjectionRows):
    """Queries of the projection. The pool is created on first use, in the running event loop.

    ``create``: run :data:`SCHEMA` when the pool is made (tests, tools). The service passes False: its runtime
    runs the DDL at start when ``APPROVAL_CREATE_SCHEMA`` is on and otherwise checks the tables exist
    (:data:`TABLES`)."""

    def __init__(self, dsn: str, *, create: bool = True) -> None:
        super().__init__(dsn, max_size=8, schema=[SCHEMA, DEADLINES_SCHEMA] if create else [])
        self.loop: asyncio.AbstractEventLoop | None = None

    async def on_pool(self, conn: asyncpg.Connection) -> None:
        self.loop = asyncio.get_running_loop()
        await _count_existing(conn)

    async def query(
        self,
        company_id: UUID,
        *,
        buyer_id: UUID | None = None,
        approver_id: UUID | None = None,
        acting_for: Sequence[UUID] = (),
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[dict[str, Any]], int]:
        """``approver_id``: the orders routed to them, and (``acting_for``: the absent approvers they substitute now)
        to those approvers — never their own orders (ADR 0020)."""
        where = ["company_id = $1"]
        args: list[Any] = [company_id]
        if buyer_id is not None:
            args.append(buyer_id)
            where.append(f"buyer_id = ${len(args)}")
        if approver_id is not None and acting_for:
            args.append([approver_id, *acting_for])
            args.append(approver_id)
            where.append(f"approvers && ${len(args) - 1}::uuid[] AND buyer_id <> ${len(args)}")
        elif approver_id is not None:
            args.append(approver_id)
            where.append(f"${len(args)} = ANY(approvers)")
        if status is not None:
            args.append(status)
            where.append(f"status = ${len(args)}")
        sql_where = " AND ".join(where)
        if approver_id is None:  # the counts have no approvers; an inbox holds only what waits for a decision
            counted = f"SELECT coalesce(sum(orders), 0) FROM approval_order_counts WHERE {sql_where}"
        else:
            counted = f"SELECT count(*) FROM approval_order_summaries WHERE {sql_where}"
        pool = await self.pool()
        async with pool.acquire() as conn:
            total = await conn.fetchval(counted, *args)
            rows = await conn.fetch(
                f"SELECT * FROM approval_order_summaries WHERE {sql_where}"
                f" ORDER BY submitted_at DESC, order_id LIMIT {int(limit)} OFFSET {int(offset)}",
                *args,
            )
        return [dict(r) for r in rows], int(total)

    async def pending_routed_to(self, company_id: UUID, approver_id: UUID, limit: int) -> list[UUID]:
        """The company's orders waiting for ``approver_id`` (oldest first, at most ``limit``)."""
        pool = await self.pool()
        async with pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT order_id FROM approval_order_summaries WHERE company_id = $1 AND $2 = ANY(approvers)"
                f" AND status = 'pending_approval' ORDER BY submitted_at, order_id LIMIT {int(limit)}",
                company_id, approver_id,
            )  # fmt: skip
        return [r["order_id"] for r in rows]

    async def pending_oldest_first(self, company_id: UUID, buyer_id: UUID | None, limit: int) -> list[UUID]:
        """The company's (or one buyer's) pending orders, oldest first, at most ``limit``."""
        pool = await self.pool()
        async with pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT order_id FROM approval_order_summaries WHERE company_id = $1 AND status = 'pending_approval'"
                f" AND ($2::uuid IS NULL OR buyer_id = $2) ORDER BY submitted_at, order_id LIMIT {int(limit)}",
                company_id, buyer_id,
            )  # fmt: skip
        return [r["order_id"] for r in rows]

    async def pending_of_company(self, company_id: UUID) -> list[UUID]:
        pool = await self.pool()
        async with pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT order_id FROM approval_order_summaries WHERE company_id = $1 AND status = 'pending_approval'",
                company_id,
            )
        return [r["order_id"] for r in rows]

    async def due_for_deadlines(self, now: datetime, limit: int) -> list[UUID]:
        """Pending orders of companies with deadlines whose next deadline step has come (ADR 0033), the longest
        waiting first. The read model may lag: the order itself decides what is due (``Orders.take_deadline``)."""
        pool = await self.pool()
        async with pool.acquire() as conn:
            rows = await conn.fetch(
                """SELECT s.order_id FROM approval_deadline_settings d
                   JOIN approval_order_summaries s ON s.company_id = d.company_id AND s.status = 'pending_approval'
                   WHERE coalesce(s.waiting_since, s.submitted_at)
                           <= $1::timestamptz - least(d.remind_after_s, d.escalate_after_s, d.expire_after_s) * interval '1 second'
                     AND ((s.deadline_stage < 1 AND coalesce(s.waiting_since, s.submitted_at)
                            + d.remind_after_s * interval '1 second' <= $1)
                       OR (s.deadline_stage < 2 AND coalesce(s.waiting_since, s.submitted_at)
                            + d.escalate_after_s * interval '1 second' <= $1)
                       OR (s.deadline_stage < 3 AND coalesce(s.waiting_since, s.submitted_at)
                            + d.expire_after_s * interval '1 second' <= $1))
                   ORDER BY coalesce(s.waiting_since, s.submitted_at), s.order_id LIMIT $2""",
                now,
                limit,
            )
        return [r["order_id"] for r in rows]

    def pending_of_company_blocking(self, company_id: UUID) -> list[UUID]:
        """For handlers running in worker threads: runs the query on the service's event loop."""
        assert self.loop is not None, "the read model pool is not open yet"
        return asyncio.run_coroutine_threadsafe(self.pending_of_company(company_id), self.loop).result(timeout=30)

    async def project(self, conn: asyncpg.Connection, batch: Batch) -> None:
        await _project_batch(conn, [event for _notification, event, _meta in batch])


def _text(value: str | None) -> str | None:
    """PostgreSQL text cannot hold a NUL character; an order stored with one must not stop the projection."""
    return value.replace("\x00", "\ufffd") if value else value


def _is_order_event(event: Any) -> bool:
    return isinstance(event, Order.Event)


def _fold(events: list[Any]) -> dict[str, Any]:
    """The columns an order's events (in order, none of them a resubmission) leave behind: final values, so
    applying them again — or after some of the events were applied already — changes nothing more."""
    sets: dict[str, Any] = {}
    for event in events:
        match event:
            case Order.ApprovalRequested() | Order.Escalated():
                sets["approvers"] = list(event.approvers)
                sets["waiting_since"] = event.at  # a new wait: the deadlines count from here
                sets["deadline_stage"] = 0
            case Order.Reassigned():
                sets["approvers"] = list(event.approvers)
            case Order.Reminded():
                sets["deadline_stage"] = 1
            case Order.EscalatedOnDeadline():
                sets["approvers"] = list(event.approvers)
                sets["deadline_stage"] = 2
            case Order.Expired():
                sets["status"] = "expired"
                sets["deadline_stage"] = 3
            case Order.Released():
                sets["status"] = "released"
            case Order.Rejected():
                sets["status"] = "rejected"
            case Order.Cancelled():
                sets["status"] = "cancelled"
            case Order.Transmitted():
                sets["status"] = "transmitted"
            case Order.ConfirmedByErp():
                sets["status"] = "confirmed"
            case Order.RejectedByErp():
                sets["status"] = "erp_rejected"
            case Order.CreditHeld():
                sets["status"] = "credit_hold"
            case Order.Modified():
                c = event.content
                sets.update(total=Decimal(c.total_value), total_quantity=c.total_quantity, line_count=len(c.lines),
                            reference=_text(c.reference))  # fmt: skip
            case _:
                pass  # the other events (submitted, approved, commented…) change no column of the summary
    return sets


async def _project_batch(conn: asyncpg.Connection, events: list[Any]) -> None:
    """A follower batch in few statements: the events of each order folded into one row change (new orders
    inserted together, with their state at the end of the batch), the counts changed once per company, buyer and
    status. An order with a resubmission in the batch (its round counts up) and a new order already projected (a
    batch handled again) take the event-by-event way, which is idempotent by the version guard."""
    orders: dict[UUID, list[Any]] = {}
    deadlines: dict[UUID, Any] = {}
    for event in events:
        if _is_order_event(event):
            orders.setdefault(event.originator_id, []).append(event)
        elif isinstance(event, CompanyDeadlines.Changed):
            deadlines[event.company_id] = event  # the last of the batch
    if deadlines:
        await conn.executemany(
            "INSERT INTO approval_deadline_settings (company_id, remind_after_s, escalate_after_s, expire_after_s,"
            " version) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (company_id) DO UPDATE SET"
            " remind_after_s = $2, escalate_after_s = $3, expire_after_s = $4, version = $5"
            " WHERE approval_deadline_settings.version < $5",
            [(c, e.deadlines.remind_after_s, e.deadlines.escalate_after_s, e.deadlines.expire_after_s,
              e.originator_version) for c, e in sorted(deadlines.items(), key=lambda kv: str(kv[0]))],
        )  # fmt: skip
    one_by_one: list[Any] = []
    new: list[tuple[Any, ...]] = []
    new_events: dict[UUID, list[Any]] = {}
    counts: dict[tuple[UUID, UUID, str], int] = {}
    for oid, evs in orders.items():
        if any(isinstance(e, Order.Resubmitted) for e in evs):
            one_by_one.extend(evs)
            continue
        first, last = evs[0], evs[-1]
        sets = _fold(evs)
        if isinstance(first, Order.Submitted):
            c: OrderContent = first.content
            if "total" in sets:
                c_total, c_qty, c_lines, c_ref = (
                    sets["total"],
                    sets["total_quantity"],
                    sets["line_count"],
                    sets["reference"],
                )
            else:
                c_total, c_qty, c_lines, c_ref = (
                    Decimal(c.total_value),
                    c.total_quantity,
                    len(c.lines),
                    _text(c.reference),
                )
            new.append((oid, first.company_id, first.buyer_id, sets.get("status", "pending_approval"), c_total,
                        c.currency, c_qty, c_lines, c_ref, sets.get("approvers", []), first.timestamp, last.timestamp,
                        last.originator_version, sets.get("waiting_since"), sets.get("deadline_stage", 0)))  # fmt: skip
            new_events[oid] = evs
            continue
        await _update(conn, oid, last.originator_version, sets, last.timestamp, counts)
    if new:
        rows = await conn.fetch(
            "INSERT INTO approval_order_summaries (order_id, company_id, buyer_id, status, total, currency,"
            " total_quantity, line_count, reference, approvers, submitted_at, updated_at, version, waiting_since,"
            " deadline_stage)"
            " SELECT n.order_id, n.company_id, n.buyer_id, n.status, n.total, n.currency, n.total_quantity,"
            "  n.line_count, n.reference, coalesce((SELECT array_agg(a::uuid) FROM jsonb_array_elements_text(n.approvers) a),"
            "  '{}'), n.submitted_at, n.updated_at, n.version, n.waiting_since, n.deadline_stage"
            " FROM jsonb_to_recordset($1::jsonb) AS n(order_id uuid, company_id uuid, buyer_id uuid, status text,"
            "  total numeric, currency text, total_quantity integer, line_count integer, reference text,"
            "  approvers jsonb, submitted_at timestamptz, updated_at timestamptz, version integer,"
            "  waiting_since timestamptz, deadline_stage smallint)"
            " ON CONFLICT (order_id) DO NOTHING RETURNING order_id, company_id, buyer_id, status",
            _json_rows(new),
        )
        inserted = {r["order_id"] for r in rows}
        for r in rows:
            key = (r["company_id"], r["buyer_id"], r["status"])
            counts[key] = counts.get(key, 0) + 1
        for oid, evs in new_events.items():
            if oid not in inserted:  # projected before: the batch is handled again
                one_by_one.extend(evs)
    if counts:
        await conn.executemany(
            "INSERT INTO approval_order_counts (company_id, buyer_id, status, orders) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (company_id, buyer_id, status) DO UPDATE SET orders = approval_order_counts.orders + $4",
            [(*key, change) for key, change in sorted(counts.items(), key=lambda kv: str(kv[0])) if change],
        )
    for event in one_by_one:
        await _project(conn, event)


def _json_rows(rows: list[tuple[Any, ...]]) -> str:
    import json

    keys = ("order_id", "company_id", "buyer_id", "status", "total", "currency", "total_quantity", "line_count",
            "reference", "approvers", "submitted_at", "updated_at", "version", "waiting_since",
            "deadline_stage")  # fmt: skip
    out = []
    for row in rows:
        item = dict(zip(keys, row, strict=True))
        for k in ("order_id", "company_id", "buyer_id", "total"):
            item[k] = str(item[k])
        item["approvers"] = [str(a) for a in item["approvers"]]
        item["submitted_at"] = item["submitted_at"].isoformat()
        item["updated_at"] = item["updated_at"].isoformat()
        item["waiting_since"] = item["waiting_since"].isoformat() if item["waiting_since"] else None
        out.append(item)
    return json.dumps(out)


async def _update(
    conn: asyncpg.Connection,
    oid: UUID,
    version: int,
    sets: dict[str, Any],
    at: datetime,
    counts: dict[tuple[UUID, UUID, str], int],
) -> None:
    """One row change for an existing order (guarded by its version); a status move is counted in ``counts``."""
    assignments = ", ".join(f"{k} = ${i + 3}" for i, k in enumerate(sets))
    prefix = f"{assignments}, " if assignments else ""
    if "status" not in sets:
        await conn.execute(
            f"UPDATE approval_order_summaries SET {prefix}updated_at = ${len(sets) + 3}, version = $2"
            " WHERE order_id = $1 AND version < $2",
            oid, version, *sets.values(), at,
        )  # fmt: skip
        return
    moved = await conn.fetchrow(
        "WITH old AS (SELECT order_id, status FROM approval_order_summaries"
        "             WHERE order_id = $1 AND version < $2 FOR UPDATE)"
        f" UPDATE approval_order_summaries s SET {prefix}updated_at = ${len(sets) + 3}, version = $2"
        " FROM old WHERE s.order_id = old.order_id"
        " RETURNING old.status AS before, s.status AS after, s.company_id, s.buyer_id",
        oid, version, *sets.values(), at,
    )  # fmt: skip
    if moved is not None and moved["before"] != moved["after"]:
        for status, change in ((moved["before"], -1), (moved["after"], 1)):
            key = (moved["company_id"], moved["buyer_id"], status)
            counts[key] = counts.get(key, 0) + change


async def _project(conn: asyncpg.Connection, event: Any) -> None:
    if not _is_order_event(event):
        return  # members, e-mail index, companies: not orders
    oid, version = event.originator_id, event.originator_version
    at: datetime = event.timestamp
    if isinstance(event, Order.Submitted):
        c: OrderContent = event.content
        inserted = await conn.fetchval(
            "INSERT INTO approval_order_summaries (order_id, company_id, buyer_id, status, total, currency,"
            " total_quantity, line_count, reference, submitted_at, updated_at, version)"
            " VALUES ($1,$2,$3,'pending_approval',$4,$5,$6,$7,$8,$9,$9,$10) ON CONFLICT (order_id) DO NOTHING"
            " RETURNING true",
            oid, event.company_id, event.buyer_id, Decimal(c.total_value), c.currency, c.total_quantity,
            len(c.lines), _text(c.reference), at, version,
        )  # fmt: skip
        if inserted:
            await _count(conn, event.company_id, event.buyer_id, "pending_approval", 1)
        return
    if isinstance(event, Order.Resubmitted):
        c = event.content
        sets: dict[str, Any] = {"total": Decimal(c.total_value), "total_quantity": c.total_quantity,
                                "line_count": len(c.lines), "reference": _text(c.reference),
                                "status": "pending_approval", "approvers": []}  # fmt: skip
        await conn.execute(
            "UPDATE approval_order_summaries SET round = round + 1 WHERE order_id = $1 AND version < $2",
            oid, version,
        )  # fmt: skip
    else:
        sets = _fold([event])
    counts: dict[tuple[UUID, UUID, str], int] = {}
    await _update(conn, oid, version, sets, at, counts)
    for (company_id, buyer_id, status), change in counts.items():
        await _count(conn, company_id, buyer_id, status, change)


async def _count(conn: asyncpg.Connection, company_id: UUID, buyer_id: UUID, status: str, change: int) -> None:
    await conn.execute(
        "INSERT INTO approval_order_counts (company_id, buyer_id, status, orders) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (company_id, buyer_id, status) DO UPDATE SET orders = approval_order_counts.orders + $4",
        company_id, buyer_id, status, change,
    )  # fmt: skip


class OrderProjector(Projection):
    kind = "order-projector"
