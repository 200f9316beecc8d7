"""The what-if's facts (ADR 0030): one row per order with what a replay of its routing needs, projected from approval's
own events by one more follower of the service's log.

Per order: who ordered it, when, in which currency, its value and quantity as first submitted, the budget it was
judged on (pinned in ``Submitted``), how its first judgement routed it (held or not, the limits exceeded, the
approvers and the tier of its first ``ApprovalRequested``), and the moments that move a period budget's ledger (the
release with its value and whether an approver released it, the end of an order that will not be delivered, the
ERP's confirmation). A what-if reads only this table — never the event store, never an aggregate.

Idempotent like the figures' projection (ADR 0021): each row remembers the version of the last event applied.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from approval.application.what_if import Fact, Tally
from approval.domain.budget import Budget
from approval.domain.model import Order
from kc_runtime.follower import Batch, Projection, ProjectionRows
from kc_runtime.schema import Tables

# The same statement as migration 0003 (see figures.py for why both exist).
SCHEMA = """
CREATE TABLE IF NOT EXISTS approval_whatif_orders (
    order_id uuid PRIMARY KEY,
    company_id uuid NOT NULL,
    buyer_id uuid NOT NULL,
    submitted_at timestamptz NOT NULL,
    currency text NOT NULL,
    value numeric NOT NULL,
    quantity integer NOT NULL,
    max_quantity integer,
    max_value numeric,
    budget_currency text,
    period_kind text,
    period_max_value numeric,
    period_currency text,
    period_max_quantity integer,
    held boolean NOT NULL DEFAULT false,
    limits text[] NOT NULL DEFAULT '{}',
    approvers uuid[] NOT NULL DEFAULT '{}',
    tier integer,
    approved boolean NOT NULL DEFAULT false,
    released_at timestamptz,
    released_value numeric,
    released_quantity integer,
    ended_at timestamptz,
    confirmed_at timestamptz,
    version integer NOT NULL
);
CREATE INDEX IF NOT EXISTS approval_whatif_orders_period ON approval_whatif_orders (company_id, submitted_at);
CREATE INDEX IF NOT EXISTS approval_whatif_orders_buyer ON approval_whatif_orders (company_id, buyer_id, submitted_at);
"""

TABLES = Tables.of(SCHEMA)

COLUMNS = (
    "order_id", "company_id", "buyer_id", "submitted_at", "currency", "value", "quantity", "max_quantity",
    "max_value", "budget_currency", "period_kind", "period_max_value", "period_currency", "period_max_quantity",
    "held", "limits", "approvers", "tier", "approved", "released_at", "released_value", "released_quantity",
    "ended_at", "confirmed_at", "version",
)  # fmt: skip


def fold(row: dict[str, Any] | None, event: Any) -> dict[str, Any] | None:
    """The order's row after ``event`` (None: not an order known here). Pure: the service tests fold in memory."""
    if isinstance(event, Order.Submitted):
        if row is not None:
            return row
        c, b = event.content, event.budget or Budget()
        p = b.period
        row = dict.fromkeys(COLUMNS)
        row.update(
            order_id=event.originator_id, company_id=event.company_id, buyer_id=event.buyer_id,
            submitted_at=event.submitted_at, currency=c.currency, value=Decimal(c.total_value),
            quantity=int(c.total_quantity), max_quantity=b.max_quantity, max_value=b.max_value,
            budget_currency=b.currency, period_kind=p.period if p else None, period_max_value=p.max_value if p else None,
            period_currency=p.currency if p else None, period_max_quantity=p.max_quantity if p else None,
            held=False, limits=[], approvers=[], approved=False,
        )  # fmt: skip
    elif row is None:
        return None
    elif isinstance(event, Order.ApprovalRequested):
        if not row["held"] and row["released_at"] is None:  # the first judgement only
            position = event.position
            row.update(
                held=True, limits=sorted({x.limit for x in event.exceeded}), approvers=list(event.approvers),
                tier=position.tier if position is not None else None,
            )  # fmt: skip
    elif isinstance(event, Order.Released):
        row.update(
            released_at=event.released_at, released_value=Decimal(event.content.total_value),
            released_quantity=int(event.content.total_quantity), approved=event.approved_by is not None, ended_at=None,
        )  # fmt: skip
    elif isinstance(event, Order.Rejected | Order.Cancelled | Order.RejectedByErp | Order.Expired):
        # it will not be delivered: its period budget's reservation is free again
        row["ended_at"] = event.at
    elif isinstance(event, Order.Resubmitted):
        row["ended_at"] = None
    elif isinstance(event, Order.ConfirmedByErp):
        row["confirmed_at"] = event.at
    row["version"] = event.originator_version
    return row


READ = (
    "order_id", "buyer_id", "submitted_at", "currency", "value", "quantity", "held", "limits", "approvers", "tier",
    "approved", "released_at", "released_value", "released_quantity", "ended_at", "confirmed_at",
)  # fmt: skip
"""What the replay reads of a row (in :class:`Fact`'s order)."""

_LEDGER = {
    "approved": "boolean", "released_at": "timestamptz", "released_value": "numeric", "released_quantity": "integer",
    "ended_at": "timestamptz", "confirmed_at": "timestamptz",
}  # fmt: skip


def fact(row: Any) -> Fact:
    """A stored (or folded) row as the replay reads it."""
    return Fact(
        row["order_id"], row["buyer_id"], row["submitted_at"], row["currency"], row["value"], row["quantity"],
        row["held"], tuple(row["limits"]), tuple(row["approvers"]), row["tier"], row["approved"], row["released_at"],
        row["released_value"], row["released_quantity"], row["ended_at"], row["confirmed_at"],
    )  # fmt: skip


class WhatIfStore(ProjectionRows):
    """The facts table and the what-if's reads. The pool is created on first use, in the running event loop.

    ``create``: run :data:`SCHEMA` when the pool is made (tests, tools); the service's database is migrated."""

    def __init__(self, dsn: str, *, create: bool = True) -> None:
        super().__init__(dsn, schema=[SCHEMA] if create else [])

    # ---- projection ---------------------------------------------------------------------------------------

    async def project(self, conn: asyncpg.Connection, batch: Batch) -> None:
        """Project a follower batch in one transaction (the rows of its orders read at once, the events after each
        row's version folded onto them, the changed rows written back)."""
        events: dict[UUID, list[Any]] = {}
        for _notification, event, _meta in batch:
            if isinstance(event, Order.Event):
                events.setdefault(event.originator_id, []).append(event)
        if not events:
            return
        stored = await conn.fetch(
            f"SELECT {', '.join(COLUMNS)} FROM approval_whatif_orders WHERE order_id = ANY($1::uuid[]) FOR UPDATE",
            list(events),
        )
        rows = {r["order_id"]: dict(r) for r in stored}
        changed: set[UUID] = set()
        for oid, evs in events.items():
            row = rows.get(oid)
            for event in evs:
                if row is not None and event.originator_version <= row["version"]:
                    continue  # applied before: this batch is handled again
                row = fold(row, event)
                if row is not None:
                    changed.add(oid)
            if row is not None:
                rows[oid] = row
        if changed:
            placeholders = ", ".join(f"${i + 1}" for i in range(len(COLUMNS)))
            updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS if c != "order_id")
            await conn.executemany(
                f"INSERT INTO approval_whatif_orders ({', '.join(COLUMNS)}) VALUES ({placeholders})"
                f" ON CONFLICT (order_id) DO UPDATE SET {updates}"
                " WHERE approval_whatif_orders.version < EXCLUDED.version",
                [tuple(rows[oid][c] for c in COLUMNS) for oid in sorted(changed)],
            )

    # ---- the what-if's reads ------------------------------------------------------------------------------

    async def read(
        self,
        company_id: UUID,
        start: datetime,
        end: datetime,
        buyers: dict[UUID, datetime],
        held_too: bool,
        ledger: bool = True,
    ) -> tuple[Tally, list[Fact]]:
        """In one snapshot: the tally of the company's orders submitted in [``start``, ``end``) as they were routed,
        and the facts of the orders a proposal may change — those of ``buyers`` submitted from their date on (a
        period budget's replay starts at its calendar period's beginning) and before ``end``, and with
        ``held_too`` every order of the period held for approval. ``ledger``: with the moments that moved a period
        budget (only a proposed period budget needs them; without, they are read as null)."""
        pool = await self.pool()
        where = "company_id = $1 AND submitted_at >= $2 AND submitted_at < $3"
        async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            totals = await conn.fetch(
                f"SELECT currency, held, count(*) AS orders, sum(value) AS value FROM approval_whatif_orders"
                f" WHERE {where} GROUP BY currency, held",
                company_id, start, end,
            )  # fmt: skip
            load = await conn.fetch(
                "SELECT a AS approver_id, currency, count(*) AS orders, sum(value) AS value"
                f" FROM approval_whatif_orders CROSS JOIN LATERAL unnest(approvers) AS a WHERE {where} AND held"
                " GROUP BY a, currency",
                company_id, start, end,
            )  # fmt: skip
            since = min([start, *buyers.values()])
            columns = READ if ledger else tuple(c if c not in _LEDGER else f"NULL::{_LEDGER[c]} AS {c}" for c in READ)
            facts = await conn.fetch(
                f"SELECT {', '.join(columns)} FROM approval_whatif_orders WHERE company_id = $1 AND submitted_at >= $2"
                " AND submitted_at < $3 AND (buyer_id = ANY($4::uuid[]) OR ($5 AND held))",
                company_id, since, end, list(buyers), held_too,
            )  # fmt: skip
        tally = Tally.empty()
        for r in totals:
            tally.add_orders(r["currency"], r["held"], r["orders"], Decimal(r["value"]))
        for r in load:
            tally.add_load(r["approver_id"], r["currency"], r["orders"], Decimal(r["value"]))
        out = []
        for r in facts:  # (the SQL reads what the index gives; the rest of the selection is the buyers' dates)
            b = r["buyer_id"]
            at = r["submitted_at"]
            if (b in buyers and at >= buyers[b]) or (held_too and r["held"] and at >= start):
                out.append(fact(r))
        return tally, out


class WhatIfProjector(Projection):
    kind = "what-if-projector"
