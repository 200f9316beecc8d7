"""Business metrics of approval for Prometheus: orders by status, pending approvals and how long the oldest one
has waited. Refreshed from the read model (the counts the projector keeps, and an index of the pending orders,
so the cost does not grow with the history) every few seconds by one background task (a scrape never waits for
the database; a database outage leaves the last figures and logs once).

The figures are the service's, not a replica's: only the leader exports them (the replica whose outbox relay is
active, ``kc_relay_active``); every other replica withdraws its series and does not query, so a sum over the pods
counts each order once. After a failover the new leader shows them within one interval."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg
import structlog
from prometheus_client import Gauge

from kc_runtime.metrics import withdraw
from kc_runtime.periodic import Periodic

ORDERS_BY_STATUS = Gauge("kc_orders", "Orders by status (approval's read model)", ["kc_service", "status"])
PENDING_APPROVALS = Gauge("kc_approvals_pending", "Orders waiting for an approver's decision", ["kc_service"])
OLDEST_PENDING = Gauge(
    "kc_approvals_oldest_pending_seconds", "Age of the longest-waiting order pending approval (0: none)", ["kc_service"]
)
STATUSES = (
    "pending_approval",
    "released",
    "transmitted",
    "confirmed",
    "erp_rejected",
    "rejected",
    "cancelled",
    "expired",
)

log = structlog.get_logger(__name__)


class BusinessMetrics(Periodic):
    name = "business metrics"

    def __init__(
        self,
        service: str,
        pool: Callable[[], Awaitable[asyncpg.Pool]],
        interval_s: float = 15.0,
        *,
        leads: Callable[[], bool],
    ) -> None:
        super().__init__(interval_s)
        self.service = service
        self.pool = pool
        self.leads = leads

    async def refresh(self) -> None:
        pool = await self.pool()
        async with pool.acquire() as conn:
            rows = await conn.fetch("SELECT status, sum(orders) AS n FROM approval_order_counts GROUP BY status")
            oldest = await conn.fetchval(
                "SELECT min(submitted_at) FROM approval_order_summaries WHERE status = 'pending_approval'"
            )
        counts = {r["status"]: int(r["n"]) for r in rows}
        for status in {*STATUSES, *counts}:
            ORDERS_BY_STATUS.labels(self.service, status).set(counts.get(status, 0))
        PENDING_APPROVALS.labels(self.service).set(counts.get("pending_approval", 0))
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest is not None else 0.0
        OLDEST_PENDING.labels(self.service).set(max(age, 0.0))

    async def tick(self) -> None:
        """Refresh the gauges if this replica leads the service; withdraw them otherwise."""
        if self.leads():
            await self.refresh()
        else:
            withdraw(self.service, ORDERS_BY_STATUS, PENDING_APPROVALS, OLDEST_PENDING)
