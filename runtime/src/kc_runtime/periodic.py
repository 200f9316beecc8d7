"""A background task that runs ``tick()`` every ``interval_s`` until stopped: the service-wide work of the leading
replica (business metrics, approval's deadline timer, erp-sync's retry schedules and pending gauge). A task whose
rounds know when the next one is needed says so in :meth:`Periodic.pause_s`. A database or network outage is
logged once when it starts and once when it ends, and waited out; any other error is logged with its trace and the
next round runs all the same."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import structlog
from eventsourcing.persistence import InterfaceError, OperationalError

log = structlog.get_logger(__name__)


class Periodic:
    name = "periodic"
    """the task's name, and the subject of its log lines (``<name> failed this round`` …)"""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        self._failing = False
        self.sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep
        """How the task waits between rounds (a test records the waits instead)."""

    async def tick(self) -> Any:
        raise NotImplementedError

    def pause_s(self) -> float:
        """How long to wait after a round: the interval, unless the task knows better (asked after every round,
        also after a failed one)."""
        return self.interval_s

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
                if self._failing:
                    log.info(f"{self.name} running again")
                self._failing = False
            # the event store's (psycopg) outages come as eventsourcing's errors
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, OperationalError, InterfaceError) as exc:
                if not self._failing:
                    log.warning(f"{self.name} failed this round", error=type(exc).__name__)
                self._failing = True
            except Exception:
                log.exception(f"{self.name} round failed")
            await self.sleep(self.pause_s())

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
