"""Retry schedules: ask the ERP again (with backoff) what it left unanswered, and give up past the policy's
window — for customer verifications and for deliveries (sales orders, contacts).

A schedule is a :class:`kc_runtime.periodic.Periodic` task, not a follower: its view of what is pending is
rebuilt from the log at start and kept current by reading what was appended since. It acts only while this
process leads the service (its relay is active), so one process acts; a second one racing it would only lose an
optimistic-concurrency conflict.

When it looks: after each look it sleeps until the earliest item it knows of is due, but never longer than the
policy's first wait (``horizon_s``: nothing written after this look can fall due sooner, since an item is due its
first wait after it was written) and never shorter than ``interval_s`` (at most one look per interval, also while
an item is due that the aggregate declines). An idle erp-sync so reads the log once per first wait (5 s for
verifications, 300 s for deliveries by default) instead of twice a second. A replica that does not lead checks
once per interval whether it does.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

import structlog

from erp_sync.application.deliveries import Deliveries, PendingDeliveries
from erp_sync.application.verifications import PendingVerifications, Verifications
from kc_runtime.eventstore import WorkerPool
from kc_runtime.periodic import Periodic

log = structlog.get_logger("erp_sync.retry_schedule")

Look = Callable[[], tuple[int, datetime | None]]
"""Runs in a worker thread: refreshes the pending view and acts on what is due; returns how many it acted on and
when the earliest item it still knows of is due (None: nothing pending)."""


class RetrySchedule(Periodic):
    def __init__(
        self,
        kind: str,
        look: Look,
        interval_s: float,
        leads: Callable[[], bool],
        blocking: WorkerPool,
        horizon_s: float | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(interval_s)
        self.name = self.kind = kind
        self.look = look
        self.horizon_s = max(interval_s, horizon_s if horizon_s is not None else interval_s)
        self.leads = leads
        self.blocking = blocking
        self.clock = clock or (lambda: datetime.now(UTC))
        self.looks = 0
        """How many times the schedule read the log (a test's and an operator's view of its idle cost)."""
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
        acted, next_due = await self.blocking.run(self.look)
        self.looks += 1
        self._pause_s = self.pause_after(next_due)
        if acted:
            log.info("asked the ERP again (or gave up)", schedule=self.kind, count=acted)
        return acted


def look(pending: PendingDeliveries, resend_if_due: Callable[[UUID], bool], clock: Callable[[], datetime]) -> Look:
    """Refresh ``pending``, have every exchange it names due resend (or give up), and say when the next is due."""

    def once() -> tuple[int, datetime | None]:
        pending.refresh()
        acted = sum(1 for xid in pending.due_now(clock()) if resend_if_due(xid))
        if acted:
            pending.refresh()  # what acting wrote: the next due times
        return acted, pending.next_due()

    return once


def verification_look(verifications: Verifications) -> Look:
    pending = PendingVerifications(verifications.exchanges, verifications.policy)
    return look(pending, verifications.resend_if_due, verifications.clock)


def delivery_look(deliveries: Deliveries) -> Look:
    return look(PendingDeliveries(deliveries.exchanges, deliveries.policy), deliveries.resend_if_due, deliveries.clock)
