"""A database that is away for a moment is answered 503 `service_unavailable` with Retry-After — never 500 —
whichever client library noticed it; a real bug stays a 500 `internal_error`."""

from __future__ import annotations

import asyncpg
import psycopg
import psycopg_pool
import pytest
from eventsourcing.persistence import OperationalError
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kc_runtime.errors import install_error_handlers

OUTAGES = [
    OperationalError("couldn't get a connection after 5.00 sec"),
    psycopg.OperationalError("consuming input failed: server closed the connection unexpectedly"),
    psycopg_pool.PoolTimeout("couldn't get a connection after 5.00 sec"),
    asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
    asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    ConnectionRefusedError(111, "Connection refused"),
]


def app(error: Exception) -> TestClient:
    http = FastAPI()
    install_error_handlers(http)

    @http.get("/thing")
    def thing() -> dict:
        raise error

    return TestClient(http, raise_server_exceptions=False)


@pytest.mark.parametrize("error", OUTAGES, ids=lambda e: type(e).__name__)
def test_an_outage_is_a_503_with_retry_after(error):
    r = app(error).get("/thing")
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "service_unavailable"
    assert int(r.headers["Retry-After"]) > 0


def test_a_bug_is_still_a_500():
    r = app(KeyError("oops")).get("/thing")
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "internal_error"
