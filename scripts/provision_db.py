"""Provision the services' PostgreSQL databases, roles and grants — idempotent, safe to run again.

Per service (database ``<db>``: registration, users, approval, erp_sync, notifications):

  <db>_migrate   LOGIN; owns the database and its schema ``public``: creates and changes the tables. The
                 ``<service>-db-init`` Job connects as it (Secret ``<service>-db-migrate``).
  <db>_app       LOGIN; may connect, read and write rows and use the sequences — no CREATE, ALTER, DROP or
                 TRUNCATE. The service's pods connect as it (Secret ``<service>-db``, ``<PREFIX>CREATE_SCHEMA=false``).

Tables the migration role creates later are granted to the runtime role by default privileges, so the order
(provision, then db-init, then the pods) is all it takes. Run it as a role that may create roles and databases:

  python scripts/provision_db.py --admin-url 'postgresql://postgres@db.example:5432/postgres?sslmode=verify-full'
  python scripts/provision_db.py --admin-url … --service approval --print     # the SQL only, nothing runs

Passwords: ``KC_DB_PASSWORD_<ROLE>`` (e.g. ``KC_DB_PASSWORD_APPROVAL_APP``) sets the role's password when given;
without it the role's password is left as it is (set it with your secret tooling, or use certificate or IAM
authentication). ``--prefix t1_`` prefixes every database and role name (several environments on one server).
"""

from __future__ import annotations

import argparse
import os
import re
import sys

import psycopg
from psycopg import sql

SERVICES = {
    "registration": "registration",
    "users": "users",
    "approval": "approval",
    "erp-sync": "erp_sync",
    "notifications": "notifications",
}
Statement = sql.SQL | sql.Composed
NAME = re.compile(r"[a-z_][a-z0-9_]{0,50}")


def roles(database: str) -> tuple[str, str]:
    """(migration role, runtime role) of a database."""
    return f"{database}_migrate", f"{database}_app"


def cluster_statements(database: str) -> list[Statement]:
    """The roles (on the server; the database comes next, with create_database, where it is missing)."""
    migrate, app = roles(database)
    out: list[Statement] = []
    for role in (migrate, app):
        password = os.environ.get(f"KC_DB_PASSWORD_{role.upper()}")
        out.append(
            sql.SQL(
                "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {name}) THEN "
                "CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT; END IF; END $$"
            ).format(name=sql.Literal(role), role=sql.Identifier(role))
        )
        if password is not None:
            out.append(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(password)))
    return out


def create_database(database: str) -> sql.Composed:
    return sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), sql.Identifier(roles(database)[0]))


def database_statements(database: str) -> list[Statement]:
    """Ownership and grants inside the database (run connected to it)."""
    migrate, app = roles(database)
    m, a, d = sql.Identifier(migrate), sql.Identifier(app), sql.Identifier(database)
    return [
        sql.SQL("ALTER DATABASE {} OWNER TO {}").format(d, m),
        sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(d),
        sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(d, a),
        sql.SQL("ALTER SCHEMA public OWNER TO {}").format(m),
        sql.SQL("REVOKE ALL ON SCHEMA public FROM PUBLIC"),
        sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(a),
        # what exists already (a database provisioned before, or tables created before this script ran)
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}").format(a),
        sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(a),
        # and what the migration role creates from now on
        sql.SQL(
            "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {}"
        ).format(m, a),
        sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {}").format(
            m, a
        ),
    ]


def url_for(admin_url: str, database: str) -> str:
    """The admin URL pointed at another database (its query, e.g. sslmode, kept)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(admin_url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def provision(admin_url: str, databases: list[str], *, show_only: bool = False) -> None:
    if show_only:
        for database in databases:
            print(f"-- {database}: on the server")
            for statement in cluster_statements(database):
                print(f"{statement.as_string(None)};")
            print(
                f"SELECT {sql.Literal(create_database(database).as_string(None)).as_string(None)} WHERE NOT EXISTS "
                f"(SELECT FROM pg_database WHERE datname = {sql.Literal(database).as_string(None)})\\gexec"
            )
            print(f"-- {database}: connected to it\n\\connect {database}")
            for statement in database_statements(database):
                print(f"{statement.as_string(None)};")
        return
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for database in databases:
            for statement in cluster_statements(database):
                conn.execute(statement)
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone() is None:
                conn.execute(create_database(database))
    for database in databases:
        with psycopg.connect(url_for(admin_url, database), autocommit=True) as conn, conn.transaction():
            for statement in database_statements(database):
                conn.execute(statement)
        migrate, app = roles(database)
        print(f"[provision] {database}: owner and migrations {migrate}, runtime {app} (no DDL)", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--admin-url", default=os.environ.get("KC_DB_ADMIN_URL"), help="or KC_DB_ADMIN_URL")
    parser.add_argument("--service", action="append", choices=sorted(SERVICES), help="default: every service")
    parser.add_argument("--prefix", default="", help="prepended to every database and role name")
    parser.add_argument("--print", dest="show_only", action="store_true", help="print the SQL, run nothing")
    args = parser.parse_args(argv)
    databases = [args.prefix + SERVICES[s] for s in (args.service or SERVICES)]
    for database in databases:
        if not NAME.fullmatch(database):
            parser.error(f"not a plain lower-case name: {database!r}")
    if not args.show_only and not args.admin_url:
        parser.error("--admin-url (or KC_DB_ADMIN_URL) is needed, or --print")
    provision(args.admin_url or "", databases, show_only=args.show_only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
