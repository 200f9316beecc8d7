"""Run a service's ASGI app with uvicorn (graceful shutdown on SIGTERM)."""

from __future__ import annotations

from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from kc_runtime.settings import ServiceSettings

KEEP_ALIVE_S = 75
"""Idle keep-alive connections are kept longer than the gateway keeps them (nginx: 60 s), so that the gateway, not
the service, closes them: a connection the service closes just as the gateway reuses it fails that request."""


def serve(create_app: Callable[[ServiceSettings], FastAPI], settings: ServiceSettings) -> None:
    app = create_app(settings)
    uvicorn.run(
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
