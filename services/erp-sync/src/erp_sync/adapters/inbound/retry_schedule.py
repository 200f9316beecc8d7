"""Retry schedules: ask the ERP again (with backoff) what it left unanswered, and give up past the policy's
window — for customer verifications and for deliveries (sales orders, contacts).

A schedule is a :class:`kc_runtime.periodic.Periodic` task. What is due it learns from the due projection
(:mod:`erp_sync.adapters.outbound.due`, a table kept by the service's one log reader): a look queries what is due
now (the longest overdue first, at most ``limit``) and has each exchange's aggregate decide, in the worker pool,
whether to send again or give up (the table may name more than is due: the aggregate is the truth). It acts only
while this process leads the service (its relay is active), so one process acts; a second one racing it would only
lose an optimistic-concurrency conflict.

When it looks: after each look it sleeps until the earliest item of the table is due, but never longer than the
policy's first wait (``horizon_s``: nothing written after this look can fall due sooner, since an item is due its
first wait after it was written) and never shorter than ``interval_s`` (at most one look per interval, also while
an item is due that the aggregate declines, or whose re-send the projection has not caught up with yet). An idle
erp-sync so queries the table once per first wait (5 s for verifications, 300 s for deliveries by default). A
replica that does not lead checks once per interval whether it does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from uuid import UUID

import structlog

from erp_sync.adapters.outbound.due import DELIVERIES, VERIFICATIONS, DueItems
from erp_sync.application.deliveries import Deliveries
from erp_sync.application.verifications import Verifications
from kc_runtime.eventstore import WorkerPool
from kc_runtime.periodic import Periodic

log = structlog.get_logger("erp_sync.retry_schedule")

Look = Callable[[], Awaitable[tuple[int, datetime | None]]]
"""Acts on what is due; returns how many it acted on and when the earliest item it still knows of is due (None:
nothing pending)."""


class RetrySchedule(Periodic):
    def __init__(
        self,
        kind: str,
        look: Look,
        interval_s: float,
        leads: Callable[[], bool],
        horizon_s: float | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(interval_s)
        self.name = self.kind = kind
        self.look = look
        self.horizon_s = max(interval_s, horizon_s if horizon_s is not None else interval_s)
        self.leads = leads
        self.clock = clock or (lambda: datetime.now(UTC))
        self.looks = 0
        """How many times the schedule looked at what is due (a test's and an operator's view of its idle cost)."""
        self._pause_s = interval_s

    def pause_after(self, next_due: datetime | None) -> float:
        """How long to sleep after a look that found ``next_due`` the earliest pending item's time."""
        wait = self.horizon_s
        if next_due is not None:
            wait = min(wait, (next_due - self.clock()).total_seconds())
        return max(self.interval_s, wait)

    def pause_s(self) -> float:
        return self._pause_s

    async def tick(self) -> int:
        """One round: look and act if this replica leads the service (how many it acted on)."""
        self._pause_s = self.interval_s  # not leading, or the look failed: check again after the interval
        if not self.leads():
            return 0
        acted, next_due = await self.look()
        self.looks += 1
        self._pause_s = self.pause_after(next_due)
        if acted:
            log.info("asked the ERP again (or gave up)", schedule=self.kind, count=acted)
        return acted


def look(
    due: DueItems,
    kinds: Sequence[str],
    resend_if_due: Callable[[UUID], bool],
    clock: Callable[[], datetime],
    blocking: WorkerPool,
    limit: int = 500,
) -> Look:
    """Have every exchange of ``kinds`` that ``due`` names due now resend (or give up), and say when the next is
    due."""

    async def once() -> tuple[int, datetime | None]:
        acted = 0
        for xid in await due.due_now(kinds, clock(), limit):
            if await blocking.run(resend_if_due, xid):
                acted += 1
        return acted, await due.next_due(kinds)

    return once


def verification_look(due: DueItems, verifications: Verifications, blocking: WorkerPool) -> Look:
    return look(due, VERIFICATIONS, verifications.resend_if_due, verifications.clock, blocking)


def delivery_look(due: DueItems, deliveries: Deliveries, blocking: WorkerPool) -> Look:
    return look(due, DELIVERIES, deliveries.resend_if_due, deliveries.clock, blocking)
