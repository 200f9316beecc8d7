"""Answering a change only once the relay published it (kc_runtime.published), with a stand-in relay.

The real relay against PostgreSQL and Kafka: ``tests/journeys/test_change_in_force.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI

from kc_runtime.published import Publication, answer_when_published
from tests.conftest import stays_pending


class FakeRelay:
    """What Publication uses of the outbox relay: its position, whether it is active, its listeners of moves."""

    def __init__(self) -> None:
        self.position = 0
        self.active = True
        self.seen: list[tuple[int, int]] = []
        self.moved: list[Callable[[], None]] = []

    def on_position(self, position: int, top: int) -> None:
        self.seen.append((position, top))
        for listener in self.moved:
            listener()

    def step(self, position: int) -> None:
        self.position = position
        self.on_position(position, position)


def publication(relay: FakeRelay, timeout_s: float = 2.0) -> Publication:
    return Publication(service="users", relay=relay, relay_name="users:Directory", dsn="", timeout_s=timeout_s)  # type: ignore[arg-type]


async def test_the_wait_ends_when_the_relay_passes_the_change():
    relay = FakeRelay()
    p = publication(relay)
    waiting = asyncio.create_task(p.wait_for(5))
    relay.step(4)
    assert await stays_pending(waiting, within=0.02)
    relay.step(6)
    assert await asyncio.wait_for(waiting, 1) is True
    assert relay.seen == [(4, 4), (6, 6)]  # the relay's own hook still runs


async def test_the_wait_gives_up_at_its_deadline():
    relay = FakeRelay()
    assert await publication(relay, timeout_s=0.05).wait_for(1) is False


def _app(relay: FakeRelay, top: int, timeout_s: float = 2.0) -> FastAPI:
    http = FastAPI()

    @http.post("/api/things")
    async def change() -> dict[str, Any]:
        return {"ok": True}

    @http.post("/api/refused")
    async def refused() -> Any:
        from fastapi.responses import JSONResponse

        return JSONResponse(status_code=403, content={"error": {"code": "forbidden"}})

    @http.get("/api/things")
    async def read() -> dict[str, Any]:
        return {"ok": True}

    async def log_top() -> int:
        return top

    answer_when_published(http, publication(relay, timeout_s), log_top)
    return http


async def test_a_change_is_answered_once_published_and_a_late_publication_is_a_503():
    relay = FakeRelay()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app(relay, top=3)), base_url="http://t") as c:
        answer = asyncio.create_task(c.post("/api/things"))
        assert await stays_pending(answer, within=0.05)
        relay.step(3)
        assert (await asyncio.wait_for(answer, 1)).status_code == 200
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=_app(FakeRelay(), top=3, timeout_s=0.05)), base_url="http://t"
    ) as c:
        late = await c.post("/api/things")
        assert (late.status_code, late.json()["error"]["code"]) == (503, "not_yet_in_force")
        assert late.headers["Retry-After"] == "1"


async def test_reads_and_refusals_do_not_wait():
    never = FakeRelay()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=_app(never, top=3, timeout_s=5)), base_url="http://t"
    ) as c:
        read = await asyncio.wait_for(c.get("/api/things"), 1)
        refused = await asyncio.wait_for(c.post("/api/refused"), 1)
    assert (read.status_code, refused.status_code) == (200, 403)
