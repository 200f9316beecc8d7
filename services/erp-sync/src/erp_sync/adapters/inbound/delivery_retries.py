"""The retry schedule of deliveries to the ERP: sends again (with backoff) what the ERP left unanswered, and
gives up (failed, dead-lettered) when it stays silent past the policy's window.

Runs with the relay role and acts only while this process's relay is the active one, so one process sends; a
second one racing it would only lose an optimistic-concurrency conflict.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from erp_sync.application.deliveries import Deliveries, PendingDeliveries
from kc_runtime.follower import LogFollower, wait_or_stop
from kc_runtime.service import ServiceRuntime

log = structlog.get_logger("erp_sync.delivery_retries")


class DeliveryRetries(LogFollower):
    """Not a position-keeping follower: its view of pending deliveries is rebuilt from the log at start."""

    kind = "delivery-retries"

    def __init__(
        self,
        runtime: ServiceRuntime,
        deliveries: Deliveries,
        interval_s: float,
        leader: Callable[[], bool],
    ) -> None:
        super().__init__(
            service=runtime.settings.service_name,
            app=runtime.app,
            dsn=runtime.settings.database_url.get_secret_value(),
            blocking=runtime.blocking,
        )
        self.deliveries = deliveries
        self.pending = PendingDeliveries(deliveries.exchanges, deliveries.policy)
        self.interval_s = interval_s
        self.leader = leader

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            if self.leader():
                try:
                    fired = await self.blocking.run(self.tick)
                    if fired:
                        log.info("sent again to the ERP (or gave up)", deliveries=fired, pending=len(self.pending.due))
                except Exception as exc:  # the database may be away; the next tick tries again
                    log.warning("retry tick failed", error=repr(exc))
            await wait_or_stop(stopping, self.interval_s)

    def tick(self) -> int:
        """Runs in a worker thread. Returns how many deliveries were sent again or given up."""
        self.pending.refresh()
        now = self.deliveries.clock()
        return sum(1 for xid in self.pending.due_now(now) if self.deliveries.resend_if_due(xid))
