"""Following the service's own notification log: the base of the outbox relay, the mail dispatcher, projectors.

One active follower per (service, name): a PostgreSQL advisory lock on a dedicated connection; other replicas
stand by and take over when the holder's connection drops. The follower reads the log in order from its
stored position, hands each batch to :meth:`LogFollower.process`, and stores the new position only after
``process`` returned — a crash in between processes the batch again (so ``process`` must be idempotent, or its
effects deduplicated downstream). It wakes on the event store's ``NOTIFY`` and polls as a fallback.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import structlog
from eventsourcing.persistence import Notification

from kc_runtime import metrics
from kc_runtime.eventstore import Blocking, ServiceApplication

log = structlog.get_logger("kc.follower")

Batch = list[tuple[Notification, Any, dict[str, str]]]


POSITION_TABLE_DDL = (
    "CREATE TABLE IF NOT EXISTS kc_follower_position ("
    " name text PRIMARY KEY, position bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())"
)


class LogFollower:
    kind = "follower"
    create_schema = True
    """False: the position table must exist already (``python -m kc_runtime.schema create``)."""

    def __init__(
        self,
        *,
        service: str,
        app: ServiceApplication,
        dsn: str,
        blocking: Blocking,
        batch_size: int = 500,
        idle_interval_s: float = 0.2,
        name: str | None = None,
    ) -> None:
        self.service = service
        self.app = app
        self.dsn = dsn
        self.blocking = blocking
        self.batch_size = batch_size
        self.idle_interval_s = idle_interval_s
        self.name = name or f"{service}:{app.name}:{self.kind}"
        self.position = 0
        self.active = False
        self._wakeup = asyncio.Event()
        self.log = log.bind(follower=self.kind)

    async def process(self, batch: Batch) -> None:
        """Handle a batch of notifications (in order). Raise to retry the batch later."""
        raise NotImplementedError

    def on_active(self, active: bool) -> None:
        """Hook for metrics."""

    def on_position(self, position: int, top: int) -> None:
        """Hook for metrics."""

    async def run(self, stopping: asyncio.Event) -> None:
        """Follow until ``stopping`` is set. Survives broker and database outages by retrying with backoff."""
        backoff = 0.5
        while not stopping.is_set():
            try:
                await self._run_locked(stopping)
                backoff = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._set_active(False)
                self.log.warning("interrupted, retrying", error=repr(exc), retry_in_s=backoff)
                await wait_or_stop(stopping, backoff)
                backoff = min(backoff * 2, 10.0)

    async def _run_locked(self, stopping: asyncio.Event) -> None:
        conn = await asyncpg.connect(self.dsn, timeout=10)
        try:
            if self.create_schema:
                await conn.execute(POSITION_TABLE_DDL)
            while not stopping.is_set():
                if await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", "kc-follower:" + self.name):
                    break
                await wait_or_stop(stopping, 2.0)
            else:
                return
            self._set_active(True)
            row = await conn.fetchval("SELECT position FROM kc_follower_position WHERE name = $1", self.name)
            self.position = int(row or 0)
            self.log.info("active", position=self.position)
            table = self.app.events_table_name
            if table:
                await conn.add_listener(table.replace(".", "_"), lambda *_: self._wakeup.set())
            while not stopping.is_set():
                if conn.is_closed():
                    raise ConnectionError("lock connection lost")
                done = await self._step(conn)
                if done < self.batch_size:
                    self._wakeup.clear()
                    await _wait_any(stopping, self._wakeup, self.idle_interval_s)
        finally:
            self._set_active(False)
            await conn.close(timeout=5)

    async def _step(self, conn: asyncpg.Connection) -> int:
        batch: Batch = await self.blocking.run(self.app.notifications, self.position, self.batch_size)
        if batch:
            await self.process(batch)
            new_position = batch[-1][0].id
            await conn.execute(
                "INSERT INTO kc_follower_position (name, position) VALUES ($1, $2)"
                " ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, updated_at = now()",
                self.name,
                new_position,
            )
            self.position = new_position
        top = await self.blocking.run(self.app.max_notification_id)
        self.on_position(self.position, top)
        return len(batch)

    def _set_active(self, active: bool) -> None:
        self.active = active
        self.on_active(active)


async def wait_or_stop(stopping: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stopping.wait(), timeout=seconds)
    except TimeoutError:
        pass


async def _wait_any(a: asyncio.Event, b: asyncio.Event, seconds: float) -> None:
    tasks = [asyncio.ensure_future(a.wait()), asyncio.ensure_future(b.wait())]
    try:
        await asyncio.wait(tasks, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()


__all__ = ["Batch", "LogFollower", "metrics", "wait_or_stop"]
