"""What every stand-in shares: base settings, the health endpoints and the uvicorn runner."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Literal, Protocol

import structlog
import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic_settings import BaseSettings, SettingsConfigDict

from kc_runtime.logging import configure_logging
from kc_runtime.serve import run

ReadinessCheck = Callable[[], Awaitable[dict[str, str]]]
"""Returns named checks; the stand-in is ready when every value is ``"ok"``."""


class StandinSettings(BaseSettings):
    """Base settings of a stand-in; each subclass sets its own ``env_prefix``."""

    model_config = SettingsConfigDict(env_prefix="STANDIN_", extra="ignore")

    service_name: str = "standin"
    http_host: str = "127.0.0.1"
    http_port: int = 8110
    log_level: str = "INFO"
    log_format: Literal["json", "console"] = "json"


def setup_logging(settings: StandinSettings) -> None:
    configure_logging(settings.service_name, settings.log_level, settings.log_format)


class ThrottleFilter(logging.Filter):
    """Lets the same message of the named loggers through at most once per ``interval_s``.

    aiokafka logs a connection error many times a second while the broker is away; one line every few
    seconds says the same.
    """

    def __init__(self, prefixes: tuple[str, ...], interval_s: float = 10.0) -> None:
        super().__init__()
        self.prefixes = prefixes
        self.interval_s = interval_s
        self._last: dict[tuple[str, str], float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self.prefixes):
            return True
        key = (record.name, str(record.msg))
        now = time.monotonic()
        if now - self._last.get(key, -self.interval_s) < self.interval_s:
            return False
        if len(self._last) > 1000:
            self._last.clear()
        self._last[key] = now
        return True


def throttle_library_logs(prefixes: tuple[str, ...], interval_s: float = 10.0) -> None:
    """Install a :class:`ThrottleFilter` on the root handlers (call after ``configure_logging``)."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(ThrottleFilter(prefixes, interval_s))


def add_health_routes(app: FastAPI, readiness: ReadinessCheck) -> None:
    """``GET /healthz`` (the process answers) and ``GET /readyz`` (200 only when every check is ok)."""

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        try:
            checks = await readiness()
        except Exception as exc:  # a failing check is "not ready", never a 500
            checks = {"readiness": f"failed: {type(exc).__name__}"}
        ok = bool(checks) and all(v == "ok" for v in checks.values())
        return JSONResponse(status_code=200 if ok else 503, content={"status": "ok" if ok else "unavailable", **checks})


class HttpSettings(Protocol):
    http_host: str
    http_port: int


def serve(app: FastAPI, settings: HttpSettings) -> None:
    """Run the app with uvicorn; SIGTERM and SIGINT stop it gracefully (lifespan shutdown runs)."""
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
        lifespan="on",
    )
    run(config)  # one tick a second (kc_runtime.serve)


def refuse_to_start(service: str, message: str, exit_code: int = 2) -> None:
    """Exit with a clear message: one JSON log line on stdout and the plain message on stderr."""
    structlog.get_logger(f"standins.{service}").error("refusing to start", reason=message)
    print(f"{service}: {message}", file=sys.stderr)
    sys.exit(exit_code)
