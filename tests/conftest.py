"""Shared test helpers. Waits poll with a deadline; nothing sleeps a fixed time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


def pytest_configure(config) -> None:
    from tests.support import containers

    if containers.wanted():
        containers.start()


def pytest_unconfigure(config) -> None:
    from tests.support import containers

    containers.stop()


async def eventually(
    probe: Callable[[], Awaitable[T]], *, timeout: float = 30.0, interval: float = 0.1, what: str = "condition"
) -> T:
    """Await ``probe()`` until it returns a truthy value (returned) or the deadline passes (AssertionError)."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            result = await probe()
            if result:
                return result
            last = result
        except AssertionError as exc:
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
        await _pause(interval)


async def stays_pending(task: asyncio.Future[Any], within: float) -> bool:
    """True when ``task`` has not finished ``within`` seconds: for what must NOT happen yet (the task is left
    running). A wait for the task with a deadline, not a sleep."""
    done, _ = await asyncio.wait({task}, timeout=within)
    return not done


async def _pause(seconds: float) -> None:
    # A poll interval between probes, not a fixed wait for an outcome.
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    loop.call_later(seconds, fut.set_result, None)
    await fut
