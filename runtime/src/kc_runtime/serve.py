"""Run a service's ASGI app with uvicorn (graceful shutdown on SIGTERM)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import TypeVar

import uvicorn
from fastapi import FastAPI

from kc_runtime.settings import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)

KEEP_ALIVE_S = 75
"""Idle keep-alive connections are kept longer than the gateway keeps them (nginx: 60 s), so that the gateway, not
the service, closes them: a connection the service closes just as the gateway reuses it fails that request."""


class SecondTickServer(uvicorn.Server):
    """uvicorn wakes ten times a second to look for a stop request and, every tenth time, refresh the Date
    header; an idle process spent most of its CPU on that. One tick a second does both (each tick counts as the
    tenth): a stop is noticed within a second, the Date header is right to the second."""

    async def main_loop(self) -> None:
        should_exit = await self.on_tick(0)
        while not should_exit:
            await asyncio.sleep(1.0)
            should_exit = await self.on_tick(0)


def run(config: uvicorn.Config) -> None:
    """``uvicorn.run`` with one tick a second: a failed start is a failed process (exit code 3), as there."""
    server = SecondTickServer(config)
    server.run()
    if not server.started:
        sys.exit(3)


def serve(create_app: Callable[[S], FastAPI], settings: S) -> None:
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        # Named, not "auto": a missing uvloop or httptools is an error at start, never a quietly slower server.
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        timeout_keep_alive=KEEP_ALIVE_S,
        timeout_graceful_shutdown=20,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )
    run(config)
