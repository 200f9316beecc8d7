"""What the tests of log followers share: an aggregate to store, a store on a database of its own, a follower (or
reader) running until the block ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Protocol

from eventsourcing.domain import Aggregate, event

from kc_runtime.eventstore import ServiceApplication, WorkerPool
from kc_runtime.settings import ServiceSettings


class Thing(Aggregate):
    class Noted(Aggregate.Event):
        text: str

    @event("Created")
    def __init__(self, name: str) -> None:
        self.name = name

    @event(Noted)
    def note(self, text: str) -> None:
        self.text = text


class Runs(Protocol):
    async def run(self, stopping: asyncio.Event) -> None: ...


@asynccontextmanager
async def running(runner: Runs) -> AsyncIterator[None]:
    """``runner`` (a follower, a log reader) runs in the background until the block ends, then stops."""
    stopping = asyncio.Event()
    task = asyncio.create_task(runner.run(stopping))
    try:
        yield
    finally:
        stopping.set()
        await asyncio.wait_for(task, 15)


@asynccontextmanager
async def log_store(
    database: Callable[[str], Awaitable[str]], name: str
) -> AsyncIterator[tuple[str, ServiceApplication, WorkerPool]]:
    """A service application on a database of its own: (dsn, application, worker pool)."""
    dsn = await database(name)
    app = ServiceApplication(env=ServiceSettings(database_url=dsn).eventsourcing_env())
    blocking = WorkerPool(4)
    try:
        yield dsn, app, blocking
    finally:
        blocking.shutdown()
        app.close()


__all__ = ["Thing", "log_store", "running"]
