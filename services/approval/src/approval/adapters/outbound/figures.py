"""The controller's figures (ADR 0021): fact tables projected from approval's own events, aggregated by SQL.

One row per order (``approval_fig_orders``: who, which reference, which currency, when submitted, requested and
decided, its status and its values as submitted, as now, as released), one per decision (``approval_fig_decisions``:
a round's approval or rejection, by whom, how long after the request, with the comment) and one per line of the
order's content (``approval_fig_lines``). A report reads only these tables — never the event store.

The :class:`FiguresProjector` is one more follower of the service's log (:mod:`kc_runtime.follower`), beside the
order summaries: a new follower starts at position 0, so its first run fills the tables for the whole history.
Idempotent: each order row remembers the version of the last event applied, and a batch handled again (a crash
before the position was stored) skips what it applied before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from approval.application.reports import ReportQuery
from approval.domain.members import Member
from approval.domain.model import Order
from kc_runtime.follower import Batch, Projection, ProjectionRows
from kc_runtime.schema import Tables

# The same statements as migration 0002 (the migration is what makes them on a deployed database; this copy is
# what `schema create` of a history-less build and the tests' own stores run; tests/integration/
# test_schema_migrations.py checks that both make the same tables).
SCHEMA = """
CREATE TABLE IF NOT EXISTS approval_fig_orders (
    order_id uuid PRIMARY KEY,
    company_id uuid NOT NULL,
    buyer_id uuid NOT NULL,
    reference text,
    currency text NOT NULL,
    status text NOT NULL,
    round integer NOT NULL,
    submitted_at timestamptz NOT NULL,
    submitted_value numeric NOT NULL,
    submitted_quantity integer NOT NULL,
    value numeric NOT NULL,
    quantity integer NOT NULL,
    requested_at timestamptz,
    released_at timestamptz,
    released_value numeric,
    approved_by uuid,
    decided_by uuid,
    decided_at timestamptz,
    rejection_comment text,
    erp_rejection_reason text,
    limits text[] NOT NULL DEFAULT '{}',
    on_period_budget boolean NOT NULL DEFAULT false,
    version integer NOT NULL
);
CREATE INDEX IF NOT EXISTS approval_fig_orders_period ON approval_fig_orders (company_id, submitted_at);
CREATE TABLE IF NOT EXISTS approval_fig_decisions (
    order_id uuid NOT NULL,
    round integer NOT NULL,
    approver_id uuid NOT NULL,
    outcome text NOT NULL,
    requested_at timestamptz NOT NULL,
    decided_at timestamptz NOT NULL,
    value numeric NOT NULL,
    comment text,
    PRIMARY KEY (order_id, round)
);
CREATE INDEX IF NOT EXISTS approval_fig_decisions_approver ON approval_fig_decisions (approver_id, order_id);
CREATE TABLE IF NOT EXISTS approval_fig_lines (
    order_id uuid NOT NULL,
    sku text NOT NULL,
    description text NOT NULL,
    quantity integer NOT NULL,
    value numeric NOT NULL,
    PRIMARY KEY (order_id, sku)
);
"""

TABLES = Tables.of(SCHEMA)

TOP = 20
"""How many articles and reasons a report lists."""

ORDER_LIMITS = ("max_quantity", "max_value")
PERIOD_LIMITS = ("period_value", "period_quantity")

_COLUMNS = (
    "order_id", "company_id", "buyer_id", "reference", "currency", "status", "round", "submitted_at",
    "submitted_value", "submitted_quantity", "value", "quantity", "requested_at", "released_at", "released_value",
    "approved_by", "decided_by", "decided_at", "rejection_comment", "erp_rejection_reason", "limits",
    "on_period_budget", "version",
)  # fmt: skip


def _text(value: str | None) -> str | None:
    """PostgreSQL text cannot hold a NUL character; an order stored with one must not stop the projection."""
    return value.replace("\x00", "\ufffd") if value else value


@dataclass
class _Folded:
    """What one batch changes: order rows, decisions, and the lines of orders whose content changed."""

    rows: dict[UUID, dict[str, Any]] = field(default_factory=dict)
    changed: set[UUID] = field(default_factory=set)
    decisions: dict[tuple[UUID, int], tuple[Any, ...]] = field(default_factory=dict)
    lines: dict[UUID, list[tuple[Any, ...]]] = field(default_factory=dict)


def _content(row: dict[str, Any], content: Any, folded: _Folded) -> None:
    row["value"] = Decimal(content.total_value)
    row["quantity"] = int(content.total_quantity)
    row["reference"] = _text(content.reference)
    row["currency"] = content.currency
    folded.lines[row["order_id"]] = [
        (row["order_id"], _text(ln.sku), _text(ln.description) or "", ln.quantity, Decimal(ln.line_total))
        for ln in content.lines
    ]


def _apply(row: dict[str, Any] | None, event: Any, folded: _Folded) -> dict[str, Any] | None:
    """The order's row after ``event`` (None: not an order known here)."""
    if isinstance(event, Order.Submitted):
        if row is not None:
            return row
        c = event.content
        row = dict.fromkeys(_COLUMNS)
        row.update(
            order_id=event.originator_id, company_id=event.company_id, buyer_id=event.buyer_id, status="pending_approval",
            round=1, submitted_at=event.submitted_at, submitted_value=Decimal(c.total_value),
            submitted_quantity=int(c.total_quantity), limits=[],
            on_period_budget=getattr(event, "ledger_id", None) is not None,
        )  # fmt: skip
        _content(row, c, folded)
    elif row is None:
        return None
    elif isinstance(event, Order.ApprovalRequested):
        row["requested_at"] = event.at
        row["limits"] = sorted({*row["limits"], *(x.limit for x in event.exceeded)})
    elif isinstance(event, Order.Modified):
        _content(row, event.content, folded)
    elif isinstance(event, Order.Approved | Order.Rejected):
        outcome = "approved" if isinstance(event, Order.Approved) else "rejected"
        requested = row["requested_at"] or row["submitted_at"]
        comment = _text(event.comment)
        folded.decisions[(row["order_id"], row["round"])] = (
            row["order_id"], row["round"], event.approver_id, outcome, requested, event.at, row["value"], comment,
        )  # fmt: skip
        row.update(decided_by=event.approver_id, decided_at=event.at)
        if outcome == "rejected":
            row.update(status="rejected", rejection_comment=comment)
    elif isinstance(event, Order.Released):
        _content(row, event.content, folded)
        row.update(status="released", released_at=event.released_at, released_value=row["value"],
                   approved_by=event.approved_by)  # fmt: skip
    elif isinstance(event, Order.Resubmitted):
        _content(row, event.content, folded)
        row.update(status="pending_approval", round=row["round"] + 1, requested_at=None,
                   on_period_budget=getattr(event, "ledger_id", None) is not None)  # fmt: skip
    elif isinstance(event, Order.Transmitted):
        row["status"] = "transmitted"
    elif isinstance(event, Order.ConfirmedByErp):
        row["status"] = "confirmed"
    elif isinstance(event, Order.RejectedByErp):
        row["status"] = "erp_rejected"
        row["erp_rejection_reason"] = _text(event.reason)
    elif isinstance(event, Order.CreditHeld):
        row["status"] = "credit_hold"
    elif isinstance(event, Order.Cancelled):
        row["status"] = "cancelled"
    elif isinstance(event, Order.Expired):  # nobody decided before the company's deadline (ADR 0033)
        row["status"] = "expired"
    # the order's other events (reassigned, escalated, commented…) change only the row's version
    row["version"] = event.originator_version
    return row


class FiguresStore(ProjectionRows):
    """The fact tables and the report's queries. The pool is created on first use, in the running event loop.

    ``create``: run :data:`SCHEMA` when the pool is made (tests, tools); the service's database is migrated."""

    def __init__(self, dsn: str, *, create: bool = True) -> None:
        super().__init__(dsn, schema=[SCHEMA] if create else [])

    # ---- projection ---------------------------------------------------------------------------------------

    async def project(self, conn: asyncpg.Connection, batch: Batch) -> None:
        """Project a follower batch in one transaction: the rows of the batch's orders read at once, their events
        (those after each row's version) folded onto them, the changed rows, decisions and lines written back."""
        events: dict[UUID, list[Any]] = {}
        erased: list[UUID] = []
        for _notification, event, _meta in batch:
            if isinstance(event, Order.Event):
                events.setdefault(event.originator_id, []).append(event)
            elif isinstance(event, Member.Erased):
                erased.append(event.originator_id)
        if events:
            await self._fold(conn, events)
        if erased:  # after the batch's orders: what the person wrote before their erasure is scrubbed too
            await self.scrub(conn, erased)

    async def _fold(self, conn: asyncpg.Connection, events: dict[UUID, list[Any]]) -> None:
        stored = await conn.fetch(
            f"SELECT {', '.join(_COLUMNS)} FROM approval_fig_orders WHERE order_id = ANY($1::uuid[]) FOR UPDATE",
            list(events),
        )
        folded = _Folded(rows={r["order_id"]: dict(r) for r in stored})
        for oid, evs in events.items():
            row = folded.rows.get(oid)
            for event in evs:
                if row is not None and event.originator_version <= row["version"]:
                    continue  # applied before: this batch is handled again
                row = _apply(row, event, folded)
                if row is not None:
                    folded.changed.add(oid)
            if row is not None:
                folded.rows[oid] = row
        await self._write(conn, folded)

    @staticmethod
    async def scrub(conn: asyncpg.Connection, user_ids: list[UUID]) -> None:
        """Erased people (ADR 0035): the comments they wrote on their decisions become null here — the decision, its
        outcome and its approver's id stay, so the report still counts it (its reason as not known). The order's
        rejection comment is the last rejection's, which may be an earlier decider's: nulled where it is the
        erased person's. Idempotent; applied again when a batch is handled again."""
        await conn.execute(
            "UPDATE approval_fig_orders o SET rejection_comment = NULL WHERE o.rejection_comment IS NOT NULL"
            " AND EXISTS (SELECT 1 FROM approval_fig_decisions d WHERE d.order_id = o.order_id"
            "  AND d.approver_id = ANY($1::uuid[]) AND d.outcome = 'rejected' AND d.comment = o.rejection_comment)",
            user_ids,
        )
        await conn.execute(
            "UPDATE approval_fig_decisions SET comment = NULL WHERE approver_id = ANY($1::uuid[]) AND comment IS NOT NULL",
            user_ids,
        )

    @staticmethod
    async def _write(conn: asyncpg.Connection, folded: _Folded) -> None:
        if folded.changed:
            placeholders = ", ".join(f"${i + 1}" for i in range(len(_COLUMNS)))
            updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _COLUMNS if c != "order_id")
            await conn.executemany(
                f"INSERT INTO approval_fig_orders ({', '.join(_COLUMNS)}) VALUES ({placeholders})"
                f" ON CONFLICT (order_id) DO UPDATE SET {updates} WHERE approval_fig_orders.version < EXCLUDED.version",
                [tuple(folded.rows[oid][c] for c in _COLUMNS) for oid in sorted(folded.changed)],
            )
        if folded.decisions:
            await conn.executemany(
                "INSERT INTO approval_fig_decisions (order_id, round, approver_id, outcome, requested_at, decided_at,"
                " value, comment) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (order_id, round) DO NOTHING",
                [folded.decisions[k] for k in sorted(folded.decisions)],
            )
        if folded.lines:
            await conn.execute("DELETE FROM approval_fig_lines WHERE order_id = ANY($1::uuid[])", list(folded.lines))
            await conn.executemany(
                "INSERT INTO approval_fig_lines (order_id, sku, description, quantity, value)"
                " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (order_id, sku) DO NOTHING",
                [line for oid in sorted(folded.lines) for line in folded.lines[oid]],
            )

    # ---- the report ---------------------------------------------------------------------------------------

    async def figures(self, company_id: UUID, q: ReportQuery) -> dict[str, Any]:
        """Every figure of the report for the orders of ``company_id`` that ``q`` selects, read in one snapshot."""
        queries, args = self.queries(company_id, q)
        pool = await self.pool()
        out: dict[str, Any] = {}
        async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            for key, sql in queries.items():
                out[key] = [dict(r) for r in await conn.fetch(sql, *args)]
        return out

    @staticmethod
    def queries(company_id: UUID, q: ReportQuery) -> tuple[dict[str, str], list[Any]]:
        """The report's statements (by figure) and their arguments."""
        where = ["o.company_id = $1", "o.submitted_at >= $2", "o.submitted_at < $3"]
        args: list[Any] = [company_id, q.start, q.end]
        if q.user_id is not None:
            args.append(q.user_id)
            where.append(f"o.buyer_id = ${len(args)}")
        if q.status is not None:
            args.append(q.status)
            where.append(f"o.status = ${len(args)}")
        if q.reference is not None:
            args.append(q.reference)
            where.append(f"o.reference = ${len(args)}")
        decided_by = "true"
        if q.approver_id is not None:
            args.append(q.approver_id)
            where.append(
                f"EXISTS (SELECT 1 FROM approval_fig_decisions x WHERE x.order_id = o.order_id"
                f" AND x.approver_id = ${len(args)})"
            )
            decided_by = f"d.approver_id = ${len(args)}"
        f = f"WITH f AS (SELECT o.* FROM approval_fig_orders o WHERE {' AND '.join(where)}) "
        d = f + f", d AS (SELECT d.* FROM approval_fig_decisions d JOIN f USING (order_id) WHERE {decided_by}) "
        seconds = "extract(epoch FROM d.decided_at - d.requested_at)::float8"
        percentiles = (
            f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {seconds}) AS p50,"
            f" percentile_cont(0.9) WITHIN GROUP (ORDER BY {seconds}) AS p90"
        )
        order_limits = "ARRAY['max_quantity', 'max_value']"
        period_limits = "ARRAY['period_value', 'period_quantity']"
        queries = {
            "spend": f + "SELECT currency, count(*) AS orders, sum(submitted_value) AS submitted,"
            " coalesce(sum(released_value) FILTER (WHERE approved_by IS NOT NULL), 0) AS approved,"
            " coalesce(sum(released_value), 0) AS released,"
            " coalesce(sum(released_value) FILTER (WHERE status = 'confirmed'), 0) AS confirmed,"
            " coalesce(sum(value) FILTER (WHERE status = 'rejected'), 0) AS rejected,"
            " coalesce(sum(released_value) FILTER (WHERE status = 'erp_rejected'), 0) AS erp_rejected"
            ' FROM f GROUP BY currency ORDER BY currency COLLATE "C"',
            "by_reference": f + "SELECT reference, currency, count(*) AS orders, sum(submitted_value) AS submitted,"
            " coalesce(sum(released_value), 0) AS released,"
            " coalesce(sum(released_value) FILTER (WHERE status = 'confirmed'), 0) AS confirmed"
            " FROM f GROUP BY reference, currency"
            f' ORDER BY sum(submitted_value) DESC, reference COLLATE "C" NULLS LAST, currency COLLATE "C" LIMIT {TOP}',
            "by_status": f + "SELECT status, currency, count(*) AS orders, sum(value) AS value FROM f"
            ' GROUP BY status, currency ORDER BY status COLLATE "C", currency COLLATE "C"',
            "cycle": d + f"SELECT count(*) AS decisions, {percentiles} FROM d d",
            "per_approver": d + "SELECT approver_id, count(*) AS decisions,"
            " count(*) FILTER (WHERE outcome = 'approved') AS approved,"
            f" count(*) FILTER (WHERE outcome = 'rejected') AS rejected, {percentiles}"
            " FROM d d GROUP BY approver_id ORDER BY approver_id",
            "reasons": d + "SELECT comment AS reason, count(*) AS count FROM d d WHERE outcome = 'rejected'"
            f' GROUP BY comment ORDER BY count(*) DESC, comment COLLATE "C" NULLS LAST LIMIT {TOP}',
            "erp": f + "SELECT count(*) FILTER (WHERE status IN ('confirmed', 'erp_rejected')) AS answered,"
            " count(*) FILTER (WHERE status = 'erp_rejected') AS rejected FROM f",
            "erp_reasons": f + "SELECT erp_rejection_reason AS reason, count(*) AS count FROM f"
            " WHERE status = 'erp_rejected' GROUP BY erp_rejection_reason"
            f' ORDER BY count(*) DESC, erp_rejection_reason COLLATE "C" NULLS LAST LIMIT {TOP}',
            "budget_use": f + "SELECT buyer_id, currency, count(*) AS orders, sum(submitted_value) AS submitted,"
            " coalesce(sum(released_value), 0) AS released,"
            " coalesce(sum(released_value) FILTER (WHERE status = 'confirmed'), 0) AS confirmed,"
            f" count(*) FILTER (WHERE limits && {order_limits}) AS over_order_limit,"
            f" count(*) FILTER (WHERE limits && {period_limits}) AS over_period_budget,"
            " count(*) FILTER (WHERE 'max_quantity' = ANY(limits)) AS max_quantity,"
            " count(*) FILTER (WHERE 'max_value' = ANY(limits)) AS max_value,"
            " count(*) FILTER (WHERE 'period_value' = ANY(limits)) AS period_value,"
            " count(*) FILTER (WHERE 'period_quantity' = ANY(limits)) AS period_quantity,"
            " coalesce(sum(released_value) FILTER (WHERE on_period_budget), 0) AS on_period_budget"
            ' FROM f GROUP BY buyer_id, currency ORDER BY buyer_id, currency COLLATE "C"',
            "top_articles": f + 'SELECT l.sku, min(l.description COLLATE "C") AS description, f.currency,'
            " sum(l.quantity) AS quantity, sum(l.value) AS value, count(*) AS orders"
            " FROM f JOIN approval_fig_lines l USING (order_id) WHERE f.released_value IS NOT NULL"
            f' GROUP BY l.sku, f.currency ORDER BY sum(l.value) DESC, l.sku COLLATE "C", f.currency COLLATE "C"'
            f" LIMIT {TOP}",
        }
        return queries, args


class FiguresProjector(Projection):
    kind = "figures-projector"
