"""A service's database tables: created by a migration step, or at start; checked at start when not.

``python -m kc_runtime.schema create <package>`` (the ``<service>-db-init`` Job) builds the service exactly as
it starts (``<package>.main.create_app()``, the same settings from the same environment) but with
``<PREFIX>CREATE_SCHEMA=true``, creates every table — the event store's (and what its recorder adds), the
tables the service declared with its runtime (:class:`Tables`: read models, indexes), what its start-up hooks
create, the followers' positions — and exits. Idempotent.

With ``<PREFIX>CREATE_SCHEMA=false`` a service never changes the schema, so its database role needs no
DDL rights; it checks at start that the tables exist (the event store's, the followers' and the declared
ones) and exits with a clear error if not. ``python -m kc_runtime.schema check <package>`` makes the same
check from the command line.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import asyncpg

from kc_runtime.follower import POSITION_TABLE_DDL
from kc_runtime.parking import PARKED_TABLE, PARKED_TABLE_DDL
from kc_runtime.settings import ServiceSettings

if TYPE_CHECKING:
    from kc_runtime.eventstore import ServiceApplication
    from kc_runtime.service import ServiceRuntime

FOLLOWER_POSITION_TABLE = "kc_follower_position"


class SchemaMissing(RuntimeError):
    """Tables are missing and this process may not create them."""


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
        package = type(settings).__module__.split(".")[0]
        message = (
            f"database schema missing: table(s) {', '.join(missing)} do not exist and {prefix}CREATE_SCHEMA is "
            f"false. Run `python -m kc_runtime.schema create {package}` (the {settings.service_name}-db-init Job) "
            f"with a role that may create tables, or set {prefix}CREATE_SCHEMA=true"
        )
        import structlog

        structlog.get_logger("kc.schema").error("database schema missing", missing=missing, hint=message)
        raise SchemaMissing(message)


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
    prefix = settings_class(package).model_config.get("env_prefix", "")
    # create: everything, as the service's start would; check: construct without creating anything
    os.environ[prefix + "CREATE_SCHEMA"] = "true" if create else "false"
    http: Any = importlib.import_module(f"{package}.main").create_app()
    return http.state.runtime  # type: ignore[no-any-return]


async def _create(runtime: ServiceRuntime) -> None:
    try:
        await runtime.create_schema()
    finally:
        for hook in runtime.on_shutdown:
            await hook()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kc_runtime.schema", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["create", "check"])
    parser.add_argument("package", help="the service's Python package, e.g. approval, erp_sync")
    args = parser.parse_args(argv)
    runtime = build_runtime(args.package, create=args.command == "create")
    try:
        if args.command == "create":
            asyncio.run(_create(runtime))
            print(f"{runtime.settings.service_name}: tables ok")
            return 0
        tables = runtime.required_tables()
        missing = [] if _in_memory(runtime.settings) else asyncio.run(missing_tables(runtime.settings, tables))
        print(f"{runtime.settings.service_name}: " + (f"missing {', '.join(missing)}" if missing else "tables ok"))
        return 1 if missing else 0
    finally:
        runtime.blocking.shutdown()
        runtime.app.close()


if __name__ == "__main__":
    sys.exit(main())
