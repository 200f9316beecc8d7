"""TLS to PostgreSQL: the database URL's query (``sslmode=verify-full&sslrootcert=…``) takes effect on every kind
of connection the services make — the eventsourcing library's pool (psycopg) and the asyncpg connections of
followers, read models and the schema tool — against a PostgreSQL of the test's own with a self-signed CA.

The cluster accepts TCP only over TLS (``hostnossl … reject``) and its certificate names ``localhost`` only, so:
the right CA connects over TLS, another CA is refused, verify-full refuses the address the certificate does not
name (where verify-ca takes it), and ``sslmode=disable`` is refused — each only if the URL's query reaches libpq.
"""

from __future__ import annotations

import logging

import asyncpg
import pytest
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import OperationalError
from pydantic import SecretStr

from kc_runtime.eventstore import ServiceApplication
from kc_runtime.settings import ServiceSettings
from tests.deploy.pg_cluster import Cluster

pytestmark = pytest.mark.postgres_cluster


class Note(Aggregate):
    def __init__(self, text: str) -> None:
        self.text = text


def _application(url: str) -> ServiceApplication:
    env = ServiceSettings(database_url=SecretStr(url), db_pool_size=1).eventsourcing_env()
    env["POSTGRES_CONNECT_TIMEOUT"] = "2"  # a refused connection fails the pool after this long
    return ServiceApplication(env=env)


def _uses_tls(app: ServiceApplication) -> bool:
    with app.factory.datastore.get_connection() as conn:  # type: ignore[attr-defined]
        row = conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
    return bool(row["ssl"])


def test_event_store_connects_with_verify_full_over_tls(cluster: Cluster) -> None:
    app = _application(cluster.url(sslmode="verify-full", sslrootcert=str(cluster.ca)))
    try:
        note = Note(text="über TLS")
        app.save(note)
        assert app.repository.get(note.id).text == "über TLS"
        assert _uses_tls(app)
    finally:
        app.close()


def test_event_store_refuses_a_server_whose_certificate_another_ca_signed(
    cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="psycopg.pool")
    with pytest.raises(OperationalError):
        _application(cluster.url(sslmode="verify-full", sslrootcert=str(cluster.other_ca)))
    assert "certificate verify failed" in caplog.text


def test_event_store_with_verify_full_refuses_a_name_the_certificate_does_not_carry(
    cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="psycopg.pool")
    with pytest.raises(OperationalError):
        _application(cluster.url(host="127.0.0.1", sslmode="verify-full", sslrootcert=str(cluster.ca)))
    assert "does not match host name" in caplog.text
    # verify-ca checks the chain only: the same address is fine then
    app = _application(cluster.url(host="127.0.0.1", sslmode="verify-ca", sslrootcert=str(cluster.ca)))
    try:
        assert _uses_tls(app)
    finally:
        app.close()


def test_event_store_honours_sslmode_disable(cluster: Cluster, caplog: pytest.LogCaptureFixture) -> None:
    # The cluster takes TCP over TLS only: libpq's default (prefer) would get in; disable must not.
    caplog.set_level(logging.WARNING, logger="psycopg.pool")
    with pytest.raises(OperationalError):
        _application(cluster.url(sslmode="disable"))
    assert "no encryption" in caplog.text


def test_a_database_url_with_a_malformed_query_is_refused_at_start() -> None:
    for url in ("postgresql://u@h/db?sslmode", "postgresql://u@h/db?sslmode=require&sslmode=disable"):
        with pytest.raises(ValueError):
            ServiceSettings(database_url=SecretStr(url)).eventsourcing_env()


async def _asyncpg_ssl(url: str) -> bool:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        return bool(await conn.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"))
    finally:
        await conn.close()


async def test_asyncpg_connects_with_verify_full_over_tls(cluster: Cluster) -> None:
    assert await _asyncpg_ssl(cluster.url(sslmode="verify-full", sslrootcert=str(cluster.ca)))


async def test_asyncpg_refuses_a_server_whose_certificate_another_ca_signed(cluster: Cluster) -> None:
    with pytest.raises(Exception, match="certificate verify failed"):
        await _asyncpg_ssl(cluster.url(sslmode="verify-full", sslrootcert=str(cluster.other_ca)))


async def test_asyncpg_with_verify_full_refuses_a_name_the_certificate_does_not_carry(cluster: Cluster) -> None:
    with pytest.raises(Exception, match="mismatch, certificate is not valid"):
        await _asyncpg_ssl(cluster.url(host="127.0.0.1", sslmode="verify-full", sslrootcert=str(cluster.ca)))
