"""Answer a change only once the outbox relay has published it: "a change is in force when it is acknowledged".

A service whose changes others must honour at once (users: deactivations, roles, budgets, approvers) waits,
before it answers a command, until its outbox relay's position has passed the change's notification id — the
relay stores its position only after Kafka acknowledged every message up to it (acks=all), so from then on the
change's message is below the end offset of its partition, and a consumer that fences on that end offset
(:mod:`kc_runtime.fence`) sees it. See ADR 0012.

The relay runs in one process of the service (an advisory lock): in that process the wait follows the relay's
position in memory; in the others it polls the relay's stored position.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from fastapi import FastAPI, Request, Response
from prometheus_client import Histogram

from kc_runtime.errors import error_response
from kc_runtime.pools import create_pool
from kc_runtime.relay import OutboxRelay

PUBLICATION_WAIT = Histogram(
    "kc_publication_wait_seconds",
    "Time a command's answer waited for the outbox relay to publish its change",
    ["kc_service", "outcome"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class Publication:
    """Waits until the relay named ``relay_name`` has published everything up to a notification id."""

    def __init__(
        self,
        *,
        service: str,
        relay: OutboxRelay | None,
        relay_name: str,
        dsn: str,
        timeout_s: float,
        poll_interval_s: float = 0.005,
    ) -> None:
        self.service = service
        self.relay = relay
        self.relay_name = relay_name
        self.dsn = dsn
        self.timeout_s = timeout_s
        self.poll_interval_s = poll_interval_s
        self._moved = asyncio.Event()
        self._pool: asyncpg.Pool | None = None
        if relay is not None:
            relay.moved.append(self._moved.set)  # every step of the relay wakes the waiters

    async def wait_for(self, notification_id: int) -> bool:
        """True once the relay's position is at or past ``notification_id``; False when the deadline passed."""
        deadline = time.monotonic() + self.timeout_s
        while True:
            if await self._position() >= notification_id:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if self.relay is not None and self.relay.active:
                self._moved.clear()
                try:
                    await asyncio.wait_for(self._moved.wait(), timeout=min(remaining, 0.2))
                except TimeoutError:
                    pass
            else:
                await asyncio.sleep(min(remaining, self.poll_interval_s))

    async def _position(self) -> int:
        if self.relay is not None and self.relay.active:
            return self.relay.position
        if self._pool is None:
            self._pool = await create_pool(self.dsn, min_size=0, max_size=2)
        value = await self._pool.fetchval("SELECT position FROM kc_follower_position WHERE name = $1", self.relay_name)
        return int(value or 0)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


def answer_when_published(
    http: FastAPI, publication: Publication, top: Callable[[], Awaitable[int]], prefix: str = "/api/"
) -> None:
    """Hold every successful change (``POST``/``PUT``/``PATCH``/``DELETE`` under ``prefix``) until the relay has
    published the log up to where it stood after the change (``top``: the highest notification id). When the
    deadline passes, the change is stored but the client is told it may not be in force everywhere yet (503)."""

    @http.middleware("http")
    async def published(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        if request.method not in MUTATING or not request.url.path.startswith(prefix) or response.status_code >= 300:
            return response
        started = time.perf_counter()
        ok = await publication.wait_for(await top())
        PUBLICATION_WAIT.labels(publication.service, "published" if ok else "timeout").observe(
            time.perf_counter() - started
        )
        if ok:
            return response
        failed = error_response(
            503,
            "not_yet_in_force",
            "The change is stored, but not yet in force everywhere; it will be within moments. Reload before you "
            "repeat it.",
        )
        failed.headers["Retry-After"] = "1"
        return failed
