"""Versioned schema migrations (Alembic, plain-SQL revisions), one history per service database (ADR 0019).

A service's history lives in its package, ``<package>/migrations/v<NNNN>_<what>.py``; this package holds the
environment they share (``env.py``: online, one transaction, an advisory lock) and the helpers:

* :func:`upgrade` brings a database to the head revision (``python -m kc_runtime.schema create <package>``, the
  db-init Job, as the migration role; at start when ``<PREFIX>CREATE_SCHEMA`` is on);
* :func:`current` and :func:`head` are what a process with the flag off compares at start;
* :func:`baseline` is the first revision's body: the statements ``schema create`` ran before there were
  migrations, frozen as text, which also adopts a database that ``schema create`` made (verified).
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg

if TYPE_CHECKING:  # alembic is imported when a migration runs, not at every start
    from alembic.config import Config
    from alembic.script import ScriptDirectory

VERSION_TABLE = "alembic_version"
LOCK_KEY = "kc-schema-migration"
PROBE_SCHEMA = "kc_baseline_probe"

_CREATE_TABLE = re.compile(r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?\"?([\w.]+)\"?", re.IGNORECASE)


class SchemaMismatch(RuntimeError):
    """A database's existing tables are not the ones the baseline revision makes: it is not adopted."""


def history(package: str) -> Path | None:
    """The folder of ``package``'s migration history, None when it has none."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "migrations"
    return path if path.is_dir() else None


def config(versions: Path, dsn: str = "") -> Config:
    """Alembic's configuration for one history (no alembic.ini: the URL is the service's own)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent))
    cfg.set_main_option("version_locations", str(versions))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["dsn"] = dsn
    return cfg


def _script(versions: Path) -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(config(versions))


def head(versions: Path) -> str:
    """The revision this code expects (a history is linear: one head)."""
    heads = _script(versions).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"the migration history in {versions} has {len(heads)} heads ({heads}): merge them")
    return str(heads[0])


def revisions(versions: Path) -> list[str]:
    """Every revision of the history, oldest first."""
    return [str(s.revision) for s in reversed(list(_script(versions).walk_revisions()))]


def upgrade(versions: Path, dsn: str, target: str = "head") -> tuple[str | None, str | None]:
    """Apply what is missing up to ``target`` in one transaction; (revision before, revision after)."""
    from alembic import command

    before = current_sync(dsn)
    command.upgrade(config(versions, dsn), target)
    return before, current_sync(dsn)


def current_sync(dsn: str) -> str | None:
    import psycopg

    with psycopg.connect(dsn, connect_timeout=10) as conn:
        if conn.execute("SELECT to_regclass(%s)", [VERSION_TABLE]).fetchone() == (None,):
            return None
        row = conn.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()
        return str(row[0]) if row else None


async def current(dsn: str) -> str | None:
    """The database's revision; None when it was never migrated."""
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        if await conn.fetchval("SELECT to_regclass($1)", VERSION_TABLE) is None:
            return None
        rows = await conn.fetch(f"SELECT version_num FROM {VERSION_TABLE}")
    finally:
        await conn.close()
    return str(rows[0]["version_num"]) if rows else None


def tables_created(statements: Sequence[str]) -> list[str]:
    return [m.group(1) for s in statements for m in _CREATE_TABLE.finditer(s)]


def baseline(statements: Sequence[str]) -> None:
    """The body of a history's first revision: ``statements`` are what ``schema create`` ran before this
    history existed, frozen as text, each idempotent (``IF NOT EXISTS``; a type in a ``DO`` block).

    On an empty database they create the schema. On a database ``schema create`` made (or one where the event
    store's recorder already made its own tables at construction, ``CREATE_SCHEMA`` on) they create only what
    is missing — the adoption — and then the result is verified: every table the baseline names must have
    exactly the columns and indexes the same statements make in an empty scratch schema (rolled back), else
    :class:`SchemaMismatch` and nothing is changed or recorded."""
    from alembic import op

    conn = op.get_bind()
    names = tables_created(statements)
    existing = [n for n in names if conn.exec_driver_sql(f"SELECT to_regclass('{n}')").scalar() is not None]
    for statement in statements:
        conn.exec_driver_sql(statement)
    if existing:
        _verify(conn, statements, names)


def _shape(conn, schema: str, names: Sequence[str]) -> set[tuple[str, ...]]:
    from sqlalchemy import text

    columns = conn.execute(
        text(
            "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull::text"
            " FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = :schema AND c.relname = ANY(:names) AND a.attnum > 0 AND NOT a.attisdropped"
        ),
        {"schema": schema, "names": list(names)},
    )
    indexes = conn.execute(
        text(
            "SELECT tablename, indexname, replace(indexdef, :qualifier, '') FROM pg_indexes"
            " WHERE schemaname = :schema AND tablename = ANY(:names)"
        ),
        {"schema": schema, "names": list(names), "qualifier": f" {schema}."},
    )
    return {("column", *map(str, r)) for r in columns} | {("index", *map(str, r)) for r in indexes}


def _verify(conn, statements: Sequence[str], names: Sequence[str]) -> None:
    bare = [n.rsplit(".", 1)[-1] for n in names]
    actual = _shape(conn, "public", bare)
    savepoint = conn.begin_nested()
    try:
        conn.exec_driver_sql(f"CREATE SCHEMA {PROBE_SCHEMA}")
        conn.exec_driver_sql(f"SET LOCAL search_path TO {PROBE_SCHEMA}")
        for statement in statements:
            conn.exec_driver_sql(statement)
        expected = _shape(conn, PROBE_SCHEMA, bare)
    finally:
        savepoint.rollback()  # the scratch schema and the search path go with it
    if actual != expected:
        missing = sorted(expected - actual)[:8]
        extra = sorted(actual - expected)[:8]
        raise SchemaMismatch(
            "the database's existing tables differ from what the baseline revision makes, so it is not adopted "
            f"(nothing was changed): missing {missing}, unexpected {extra}"
        )
