"""A service's database schema: migrated by the db-init Job, or at start; checked at start when not.

The schema is versioned (ADR 0019): each service's package holds its Alembic history of plain-SQL revisions
(``<package>/migrations/``, :mod:`kc_runtime.migrations`). ``python -m kc_runtime.schema create <package>`` (the
``<service>-db-init`` Job, as the migration role) upgrades the database to the head revision — adopting a
database that this command made before there were migrations — then checks that every table the service
needs exists, and exits. Idempotent: on a database at the head it changes nothing.

With ``<PREFIX>CREATE_SCHEMA=false`` a service never changes the schema, so its database role needs no DDL
rights: at start it requires the database to be at the head revision its code expects (a database behind it
is refused with both revisions named; one at a revision this code does not know was migrated by a newer
release, which is allowed) and the tables to exist (the event store's, the followers' and the declared ones),
and exits with a clear error if not. ``python -m kc_runtime.schema check <package>`` makes the same check from
the command line. With the flag on (the local stack, tests) the process upgrades the database itself at start.
A package without a history (tests' own services) falls back to the declared idempotent DDL.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import asyncpg

from kc_runtime import migrations
from kc_runtime.follower import POSITION_TABLE_DDL
from kc_runtime.parking import PARKED_TABLE, PARKED_TABLE_DDL
from kc_runtime.settings import ServiceSettings

if TYPE_CHECKING:
    from kc_runtime.eventstore import ServiceApplication
    from kc_runtime.service import ServiceRuntime

FOLLOWER_POSITION_TABLE = "kc_follower_position"


class SchemaMissing(RuntimeError):
    """Tables are missing and this process may not create them."""


class SchemaBehind(SchemaMissing):
    """The database is at an older revision than this code expects, and this process may not migrate it."""


_CREATE_TABLE = re.compile(r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?([\w.]+)", re.IGNORECASE)


@dataclass(frozen=True)
class Tables:
    """Tables a service keeps beside its event store (read models, indexes), declared to its runtime.

    ``ServiceRuntime(..., tables=[Tables.of(DDL)])``: the runtime runs ``ddl`` at start when
    ``<PREFIX>CREATE_SCHEMA`` is on (before the start-up hooks, consumers and followers), ``schema create``
    runs it too, and with the flag off the start and ``schema check`` require ``names`` to exist. The DDL must
    be idempotent (``CREATE … IF NOT EXISTS``).
    """

    names: tuple[str, ...]
    ddl: tuple[str, ...] = ()
    """Empty: created elsewhere (e.g. by the event store's recorder, with its own tables), only checked."""

    @classmethod
    def of(cls, *ddl: str, create: bool = True) -> Tables:
        """The tables the statements create (their names read from the ``CREATE TABLE`` statements).

        ``create=False``: only check them (their creator runs the statements, e.g. a recorder that adds them to
        the event store's ``CREATE_TABLE``)."""
        names = tuple(m.group(1) for statement in ddl for m in _CREATE_TABLE.finditer(statement))
        if not names:
            raise ValueError("no CREATE TABLE statement in the DDL")
        return cls(names=names, ddl=ddl if create else ())


def _in_memory(settings: ServiceSettings) -> bool:
    return urlparse(settings.database_url.get_secret_value()).scheme == "memory"


def required_tables(app: ServiceApplication, *, followers: bool, declared: Sequence[Tables] = ()) -> list[str]:
    recorder = app.recorder
    names = [getattr(recorder, "events_table_name", None), getattr(recorder, "tracking_table_name", None)]
    snapshots = getattr(app, "snapshots", None)  # a separate table when the application takes snapshots
    if snapshots is not None:
        names.append(getattr(snapshots.recorder, "events_table_name", None))
    if followers:
        names.extend([FOLLOWER_POSITION_TABLE, PARKED_TABLE])
    names.extend(name for tables in declared for name in tables.names)
    return [n for n in names if n]


async def missing_tables(settings: ServiceSettings, tables: list[str]) -> list[str]:
    conn = await asyncpg.connect(settings.database_url.get_secret_value(), timeout=10)
    try:
        rows = await conn.fetch("SELECT t FROM unnest($1::text[]) AS t WHERE to_regclass(t) IS NULL", tables)
    finally:
        await conn.close()
    return [r["t"] for r in rows]


async def require(settings: ServiceSettings, tables: list[str]) -> None:
    """Raise :class:`SchemaMissing` (with what to do) when a table this process needs does not exist."""
    if _in_memory(settings):
        return
    missing = await missing_tables(settings, tables)
    if missing:
        prefix = settings.model_config.get("env_prefix", "")
        message = (
            f"database schema missing: table(s) {', '.join(missing)} do not exist and {prefix}CREATE_SCHEMA is "
            f"false. " + _how_to_migrate(settings)
        )
        import structlog

        structlog.get_logger("kc.schema").error("database schema missing", missing=missing, hint=message)
        raise SchemaMissing(message)


def package_of(settings: ServiceSettings) -> str:
    return type(settings).__module__.split(".")[0]


def _how_to_migrate(settings: ServiceSettings) -> str:
    prefix = settings.model_config.get("env_prefix", "")
    return (
        f"Run `python -m kc_runtime.schema create {package_of(settings)}` (the {settings.service_name}-db-init Job) "
        f"with the migration role, or set {prefix}CREATE_SCHEMA=true"
    )


async def require_revision(settings: ServiceSettings) -> str | None:
    """Raise :class:`SchemaBehind` unless the database is at the head revision of the service's history (or at
    a revision this code does not know: a newer release migrated it, and revisions keep the previous release
    working). Returns the database's revision; None when the service has no history."""
    versions = migrations.history(package_of(settings))
    if versions is None or _in_memory(settings):
        return None
    expected = migrations.head(versions)
    at = await migrations.current(settings.database_url.get_secret_value())
    import structlog

    logger = structlog.get_logger("kc.schema")
    if at == expected:
        return at
    if at is not None and at not in migrations.revisions(versions):
        logger.warning("database schema newer than this code", revision=at, expected=expected)
        return at
    what = "database schema missing" if at is None else "database schema behind"
    message = (
        f"{what}: the database is at revision {at or 'none (never migrated)'}, this code expects revision "
        f"{expected} and {settings.model_config.get('env_prefix', '')}CREATE_SCHEMA is false. "
        + _how_to_migrate(settings)
    )
    logger.error(what, revision=at, expected=expected, hint=message)
    raise SchemaBehind(message)


def migrate(settings: ServiceSettings) -> tuple[str | None, str | None] | None:
    """Upgrade the database to the head of the service's history (blocking); None when it has no history."""
    versions = migrations.history(package_of(settings))
    if versions is None or _in_memory(settings):
        return None
    before, after = migrations.upgrade(versions, settings.database_url.get_secret_value())
    if before != after:
        import structlog

        structlog.get_logger("kc.schema").info("database schema migrated", revision=after, was=before)
    return before, after


async def create_tables(settings: ServiceSettings, declared: Sequence[Tables]) -> None:
    """Run the declared tables' DDL (``CREATE … IF NOT EXISTS``), in order."""
    statements = [statement for tables in declared for statement in tables.ddl]
    if _in_memory(settings) or not statements:
        return
    conn = await asyncpg.connect(settings.database_url.get_secret_value(), timeout=10)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def create_runtime_tables(settings: ServiceSettings) -> None:
    """The runtime's own tables (the followers' positions, their parked events)."""
    await create_tables(
        settings,
        [Tables(names=(FOLLOWER_POSITION_TABLE, PARKED_TABLE), ddl=(POSITION_TABLE_DDL, PARKED_TABLE_DDL))],
    )


def settings_class(package: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"{package}.settings")
    for value in vars(module).values():
        if isinstance(value, type) and issubclass(value, ServiceSettings) and value.__module__ == module.__name__:
            return value
    raise SystemExit(f"{package}.settings has no ServiceSettings subclass")


def build_runtime(package: str, *, create: bool) -> ServiceRuntime:
    """The service's runtime as its composition root builds it, with its settings from the environment except
    ``create_schema`` (create: everything, as the service's start would; check: construct without creating anything).
    The process environment is left as it was."""
    settings = settings_class(package)(create_schema=create)
    http: Any = importlib.import_module(f"{package}.main").create_app(settings)
    return http.state.runtime


async def _create(runtime: ServiceRuntime) -> None:
    try:
        await runtime.create_schema()
    finally:
        for hook in runtime.on_shutdown:
            await hook()


def _migrate(package: str) -> int:
    settings = settings_class(package)()
    try:
        outcome = migrate(settings)
    except migrations.SchemaMismatch as exc:
        print(f"{settings.service_name}: {exc}", file=sys.stderr)
        return 1
    assert outcome is not None
    before, after = outcome
    done = f"migrated to revision {after} (was {before or 'none'})" if before != after else f"at revision {after}"
    print(f"{settings.service_name}: {done}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kc_runtime.schema", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["create", "check"], help="create: migrate to the head revision")
    parser.add_argument("package", help="the service's Python package, e.g. approval, erp_sync")
    args = parser.parse_args(argv)
    versioned = migrations.history(args.package) is not None
    if args.command == "create" and versioned:
        status = _migrate(args.package)
        if status:
            return status
    # unversioned (tests' own services): create runs the declared DDL as the service's start would
    runtime = build_runtime(args.package, create=args.command == "create" and not versioned)
    try:
        if args.command == "create" and not versioned:
            asyncio.run(_create(runtime))
        settings = runtime.settings
        try:
            revision = asyncio.run(require_revision(settings))
        except SchemaBehind as exc:
            print(f"{settings.service_name}: {exc}")
            return 1
        tables = runtime.required_tables()
        missing = [] if _in_memory(settings) else asyncio.run(missing_tables(settings, tables))
        at = f" (schema at revision {revision})" if revision else ""
        print(f"{settings.service_name}: " + (f"missing {', '.join(missing)}" if missing else f"tables ok{at}"))
        return 1 if missing else 0
    finally:
        runtime.blocking.shutdown()
        runtime.app.close()


if __name__ == "__main__":
    sys.exit(main())
