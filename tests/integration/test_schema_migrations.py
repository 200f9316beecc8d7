"""Versioned schema migrations (ADR 0019): each service's Alembic history of plain-SQL revisions, applied by
`python -m kc_runtime.schema create <package>` (the db-init Job, as the migration role); a process with
`<PREFIX>CREATE_SCHEMA=false` requires the head revision at start."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from kc_runtime import migrations, schema
from registration.settings import RegistrationSettings
from tests.integration.conftest import service_env
from tests.integration.test_schema_creation import dml_only_role, schema_command, tables
from tests.support.infra import ROOT, ServiceProcess, random_suffix

pytestmark = pytest.mark.integration

SERVICES = [
    ("registration", "REGISTRATION_"),
    ("users", "USERS_"),
    ("approval", "APPROVAL_"),
    ("erp_sync", "ERP_SYNC_"),
    ("notifications", "NOTIFICATIONS_"),
]

# What `schema create` did before there were migrations: the event store's tables (and what a recorder adds)
# made when the application is constructed with CREATE_SCHEMA on, then the declared tables and the runtime's.
OLD_CREATE = """
import asyncio, sys
from kc_runtime import schema
runtime = schema.build_runtime(sys.argv[1], create=True)
async def old_create():
    await schema.create_tables(runtime.settings, runtime.tables)
    await schema.create_runtime_tables(runtime.settings)
asyncio.run(old_create())
runtime.blocking.shutdown()
runtime.app.close()
"""

SECOND_REVISION = """
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE TABLE it_order_notes (order_id uuid PRIMARY KEY, note text NOT NULL)")
    op.execute("ALTER TABLE kc_parked_event ADD COLUMN operator_note text")


def downgrade() -> None:
    raise NotImplementedError
"""


def old_create(package: str, prefix: str, dsn: str) -> None:
    env = {f"{prefix}DATABASE_URL": dsn, f"{prefix}LOG_LEVEL": "WARNING", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", OLD_CREATE, package], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


async def shape(dsn: str) -> list[tuple[str, ...]]:
    """Every column and index of the public schema."""
    conn = await asyncpg.connect(dsn)
    try:
        columns = await conn.fetch(
            "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns"
            " WHERE table_schema = 'public' ORDER BY 1, 2"
        )
        indexes = await conn.fetch("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1")
    finally:
        await conn.close()
    return [tuple(r) for r in columns] + [tuple(r) for r in indexes]


def history_with_a_second_revision(tmp_path: Path, package: str = "registration") -> Path:
    """A test-only history: the service's real baseline and a revision 0002 after it."""
    real = migrations.history(package)
    assert real is not None
    versions = tmp_path / "versions"
    versions.mkdir()
    shutil.copy(real / "v0001_baseline.py", versions / "v0001_baseline.py")
    (versions / "v0002_order_notes.py").write_text(SECOND_REVISION)
    return versions


@pytest.mark.parametrize(("package", "prefix"), SERVICES)
async def test_a_fresh_database_migrates_to_the_head_with_every_table_the_service_needs_and_a_rerun_changes_nothing(
    database, package, prefix
):
    dsn = await database(package)
    first = await asyncio.to_thread(schema_command, "create", package, prefix, dsn)
    # `create` migrates, then checks every table the service requires (event store, followers, declared)
    assert first.returncode == 0, first.stderr + first.stdout
    head = migrations.head(migrations.history(package))
    assert f"migrated to revision {head} (was none)" in first.stdout
    assert f"tables ok (schema at revision {head})" in first.stdout
    assert await migrations.current(dsn) == head
    made = await shape(dsn)

    # the command's re-run is in test_schema_creation; here the migration itself, for every history
    assert await asyncio.to_thread(migrations.upgrade, migrations.history(package), dsn) == (head, head)
    assert await shape(dsn) == made


@pytest.mark.parametrize(("package", "prefix"), SERVICES)
async def test_a_database_made_by_the_old_create_command_is_adopted_with_its_rows(database, package, prefix):
    """Also the guard that the tables the code still declares (recorders' statements, `Tables`) agree with the
    history's head: a changed declaration without a revision fails here."""
    fresh = await database(package)
    await asyncio.to_thread(migrations.upgrade, migrations.history(package), fresh)

    dsn = await database(package)
    await asyncio.to_thread(old_create, package, prefix, dsn)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("INSERT INTO kc_follower_position (name, position) VALUES ('it', 42)")
        if package == "users":  # made before issue 16 added the column: the baseline's ALTER adds it
            await conn.execute("ALTER TABLE rm_users DROP COLUMN period_budget")
    finally:
        await conn.close()
    assert await migrations.current(dsn) is None

    adopted = await asyncio.to_thread(schema_command, "create", package, prefix, dsn)
    assert adopted.returncode == 0, adopted.stderr + adopted.stdout
    head = migrations.head(migrations.history(package))  # adopted at 0001, then migrated on to the head
    assert f"migrated to revision {head} (was none)" in adopted.stdout
    assert await migrations.current(dsn) == head
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT position FROM kc_follower_position WHERE name = 'it'") == 42
    finally:
        await conn.close()
    assert await shape(dsn) == await shape(fresh)  # the same schema as a database migrated from empty


async def test_a_database_whose_tables_differ_from_the_baseline_is_not_adopted_and_not_changed(database):
    dsn = await database("approval")
    await asyncio.to_thread(old_create, "approval", "APPROVAL_", dsn)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("ALTER TABLE approval_order_counts ADD COLUMN someone_elses integer")
        await conn.execute("DROP TABLE kc_parked_event")
    finally:
        await conn.close()
    before = await shape(dsn)

    refused = await asyncio.to_thread(schema_command, "create", "approval", "APPROVAL_", dsn)
    assert refused.returncode == 1
    assert "not adopted" in refused.stderr and "someone_elses" in refused.stderr
    assert await migrations.current(dsn) is None
    assert await shape(dsn) == before  # one transaction: not even the missing table was made


async def test_a_second_revision_is_applied_to_a_database_at_the_baseline_once(database, tmp_path):
    dsn = await database("registration")
    versions = history_with_a_second_revision(tmp_path)
    assert await asyncio.to_thread(migrations.upgrade, migrations.history("registration"), dsn) == (None, "0001")

    assert await asyncio.to_thread(migrations.upgrade, versions, dsn) == ("0001", "0002")
    made = await tables(dsn)
    assert "it_order_notes" in made
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'kc_parked_event'"
            " AND column_name = 'operator_note'"
        )
    finally:
        await conn.close()
    assert await asyncio.to_thread(migrations.upgrade, versions, dsn) == ("0002", "0002")


async def test_the_runtime_role_may_not_migrate_but_the_service_starts_with_it_on_a_migrated_database(
    database, topic_prefix, processes, tmp_path
):
    dsn = await database("registration")
    created = await asyncio.to_thread(schema_command, "create", "registration", "REGISTRATION_", dsn)
    assert created.returncode == 0, created.stderr + created.stdout
    versions = history_with_a_second_revision(tmp_path)
    async with dml_only_role(dsn, processes) as restricted:
        with pytest.raises(Exception, match="permission denied"):
            await asyncio.to_thread(migrations.upgrade, versions, restricted)
        assert await migrations.current(dsn) == "0001"
        assert "it_order_notes" not in await tables(dsn)

        env = service_env(
            restricted, topic_prefix, CREATE_SCHEMA="false", CONSUMER_GROUP=f"it-registration-{random_suffix()}"
        )
        registration = ServiceProcess("registration", "REGISTRATION_", env, name="registration-migrated")
        processes.append(registration.start())
        await asyncio.to_thread(registration.wait_ready)


async def test_a_service_refuses_to_start_on_a_database_behind_the_head_naming_both_revisions(
    database, tmp_path, monkeypatch
):
    dsn = await database("registration")
    await asyncio.to_thread(migrations.upgrade, migrations.history("registration"), dsn)
    settings = RegistrationSettings(database_url=dsn, create_schema=False)
    assert await schema.require_revision(settings) == "0001"

    # the code of a release whose history goes on to 0002
    versions = history_with_a_second_revision(tmp_path)
    monkeypatch.setattr(migrations, "history", lambda package: versions)
    with pytest.raises(schema.SchemaBehind) as refused:
        await schema.require_revision(settings)
    message = str(refused.value)
    assert "at revision 0001" in message and "expects revision 0002" in message
    assert "python -m kc_runtime.schema create registration" in message


async def test_a_service_starts_on_a_database_a_newer_release_migrated(database, topic_prefix, processes):
    """During a rollout the Job migrates first; an old pod that restarts then meets a revision it does not know."""
    dsn = await database("registration")
    await asyncio.to_thread(migrations.upgrade, migrations.history("registration"), dsn)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("UPDATE alembic_version SET version_num = '0002'")
    finally:
        await conn.close()
    env = service_env(dsn, topic_prefix, CREATE_SCHEMA="false", CONSUMER_GROUP=f"it-registration-{random_suffix()}")
    registration = ServiceProcess("registration", "REGISTRATION_", env, name="registration-newer-schema")
    processes.append(registration.start())
    await asyncio.to_thread(registration.wait_ready)
    assert "database schema newer than this code" in registration.tail(80)


async def test_with_create_schema_a_service_migrates_its_database_at_start(database, topic_prefix, processes):
    dsn = await database("notifications")
    env = service_env(dsn, topic_prefix, CREATE_SCHEMA="true", CONSUMER_GROUP=f"it-notifications-{random_suffix()}")
    notifications = ServiceProcess("notifications", "NOTIFICATIONS_", env, name="notifications-migrates")
    processes.append(notifications.start())
    await asyncio.to_thread(notifications.wait_ready)
    assert await migrations.current(dsn) == migrations.head(migrations.history("notifications")) == "0002"
    assert "database schema migrated" in notifications.tail(80)
