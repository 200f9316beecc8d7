"""Retry schedules: ask the ERP again (with backoff) what it left unanswered, and give up past the policy's
window — for customer verifications and for deliveries (sales orders, contacts).

A schedule is not a position-keeping follower: its view of what is pending is rebuilt from the log at start.
It runs with the relay role and acts only while this process's relay is the active one, so one process acts; a
second one racing it would only lose an optimistic-concurrency conflict.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from erp_sync.application.deliveries import Deliveries, PendingDeliveries
from erp_sync.application.verifications import PendingVerifications, Verifications
from kc_runtime.follower import LogFollower, wait_or_stop
from kc_runtime.service import ServiceRuntime

log = structlog.get_logger("erp_sync.retry_schedule")

Tick = Callable[[], int]
"""Runs in a worker thread: refreshes the pending view and acts on what is due; returns how many it acted on."""


class RetrySchedule(LogFollower):
    def __init__(
        self, runtime: ServiceRuntime, kind: str, tick: Tick, interval_s: float, leader: Callable[[], bool]
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
        self.leader = leader

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            if self.leader():
                try:
                    acted = await self.blocking.run(self.tick)
                    if acted:
                        log.info("asked the ERP again (or gave up)", schedule=self.kind, count=acted)
                except Exception as exc:  # the database may be away; the next tick tries again
                    log.warning("retry tick failed", schedule=self.kind, error=repr(exc))
            await wait_or_stop(stopping, self.interval_s)


def verification_tick(verifications: Verifications) -> Tick:
    pending = PendingVerifications(verifications.exchanges)

    def tick() -> int:
        pending.refresh()
        return sum(1 for rid in pending.due_now(verifications.clock()) if verifications.retry(rid))

    return tick


def delivery_tick(deliveries: Deliveries) -> Tick:
    pending = PendingDeliveries(deliveries.exchanges, deliveries.policy)

    def tick() -> int:
        pending.refresh()
        return sum(1 for xid in pending.due_now(deliveries.clock()) if deliveries.resend_if_due(xid))

    return tick
