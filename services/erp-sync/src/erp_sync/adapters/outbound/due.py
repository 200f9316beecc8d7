"""What waits for the ERP's answer, and when each is due again: a projection of erp-sync's own events (asyncpg)
that the retry schedules query (issue 21: one projection mechanism instead of in-memory views of the log).

One row per exchange whose latest message the ERP has not answered: written by the event that sent it (the
request, a change of a contact, a re-send), with the due time its :class:`RetryPolicy` gives, and deleted by the
event that closes it (an answer, the give-up). It may name more than is due (a policy changed since, a re-send
not projected yet): the aggregate decides (``resend_if_due``); the truth is in the exchange aggregates.

The projection is a :class:`kc_runtime.follower.Projection` (ADR 0038): it writes through the service's one log
reader's connection, in one transaction with its position, and reads nothing itself. Rebuildable at any time:
truncate ``erp_sync_due`` and reset the position of ``…:due-projector``; a new one starts at position 0 and fills
from the whole log once. Upserts are guarded by the aggregate version, so projecting the log again in its order
changes nothing (a closed exchange leaves no row behind: an opening event projected again on its own, out of the
log's order, would bring its row back — the schedule would name it and the aggregate decline it).
The table is declared to the runtime (:data:`TABLES`) and made by the migration history (revision 0002).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from erp_sync.domain.model import ContactExchange, RetryPolicy, SalesOrderExchange
from erp_sync.domain.verification import CustomerVerificationExchange
from kc_runtime.follower import Batch, Projection, ProjectionRows
from kc_runtime.schema import Tables

SO = SalesOrderExchange
CX = ContactExchange
CV = CustomerVerificationExchange

# The migration (revision 0002) keeps its own frozen copy of this DDL (ADR 0019): change both, never the copy only.
SCHEMA = """
CREATE TABLE IF NOT EXISTS erp_sync_due (
    exchange_id uuid PRIMARY KEY,
    kind text NOT NULL,
    due_at timestamptz NOT NULL,
    version integer NOT NULL
);
CREATE INDEX IF NOT EXISTS erp_sync_due_at ON erp_sync_due (kind, due_at);
"""
TABLES = Tables.of(SCHEMA)

DELIVERIES = ("sales_order", "contact")
"""The kinds the delivery schedule re-sends (with the deliveries' policy)."""
VERIFICATIONS = ("verification",)
"""The kind the verification schedule asks again (with the verifications' policy)."""

OPENING: tuple[type, ...] = (
    SO.Requested, SO.Resent, CX.Created, CX.Changed, CX.Deactivated, CX.Erased, CX.Resent, CV.Requested,
    CV.Rerequested,
)  # fmt: skip
"""The events that send an exchange's message (again): it waits for the ERP's answer from then on."""
CLOSING: tuple[type, ...] = (
    SO.Confirmed,
    SO.Rejected,
    SO.Failed,
    CX.Failed,
    CX.Acknowledged,
    CX.ErpErased,
    CV.Answered,
    CV.Abandoned,
)
"""The events that end the wait: an answer, the give-up."""

_KINDS: dict[type, str] = {
    **dict.fromkeys((SO.Requested, SO.Resent, SO.Confirmed, SO.Rejected, SO.Failed), "sales_order"),
    **dict.fromkeys(
        (CX.Created, CX.Changed, CX.Deactivated, CX.Erased, CX.Resent, CX.Failed, CX.Acknowledged, CX.ErpErased),
        "contact",
    ),
    **dict.fromkeys((CV.Requested, CV.Rerequested, CV.Answered, CV.Abandoned), "verification"),
}


def kind_of(event: Any) -> str | None:
    """Which schedule an exchange's event concerns (None: an event the schedules do not care about)."""
    return _KINDS.get(type(event))


def due_at(event: Any, policy: RetryPolicy) -> datetime | None:
    """When the exchange is due again after ``event`` sent its message (None: ``event`` sent nothing that waits for
    an answer) — as the aggregate computes it: the message's time plus the policy's wait after that attempt."""
    if not isinstance(event, OPENING):
        return None
    if isinstance(event, SO.Requested) and not getattr(event, "awaits_answer", False):
        return None  # recorded before the ERP answered sales orders
    opening: Any = event
    at: datetime = getattr(opening, "requested_at", None) or opening.at
    return at + policy.delay(getattr(opening, "attempt", 1))


def closes(event: Any) -> bool:
    """``event`` ends the wait (an answer, the give-up); a contact's acknowledgement of an older message does not."""
    if isinstance(event, CX.Acknowledged):
        return event.settles
    return isinstance(event, CLOSING)


class DueItems(ProjectionRows):
    """The rows of ``erp_sync_due`` and the schedules' queries of them. The pool (queries only; the projection
    writes with the log reader's connection) is created on first use, in the running event loop."""

    def __init__(self, dsn: str, deliveries: RetryPolicy, verifications: RetryPolicy) -> None:
        super().__init__(dsn, max_size=2)
        self.policies = {"sales_order": deliveries, "contact": deliveries, "verification": verifications}

    async def due_now(self, kinds: Sequence[str], now: datetime, limit: int) -> list[UUID]:
        """Up to ``limit`` exchanges of ``kinds`` due at ``now``, the longest overdue first."""
        pool = await self.pool()
        rows = await pool.fetch(
            "SELECT exchange_id FROM erp_sync_due WHERE kind = ANY($1::text[]) AND due_at <= $2"
            " ORDER BY due_at, exchange_id LIMIT $3",
            list(kinds),
            now,
            limit,
        )
        return [r["exchange_id"] for r in rows]

    async def next_due(self, kinds: Sequence[str]) -> datetime | None:
        """When the earliest exchange of ``kinds`` is due (None: nothing waits)."""
        pool = await self.pool()
        found: datetime | None = await pool.fetchval(
            "SELECT min(due_at) FROM erp_sync_due WHERE kind = ANY($1::text[])", list(kinds)
        )
        return found

    async def project(self, conn: asyncpg.Connection, batch: Batch) -> None:
        """Each exchange's last event of the batch that opens or closes its wait, in two statements for the whole
        batch (upserts, deletes): with the version guards, the last one decides the row as applying each in turn
        would (an exchange opened and closed in one batch leaves no row; closed and sent again, the new due time)."""
        last: dict[UUID, tuple[str, int, datetime | None]] = {}
        for _notification, event, _meta in batch:
            kind = kind_of(event)
            if kind is None:
                continue
            due = due_at(event, self.policies[kind])
            if due is not None or closes(event):
                last[event.originator_id] = (kind, event.originator_version, due)
        upserts = [(xid, kind, due, version) for xid, (kind, version, due) in last.items() if due is not None]
        deletes = [(xid, version) for xid, (_kind, version, due) in last.items() if due is None]
        if upserts:
            await conn.executemany(
                "INSERT INTO erp_sync_due (exchange_id, kind, due_at, version) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (exchange_id) DO UPDATE SET due_at = EXCLUDED.due_at, version = EXCLUDED.version"
                " WHERE erp_sync_due.version < EXCLUDED.version",
                upserts,
            )
        if deletes:
            await conn.executemany("DELETE FROM erp_sync_due WHERE exchange_id = $1 AND version < $2", deletes)


class DueProjection(Projection):
    kind = "due-projector"
