"""Alembic's environment for every service's migration history (ADR 0019): online only, one transaction.

The URL is the service's ``DATABASE_URL`` (libpq's own syntax and parameters, TLS included), handed over in
``config.attributes["dsn"]`` by :mod:`kc_runtime.migrations`. PostgreSQL's DDL is transactional, so an
upgrade is applied whole or not at all; an advisory lock lets two Jobs (or two starting processes with
``CREATE_SCHEMA`` on) migrate one after the other, the second finding nothing left to do.
"""

from __future__ import annotations

import psycopg
from alembic import context
from sqlalchemy import create_engine, pool, text

from kc_runtime.migrations import LOCK_KEY, VERSION_TABLE

dsn: str = context.config.attributes["dsn"]
engine = create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(dsn), poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, version_table=VERSION_TABLE, transactional_ddl=True)
    with context.begin_transaction():
        connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": LOCK_KEY})
        context.run_migrations()
engine.dispose()
