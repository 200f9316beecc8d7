"""The retry schedule of customer verifications: asks the ERP again (with backoff) what it left unanswered.

Runs as a follower of the service (relay role) and only while this process's relay is the active one, so one
process asks; a second one racing it would only lose an optimistic-concurrency conflict.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from erp_sync.application.verifications import PendingVerifications, Verifications
from kc_runtime.follower import LogFollower, wait_or_stop
from kc_runtime.service import ServiceRuntime

log = structlog.get_logger("erp_sync.verification_retries")


class VerificationRetries(LogFollower):
    """Not a position-keeping follower: its view of pending verifications is rebuilt from the log at start."""

    kind = "verification-retries"

    def __init__(
        self,
        runtime: ServiceRuntime,
        verifications: Verifications,
        interval_s: float,
        leader: Callable[[], bool],
    ) -> None:
        super().__init__(
            service=runtime.settings.service_name,
            app=runtime.app,
            dsn=runtime.settings.database_url.get_secret_value(),
            blocking=runtime.blocking,
        )
        self.verifications = verifications
        self.pending = PendingVerifications(verifications.exchanges)
        self.interval_s = interval_s
        self.leader = leader

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            if self.leader():
                try:
                    fired = await self.blocking.run(self.tick)
                    if fired:
                        log.info("asked the ERP again", verifications=fired, pending=len(self.pending.due))
                except Exception as exc:  # the database may be away; the next tick tries again
                    log.warning("retry tick failed", error=repr(exc))
            await wait_or_stop(stopping, self.interval_s)

    def tick(self) -> int:
        """Runs in a worker thread. Returns how many verifications were asked again or abandoned."""
        self.pending.refresh()
        return sum(1 for rid in self.pending.due_now(self.verifications.clock()) if self.verifications.retry(rid))
