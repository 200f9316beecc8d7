"""Retry schedules: ask the ERP again (with backoff) what it left unanswered, and give up past the policy's
window — for customer verifications and for deliveries (sales orders, contacts).

A schedule is not a position-keeping follower: its view of what is pending is rebuilt from the log at start.
It runs with the relay role and acts only while this process's relay is the active one, so one process acts; a
second one racing it would only lose an optimistic-concurrency conflict.

When it looks: after each look it sleeps until the earliest item it knows of is due, but never longer than the
policy's first wait (``horizon_s``: nothing written after this look can fall due sooner, since an item is due its
first wait after it was written) and never shorter than ``interval_s`` (at most one look per interval, also while
an item is due that the aggregate declines). An idle erp-sync so reads the log once per first wait (5 s for
verifications, 300 s for deliveries by default) instead of twice a second.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import structlog

from erp_sync.application.deliveries import Deliveries, PendingDeliveries
from erp_sync.application.verifications import PendingVerifications, Verifications
from kc_runtime.follower import LogFollower, wait_or_stop
from kc_runtime.service import ServiceRuntime

log = structlog.get_logger("erp_sync.retry_schedule")

Tick = Callable[[], tuple[int, datetime | None]]
"""Runs in a worker thread: refreshes the pending view and acts on what is due; returns how many it acted on and
when the earliest item it still knows of is due (None: nothing pending)."""


class RetrySchedule(LogFollower):
    def __init__(
        self,
        runtime: ServiceRuntime,
        kind: str,
        tick: Tick,
        interval_s: float,
        leader: Callable[[], bool],
        horizon_s: float | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.kind = kind
        super().__init__(
            service=runtime.settings.service_name,
            app=runtime.app,
            dsn=runtime.settings.database_url.get_secret_value(),
            blocking=runtime.blocking,
        )
        self.tick = tick
        self.interval_s = interval_s
        self.horizon_s = max(interval_s, horizon_s if horizon_s is not None else interval_s)
        self.leader = leader
        self.clock = clock or (lambda: datetime.now(UTC))
        self.looks = 0
        """How many times the schedule read the log (a test's and an operator's view of its idle cost)."""

    def pause_s(self, next_due: datetime | None) -> float:
        """How long to sleep after a look that found ``next_due`` the earliest pending item's time."""
        wait = self.horizon_s
        if next_due is not None:
            wait = min(wait, (next_due - self.clock()).total_seconds())
        return max(self.interval_s, wait)

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            pause = self.interval_s
            if self.leader():
                try:
                    acted, next_due = await self.blocking.run(self.tick)
                    self.looks += 1
                    pause = self.pause_s(next_due)
                    if acted:
                        log.info("asked the ERP again (or gave up)", schedule=self.kind, count=acted)
                except Exception as exc:  # the database may be away; the next tick tries again
                    log.warning("retry tick failed", schedule=self.kind, error=repr(exc))
            await wait_or_stop(stopping, pause)


def verification_tick(verifications: Verifications) -> Tick:
    pending = PendingVerifications(verifications.exchanges)

    def tick() -> tuple[int, datetime | None]:
        pending.refresh()
        acted = sum(1 for rid in pending.due_now(verifications.clock()) if verifications.retry(rid))
        if acted:
            pending.refresh()  # what acting wrote: the next due times
        return acted, pending.next_due()

    return tick


def delivery_tick(deliveries: Deliveries) -> Tick:
    pending = PendingDeliveries(deliveries.exchanges, deliveries.policy)

    def tick() -> tuple[int, datetime | None]:
        pending.refresh()
        acted = sum(1 for xid in pending.due_now(deliveries.clock()) if deliveries.resend_if_due(xid))
        if acted:
            pending.refresh()  # what acting wrote: the next due times
        return acted, pending.next_due()

    return tick
