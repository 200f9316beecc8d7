"""`<PREFIX>CREATE_SCHEMA=false`: a service never changes the schema (its role needs no DDL rights); the tables
come from `python -m kc_runtime.schema create <package>`, the db-init Job of the Kubernetes manifests."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import httpx
import pytest

from tests.conftest import eventually
from tests.integration.conftest import service_env
from tests.support.infra import PG_ADMIN_DSN, ROOT, ServiceProcess, random_suffix
from tests.support.ops import ops_headers

pytestmark = pytest.mark.integration


async def tables(dsn: str) -> set[str]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await conn.close()
    return {r["tablename"] for r in rows}


def schema_command(
    command: str, package: str, prefix: str, dsn: str, create_schema: str = "false"
) -> subprocess.CompletedProcess[str]:
    """As the db-init Job runs it: with the service's config map, which in production says CREATE_SCHEMA=false."""
    env = {
        **os.environ,
        f"{prefix}DATABASE_URL": dsn,
        f"{prefix}CREATE_SCHEMA": create_schema,
        f"{prefix}LOG_LEVEL": "WARNING",
    }
    return subprocess.run(
        [sys.executable, "-m", "kc_runtime.schema", command, package],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


async def test_without_create_schema_a_service_on_a_fresh_database_refuses_to_start_and_creates_nothing(
    database, topic_prefix, processes
):
    dsn = await database("approval")
    env = service_env(dsn, topic_prefix, CREATE_SCHEMA="false", CONSUMER_GROUP=f"it-approval-{random_suffix()}")
    approval = ServiceProcess("approval", "APPROVAL_", env, name="approval-no-schema")
    processes.append(approval.start())
    assert await asyncio.to_thread(approval.wait_exit) != 0
    log = approval.tail(80)
    assert "database schema missing" in log
    assert "python -m kc_runtime.schema create approval" in log
    assert await tables(dsn) == set()


async def test_the_schema_command_creates_every_table_and_then_the_service_starts_without_creating_any(
    database, topic_prefix, processes
):
    dsn = await database("approval")
    assert schema_command("check", "approval", "APPROVAL_", dsn, create_schema="true").returncode == 1
    assert await tables(dsn) == set()  # a check never creates
    created = await asyncio.to_thread(schema_command, "create", "approval", "APPROVAL_", dsn)
    assert created.returncode == 0, created.stderr + created.stdout
    assert "approval: tables ok" in created.stdout
    made = await tables(dsn)
    assert {"kc_follower_position", "approval_order_summaries", "approval_order_counts", "orders_snapshots"} <= made
    assert any(t.endswith("_events") for t in made) and any(t.endswith("_tracking") for t in made)
    # idempotent, as a re-run Job must be
    again = schema_command("create", "approval", "APPROVAL_", dsn)
    assert again.returncode == 0 and "approval: at revision 0005" in again.stdout  # 0005: deadlines (ADR 0033)
    assert schema_command("check", "approval", "APPROVAL_", dsn).returncode == 0

    env = service_env(dsn, topic_prefix, CREATE_SCHEMA="false", CONSUMER_GROUP=f"it-approval-{random_suffix()}")
    approval = ServiceProcess("approval", "APPROVAL_", env, name="approval-schema-made")
    processes.append(approval.start())
    await asyncio.to_thread(approval.wait_ready)
    assert await tables(dsn) == made
    approval.kill()

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DROP TABLE approval_order_counts")
    finally:
        await conn.close()
    checked = schema_command("check", "approval", "APPROVAL_", dsn)
    assert checked.returncode == 1 and "approval_order_counts" in checked.stdout  # the read model is checked too
    # versioned (ADR 0018): the database is at the head revision, so a table dropped behind the migrations'
    # back is reported, not silently made again
    recreated = schema_command("create", "approval", "APPROVAL_", dsn)
    assert recreated.returncode == 1 and "missing approval_order_counts" in recreated.stdout


@asynccontextmanager
async def dml_only_role(dsn: str, processes: list[ServiceProcess]) -> AsyncIterator[str]:
    """A login role that may read and write the tables of ``dsn`` (made before) but create none; yields its DSN.
    The processes started meanwhile are killed before the role is dropped."""
    role = f"it_dml_{random_suffix()}"
    owner = await asyncpg.connect(dsn)
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'x' NOSUPERUSER NOCREATEDB NOCREATEROLE")
        for grant in (
            f"REVOKE CREATE ON SCHEMA public FROM PUBLIC, {role}",
            f"GRANT USAGE ON SCHEMA public TO {role}",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
        ):
            await owner.execute(grant)
        yield dsn.replace("://postgres@", f"://{role}:x@", 1)
    finally:
        for p in processes:
            p.kill()
        await owner.execute(f"DROP OWNED BY {role}")
        await owner.close()
        await admin.execute(f"DROP ROLE IF EXISTS {role}")
        await admin.close()


async def test_a_service_runs_with_a_role_that_may_read_and_write_but_not_create_tables(
    database, topic_prefix, processes
):
    dsn = await database("registration")
    created = await asyncio.to_thread(schema_command, "create", "registration", "REGISTRATION_", dsn)
    assert created.returncode == 0, created.stderr + created.stdout
    async with dml_only_role(dsn, processes) as restricted:
        env = service_env(
            restricted, topic_prefix, CREATE_SCHEMA="false", CONSUMER_GROUP=f"it-registration-{random_suffix()}"
        )
        registration = ServiceProcess("registration", "REGISTRATION_", env, name="registration-dml-only")
        processes.append(registration.start())
        await asyncio.to_thread(registration.wait_ready)
        async with httpx.AsyncClient(base_url=registration.url, timeout=10) as http:
            submitted = await http.post(
                "/api/registrations",
                json={
                    "customer_number": "10001",
                    "invoice_number": "R-10001-2",
                    "email": "anna.muster@example.com",
                    "first_name": "Anna",
                    "last_name": "Muster",
                    "language": "de",
                },
            )
        assert submitted.status_code == 202, submitted.text
        with pytest.raises(asyncpg.InsufficientPrivilegeError):  # the role really cannot
            conn = await asyncpg.connect(restricted)
            try:
                await conn.execute("CREATE TABLE it_probe (a int)")
            finally:
                await conn.close()


ERP_SYNC_TABLES = {"erp_sync_exchanges", "erp_sync_replay_index", "erp_sync_replay_index_state"}


def erp_sync_process(dsn: str, prefix: str, name: str, create_schema: str) -> ServiceProcess:
    env = service_env(dsn, prefix, CREATE_SCHEMA=create_schema, CONSUMER_GROUP=f"it-erp-sync-{random_suffix()}")
    return ServiceProcess("erp_sync", "ERP_SYNC_", env, name=name)


async def test_without_create_schema_erp_sync_on_a_fresh_database_refuses_to_start_and_creates_nothing(
    database, topic_prefix, processes
):
    dsn = await database("erp-sync")
    erp_sync = erp_sync_process(dsn, topic_prefix, "erp-sync-no-schema", create_schema="false")
    processes.append(erp_sync.start())
    assert await asyncio.to_thread(erp_sync.wait_exit) != 0
    log = erp_sync.tail(80)
    assert "database schema missing" in log
    assert "python -m kc_runtime.schema create erp_sync" in log
    assert await tables(dsn) == set()


async def test_the_schema_command_creates_erp_syncs_read_model_and_replay_index_and_then_erp_sync_starts(
    database, topic_prefix, processes
):
    dsn = await database("erp-sync")
    created = await asyncio.to_thread(schema_command, "create", "erp_sync", "ERP_SYNC_", dsn)
    assert created.returncode == 0, created.stderr + created.stdout
    assert "erp-sync: tables ok" in created.stdout
    made = await tables(dsn)
    assert ERP_SYNC_TABLES | {"kc_follower_position"} <= made
    assert schema_command("check", "erp_sync", "ERP_SYNC_", dsn).returncode == 0

    erp_sync = erp_sync_process(dsn, topic_prefix, "erp-sync-schema-made", create_schema="false")
    processes.append(erp_sync.start())
    await asyncio.to_thread(erp_sync.wait_ready)
    async with httpx.AsyncClient(base_url=erp_sync.url, timeout=10, headers=ops_headers("erp-sync")) as http:
        listed = await http.get("/ops/exchanges")  # reads the read model
    assert listed.status_code == 200, listed.text
    assert listed.json()["total"] == 0
    assert await tables(dsn) == made


async def test_the_check_and_the_start_require_erp_syncs_read_model_not_only_the_event_store(
    database, topic_prefix, processes
):
    dsn = await database("erp-sync")
    created = await asyncio.to_thread(schema_command, "create", "erp_sync", "ERP_SYNC_", dsn)
    assert created.returncode == 0, created.stderr + created.stdout
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DROP TABLE erp_sync_exchanges")
    finally:
        await conn.close()
    checked = schema_command("check", "erp_sync", "ERP_SYNC_", dsn)
    assert checked.returncode == 1 and "missing erp_sync_exchanges" in checked.stdout

    erp_sync = erp_sync_process(dsn, topic_prefix, "erp-sync-read-model-missing", create_schema="false")
    processes.append(erp_sync.start())
    assert await asyncio.to_thread(erp_sync.wait_exit) != 0
    assert "erp_sync_exchanges" in erp_sync.tail(80)
    assert "erp_sync_exchanges" not in await tables(dsn)


async def test_with_create_schema_erp_sync_creates_its_read_model_at_start_not_on_first_use(
    database, topic_prefix, processes
):
    dsn = await database("erp-sync")
    erp_sync = erp_sync_process(dsn, topic_prefix, "erp-sync-creates", create_schema="true")
    processes.append(erp_sync.start())
    await asyncio.to_thread(erp_sync.wait_ready)
    assert ERP_SYNC_TABLES <= await tables(dsn)


USERS_TABLES = {"rm_users", "rm_companies", "rm_roles", "rm_audit", "rm_position"}


def users_process(dsn: str, prefix: str, name: str, create_schema: str) -> ServiceProcess:
    env = service_env(dsn, prefix, CREATE_SCHEMA=create_schema, CONSUMER_GROUP=f"it-users-{random_suffix()}")
    return ServiceProcess("users", "USERS_", env, name=name)


async def test_without_create_schema_users_refuses_to_start_with_the_message_not_a_database_error(
    database, topic_prefix, processes
):
    """users catches its read model up at start: that must wait for the schema check, not fail before it."""
    dsn = await database("users")
    users = users_process(dsn, topic_prefix, "users-no-schema", create_schema="false")
    processes.append(users.start())
    assert await asyncio.to_thread(users.wait_exit) != 0
    log = users.tail(80)
    assert "database schema missing" in log
    assert "python -m kc_runtime.schema create users" in log
    assert await tables(dsn) == set()


async def test_the_schema_command_creates_users_read_model_and_then_users_starts(database, topic_prefix, processes):
    dsn = await database("users")
    created = await asyncio.to_thread(schema_command, "create", "users", "USERS_", dsn)
    assert created.returncode == 0, created.stderr + created.stdout
    made = await tables(dsn)
    assert USERS_TABLES | {"kc_follower_position"} <= made

    users = users_process(dsn, topic_prefix, "users-schema-made", create_schema="false")
    processes.append(users.start())
    await asyncio.to_thread(users.wait_ready)
    assert await tables(dsn) == made
    users.kill()

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DROP TABLE rm_audit")
    finally:
        await conn.close()
    checked = schema_command("check", "users", "USERS_", dsn)
    assert checked.returncode == 1 and "rm_audit" in checked.stdout


async def test_approval_with_its_read_model_and_metrics_runs_with_a_role_that_cannot_create_tables(
    database, topic_prefix, processes
):
    dsn = await database("approval")
    created = await asyncio.to_thread(schema_command, "create", "approval", "APPROVAL_", dsn)
    assert created.returncode == 0, created.stderr + created.stdout
    async with dml_only_role(dsn, processes) as restricted:
        env = service_env(
            restricted, topic_prefix, CREATE_SCHEMA="false", CONSUMER_GROUP=f"it-approval-{random_suffix()}",
            BUSINESS_METRICS_INTERVAL_S="0.2",
        )  # fmt: skip
        approval = ServiceProcess("approval", "APPROVAL_", env, name="approval-dml-only")
        processes.append(approval.start())
        await asyncio.to_thread(approval.wait_ready)

        async def counted() -> bool:
            async with httpx.AsyncClient(base_url=approval.url, timeout=5) as http:
                text = (await http.get("/metrics")).text
            return any(line.startswith("kc_approvals_pending{") for line in text.splitlines())

        await eventually(counted, timeout=20, what="business metrics read with the restricted role")
        assert "permission denied" not in approval.tail(200)


async def test_building_the_schema_commands_runtime_leaves_the_process_environment_as_it_was(database, monkeypatch):
    """Issue 21: `build_runtime` passed `create_schema` by writing the process environment; it passes the setting."""
    from kc_runtime.schema import build_runtime

    monkeypatch.setenv("APPROVAL_DATABASE_URL", await database("approval"))
    monkeypatch.setenv("APPROVAL_CREATE_SCHEMA", "true")
    monkeypatch.setenv("APPROVAL_LOG_LEVEL", "WARNING")
    before = dict(os.environ)
    runtime = await asyncio.to_thread(build_runtime, "approval", create=False)
    try:
        assert runtime.settings.create_schema is False
        assert dict(os.environ) == before
    finally:
        runtime.blocking.shutdown()
        runtime.app.close()
