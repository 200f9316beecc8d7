"""scripts/provision_db.py against a PostgreSQL of the tests' own: the migration role creates a service's tables
(``python -m kc_runtime.schema create``, what the db-init Job runs), the runtime role the pods use reads and
writes through the service's own event store but cannot create, change, empty or drop a table, and a service's
roles cannot reach another service's database."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from uuid import uuid4

import psycopg
import pytest
from eventsourcing.domain import Aggregate
from pydantic import SecretStr

from tests.deploy.pg_cluster import Cluster

pytestmark = pytest.mark.postgres_cluster

ROOT = Path(__file__).resolve().parents[2]


def _provisioning() -> ModuleType:
    spec = importlib.util.spec_from_file_location("provision_db", ROOT / "scripts" / "provision_db.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Note(Aggregate):
    def __init__(self, text: str) -> None:
        self.text = text


@pytest.fixture(scope="module")
def prefix(cluster: Cluster) -> str:
    """Provisioned approval and users databases (with a prefix of their own), approval's tables created by its
    migration role as the db-init Job creates them."""
    prefix = f"t{uuid4().hex[:8]}_"
    _provisioning().main(["--admin-url", cluster.tls_url(), "--prefix", prefix, "--service", "approval",
                          "--service", "users"])  # fmt: skip
    env = {**os.environ, "APPROVAL_DATABASE_URL": cluster.tls_url(f"{prefix}approval_migrate", f"{prefix}approval")}
    created = subprocess.run(
        [sys.executable, "-m", "kc_runtime.schema", "create", "approval"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert created.returncode == 0, created.stdout + created.stderr
    return prefix


def test_the_migration_role_owns_the_tables_it_created(cluster: Cluster, prefix: str) -> None:
    with psycopg.connect(cluster.tls_url(database=f"{prefix}approval")) as conn:
        owners = {r[0] for r in conn.execute("SELECT tableowner FROM pg_tables WHERE schemaname = 'public'")}
    assert owners == {f"{prefix}approval_migrate"}


def test_the_runtime_role_writes_and_reads_through_the_service_event_store(cluster: Cluster, prefix: str) -> None:
    from approval.application.orders import Orders
    from approval.settings import ApprovalSettings

    url = cluster.tls_url(f"{prefix}approval_app", f"{prefix}approval")
    orders = Orders(env=ApprovalSettings(database_url=SecretStr(url), create_schema=False).eventsourcing_env())
    try:
        note = Note(text="runtime role")
        orders.save(note)  # the recorder's insert under its table lock, the notification sequence
        assert orders.repository.get(note.id).text == "runtime role"
    finally:
        orders.close()


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE intruder (i int)",
        "ALTER TABLE orders_events ADD COLUMN intruder int",
        "DROP TABLE orders_events",
        "TRUNCATE orders_events",
        "CREATE INDEX intruder ON orders_events (originator_version)",
    ],
)
def test_the_runtime_role_cannot_change_the_schema(cluster: Cluster, prefix: str, statement: str) -> None:
    with psycopg.connect(cluster.tls_url(f"{prefix}approval_app", f"{prefix}approval")) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)


def test_a_service_role_cannot_connect_to_another_services_database(cluster: Cluster, prefix: str) -> None:
    for role in (f"{prefix}users_app", f"{prefix}users_migrate"):
        with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
            psycopg.connect(cluster.tls_url(role, f"{prefix}approval")).close()


def test_provisioning_again_changes_nothing_and_keeps_the_grants(cluster: Cluster, prefix: str) -> None:
    _provisioning().main(["--admin-url", cluster.tls_url(), "--prefix", prefix, "--service", "approval"])
    with psycopg.connect(cluster.tls_url(f"{prefix}approval_app", f"{prefix}approval")) as conn:
        assert conn.execute("SELECT count(*) FROM orders_events").fetchone() is not None
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE intruder (i int)")
