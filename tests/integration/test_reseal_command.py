"""`python -m kc_runtime.reseal <package>`, as a platform team runs it once after the upgrade (ADR 0035, docs/platform.md):
users' events stored plain before the release are sealed with the persons' keys, users reads them as before, and a
second run changes nothing."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from uuid import uuid4

import asyncpg
import pytest
from pydantic import SecretStr

from kc_runtime.migrations import history, upgrade
from tests.service.users.conftest import make_world
from tests.support.erasure import found_in_tables
from tests.support.infra import ROOT
from users.main import build_directory
from users.settings import UsersSettings

pytestmark = pytest.mark.integration


def reseal_command(package: str, prefix: str, dsn: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, f"{prefix}DATABASE_URL": dsn, f"{prefix}CREATE_SCHEMA": "false", f"{prefix}LOG_LEVEL": "INFO"}
    return subprocess.run(
        [sys.executable, "-m", "kc_runtime.reseal", package],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


async def all_tables_but(dsn: str, table: str) -> set[str]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await conn.close()
    return {r["tablename"] for r in rows} - {table}


async def test_the_command_seals_what_users_stored_plain_and_a_second_run_changes_nothing(database):
    dsn = await database("users")
    versions = history("users")
    assert versions is not None
    await asyncio.to_thread(upgrade, versions, dsn)
    directory = build_directory(UsersSettings(database_url=SecretStr(dsn), db_pool_size=2))
    try:
        directory.mapper.keys = None  # type: ignore[attr-defined]  # as before the release: stored plain
        world = make_world(directory)
        first, last, email = f"Vorname{uuid4().hex[:10]}", f"Nachname{uuid4().hex[:10]}", f"r{uuid4().hex[:10]}@x.de"
        user_id = directory.create_user(world.main, email=email, first_name=first, last_name=last).user_id
        table = directory.events_table_name
    finally:
        directory.close()
    assert table is not None
    others = await all_tables_but(dsn, table)
    assert await found_in_tables(dsn, [first, last, email], skip=others), "stored plain before the release"

    ran = await asyncio.to_thread(reseal_command, "users", "USERS_", dsn)

    assert ran.returncode == 0, ran.stderr[-2000:]
    assert "reseal page" in ran.stdout + ran.stderr
    assert await found_in_tables(dsn, [first, last, email], skip=others) == []
    reader = build_directory(UsersSettings(database_url=SecretStr(dsn), db_pool_size=2))
    try:
        user = reader.repository.get(user_id)
        assert (user.first_name, user.last_name, user.email) == (first, last, email)
    finally:
        reader.close()
    again = await asyncio.to_thread(reseal_command, "users", "USERS_", dsn)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"{table}: " in again.stdout and " 0 re-sealed" in again.stdout
