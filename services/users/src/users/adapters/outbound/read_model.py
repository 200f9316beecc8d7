"""The users read model in PostgreSQL, written in the same transaction as the events.

:class:`ProjectingRecorder` is the event store's process recorder with one writer of rows with the events
(:class:`kc_runtime.eventstore.WithEventsRecorder`): after a save's events are inserted (under the events table
lock, so writers are serialised), :class:`ReadModelWriter` applies the save's read-model changes and checks the
company-wide invariants that span aggregates — approvers are active users holding ``approve_orders``; each company
has exactly one active main contact. A violation raises a PostgreSQL ``check_violation``, which rolls the whole
save back and reaches the caller as a conflict (HTTP 409).

:class:`PostgresReadModel` answers the queries, from the same connection pool (see ADR 0004).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from kc_runtime.eventstore import WithEventsRecorder
from users.adapters.outbound.person_keys import PersonKeyWriter
from users.application.read_model import (
    PERSONAL_DETAILS,
    READ_MODEL_KWARG,
    AuditEntry,
    Changes,
    CompanyRow,
    RoleRow,
    RowChange,
    UserPage,
    UserRow,
    erased_user,
)
from users.domain.model import Budget, ErpContact, PeriodBudget, email_key

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS rm_users (
        user_id uuid PRIMARY KEY,
        company_id uuid NOT NULL,
        email text NOT NULL,
        email_key text NOT NULL,
        first_name text NOT NULL,
        last_name text NOT NULL,
        language text NOT NULL,
        status text NOT NULL,
        role_ids text[] NOT NULL,
        permissions text[] NOT NULL,
        max_total_quantity integer,
        max_order_value numeric,
        budget_currency text,
        erp_contact_id text,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        version integer NOT NULL)""",
    "ALTER TABLE rm_users ADD COLUMN IF NOT EXISTS period_budget jsonb",  # (issue 16: after the table existed)
    "CREATE INDEX IF NOT EXISTS rm_users_email_key ON rm_users (email_key)",
    "CREATE INDEX IF NOT EXISTS rm_users_company ON rm_users (company_id, lower(last_name), lower(first_name), user_id)",
    """CREATE TABLE IF NOT EXISTS rm_companies (
        company_id uuid PRIMARY KEY,
        customer_number text NOT NULL,
        name text NOT NULL,
        currency text NOT NULL,
        main_contact_id uuid NOT NULL,
        approver_ids uuid[] NOT NULL,
        erp_contacts jsonb NOT NULL,
        taken_over jsonb NOT NULL,
        registered_at timestamptz NOT NULL,
        version integer NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS rm_roles (
        role_id uuid PRIMARY KEY,
        company_id uuid NOT NULL,
        name text NOT NULL,
        description text NOT NULL,
        permissions text[] NOT NULL,
        deleted boolean NOT NULL,
        version integer NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS rm_roles_company ON rm_roles (company_id)",
    """CREATE TABLE IF NOT EXISTS rm_audit (
        seq bigint PRIMARY KEY,
        company_id uuid NOT NULL,
        at timestamptz NOT NULL,
        actor_id uuid,
        action text NOT NULL,
        subject_type text NOT NULL,
        subject_id uuid NOT NULL,
        details jsonb NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS rm_audit_company ON rm_audit (company_id, seq DESC)",
    "CREATE INDEX IF NOT EXISTS rm_audit_subject ON rm_audit (subject_id, seq DESC)",
    "CREATE TABLE IF NOT EXISTS rm_position (name text PRIMARY KEY, position bigint NOT NULL)",
    """CREATE OR REPLACE FUNCTION rm_assert(ok boolean, message text) RETURNS boolean LANGUAGE plpgsql AS $$
    BEGIN
        IF NOT ok THEN
            RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = message;
        END IF;
        RETURN true;
    END $$""",
]

TABLES = {
    "users": ("rm_users", "user_id"),
    "companies": ("rm_companies", "company_id"),
    "roles": ("rm_roles", "role_id"),
}

# Invariants across aggregates, checked at the end of every save that touched a company (writers hold the
# events table lock, so the check sees every committed save and its own).
CHECK_INVARIANTS = """
SELECT rm_assert(NOT EXISTS (
    SELECT 1 FROM rm_companies c
    CROSS JOIN LATERAL unnest(c.approver_ids) AS a(user_id)
    LEFT JOIN rm_users u ON u.user_id = a.user_id
    WHERE c.company_id = ANY(%(ids)s)
      AND (u.user_id IS NULL OR u.company_id <> c.company_id OR u.status <> 'active'
           OR NOT ('approve_orders' = ANY(u.permissions)))
), 'approvers must be active users of the company holding approve_orders'),
rm_assert(NOT EXISTS (
    SELECT 1 FROM rm_companies c
    WHERE c.company_id = ANY(%(ids)s)
      AND ((SELECT count(*) FROM rm_users u WHERE u.company_id = c.company_id AND 'main_contact' = ANY(u.role_ids)) <> 1
           OR NOT EXISTS (SELECT 1 FROM rm_users u WHERE u.user_id = c.main_contact_id AND u.status = 'active'
                          AND 'main_contact' = ANY(u.role_ids)))
), 'a company has exactly one active main contact')
"""

POSITION_NAME = "read_model"


def _pg_safe(value: Any) -> Any:
    """PostgreSQL text and jsonb cannot hold a NUL character: the read model keeps U+FFFD in its place (the
    events keep what was sent). Without this, one such value would stop the read model for good."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, Jsonb):
        return Jsonb(_pg_safe(value.obj))
    if isinstance(value, dict):
        return {_pg_safe(k): _pg_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_pg_safe(v) for v in value]
    return value


def _columns(table: str, values: dict[str, Any]) -> dict[str, Any]:
    """Row fields → table columns and PostgreSQL values."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name == "email":
            out["email"] = value
            out["email_key"] = email_key(value) if value is not None else None
        elif name == "budget":
            budget: Budget = value
            out["max_total_quantity"] = budget.max_total_quantity
            out["max_order_value"] = budget.max_order_value
            out["budget_currency"] = budget.currency
            p = budget.period
            out["period_budget"] = (
                Jsonb({"period": p.period, "max_value": str(p.max_value), "currency": p.currency,
                       "max_total_quantity": p.max_total_quantity})
                if p is not None
                else None
            )  # fmt: skip
        elif name == "erp_contacts":
            out[name] = Jsonb([_contact_json(c) for c in value])
        elif name == "taken_over":
            out[name] = Jsonb({k: str(v) for k, v in value.items()})
        elif isinstance(value, tuple):
            out[name] = list(value)
        else:
            out[name] = value
    return out


def _contact_json(c: ErpContact) -> dict[str, Any]:
    return {
        "erp_contact_id": c.erp_contact_id,
        "email": c.email,
        "first_name": c.first_name,
        "last_name": c.last_name,
        "phone": c.phone,
        "active": c.active,
        "user_id": str(c.user_id) if c.user_id else None,
        "changed_at": c.changed_at.isoformat() if c.changed_at else None,
    }


def _contact(c: dict[str, Any]) -> ErpContact:
    """A contact of the jsonb column (rows written before ``active``, ``user_id``, ``changed_at`` lack them)."""
    user_id, changed_at = c.get("user_id"), c.get("changed_at")
    return ErpContact(
        erp_contact_id=c["erp_contact_id"],
        email=c.get("email"),
        first_name=c.get("first_name") or "",
        last_name=c.get("last_name") or "",
        phone=c.get("phone"),
        active=c.get("active", True),
        user_id=UUID(user_id) if user_id else None,
        changed_at=datetime.fromisoformat(changed_at) if changed_at else None,
    )


def _row_values(row: UserRow | CompanyRow | RoleRow) -> dict[str, Any]:
    return {name: getattr(row, name) for name in row.__dataclass_fields__}


def _statement(change: RowChange) -> tuple[str, dict[str, Any]]:
    table, key = TABLES[change.table]
    if change.row is not None:
        cols = _columns(change.table, _row_values(change.row))
        names = ", ".join(cols)
        params = ", ".join(f"%({c})s" for c in cols)
        return f"INSERT INTO {table} ({names}) VALUES ({params}) ON CONFLICT ({key}) DO NOTHING", cols
    cols = _columns(change.table, change.values)
    sets = [f"{c} = %({c})s" for c in cols]
    for name, entries in change.merge.items():
        cols[f"merge_{name}"] = Jsonb({k: str(v) for k, v in entries.items()})
        sets.append(f"{name} = {name} || %(merge_{name})s")
    if change.table == "users":
        sets.append("updated_at = %(_at)s")
    sets.append("version = %(_version)s")
    cols.update(_key=change.key, _version=change.version, _at=change.at)
    return f"UPDATE {table} SET {', '.join(sets)} WHERE {key} = %(_key)s AND version < %(_version)s", cols


def apply_changes(cur: Cursor[DictRow], changes: Changes, notification_ids: Sequence[int], *, check: bool) -> None:
    for change in changes.rows:
        sql, params = _statement(change)
        cur.execute(sql.encode(), _pg_safe(params))
    entries = changes.audit_entries(notification_ids)
    if entries:
        cur.executemany(
            b"INSERT INTO rm_audit (seq, company_id, at, actor_id, action, subject_type, subject_id, details)"
            b" VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (seq) DO NOTHING",
            [
                (
                    e.seq,
                    e.company_id,
                    e.at,
                    e.actor_id,
                    e.action,
                    e.subject_type,
                    e.subject_id,
                    Jsonb(_pg_safe(e.details)),
                )
                for e in entries
            ],
        )
    erased = [user_id for user_id in map(erased_user, changes.rows) if user_id is not None]
    if erased:
        cur.execute(
            b"UPDATE rm_audit SET details = details - %s::text[] WHERE subject_id = ANY(%s)",
            (list(PERSONAL_DETAILS), erased),
        )
    if notification_ids:
        cur.execute(
            b"INSERT INTO rm_position (name, position) VALUES (%s, %s) ON CONFLICT (name)"
            b" DO UPDATE SET position = GREATEST(rm_position.position, EXCLUDED.position)",
            (POSITION_NAME, max(notification_ids)),
        )
    if check and changes.company_ids:
        cur.execute(CHECK_INVARIANTS.encode(), {"ids": list(changes.company_ids)})


class ReadModelWriter:
    """A save's read-model changes (``READ_MODEL_KWARG``), written with its events, then the company-wide
    invariants checked (:class:`kc_runtime.eventstore.WithEvents`)."""

    kwarg = READ_MODEL_KWARG
    schema = SCHEMA

    def write(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], notification_ids: Sequence[int], payload: Any
    ) -> None:
        if notification_ids:
            apply_changes(curs, payload, notification_ids, check=True)


class ProjectingRecorder(WithEventsRecorder):
    """The process recorder that also writes the read model and the persons' keys, in the events' transaction."""

    writers = (ReadModelWriter(), PersonKeyWriter())


class PostgresReadModel:
    """Queries of the read model (and catching up / rebuilding it outside of saves)."""

    def __init__(self, recorder: Any) -> None:
        if not isinstance(recorder, ProjectingRecorder):
            raise TypeError("PostgresReadModel needs the ProjectingRecorder (PROCESS_RECORDER_TOPIC)")
        self.datastore = recorder.datastore

    def _all(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
        with self.datastore.get_connection() as conn:
            return list(conn.execute(sql.encode(), _pg_safe(params)).fetchall())

    def _one(self, sql: str, params: Any = None) -> dict[str, Any] | None:
        rows = self._all(sql, params)
        return rows[0] if rows else None

    # -- writing

    def record(self, changes: Changes, notification_ids: Sequence[int]) -> None:
        """Written already, by the recorder, in the save's transaction."""

    def write(self, changes: Changes, notification_ids: Sequence[int]) -> None:
        with self.datastore.transaction(commit=True) as cur:
            apply_changes(cur, changes, notification_ids, check=False)

    def position(self) -> int:
        row = self._one("SELECT position FROM rm_position WHERE name = %s", (POSITION_NAME,))
        return int(row["position"]) if row else 0

    def clear(self) -> None:
        with self.datastore.transaction(commit=True) as cur:
            cur.execute(b"TRUNCATE rm_users, rm_companies, rm_roles, rm_audit, rm_position")

    # -- reading

    def user(self, user_id: UUID) -> UserRow | None:
        row = self._one("SELECT * FROM rm_users WHERE user_id = %s", (user_id,))
        return _user(row) if row else None

    def user_by_email(self, email: str) -> UserRow | None:
        row = self._one(
            "SELECT * FROM rm_users WHERE email_key = %s ORDER BY updated_at DESC LIMIT 1", (email_key(email),)
        )
        return _user(row) if row else None

    def users(self, company_id: UUID, *, status: str | None, role_id: str | None, limit: int, offset: int) -> UserPage:
        where = "company_id = %(company)s"
        if status is not None:
            where += " AND status = %(status)s"
        if role_id is not None:
            where += " AND %(role)s = ANY(role_ids)"
        params = {"company": company_id, "status": status, "role": role_id, "limit": limit, "offset": offset}
        rows = self._all(
            f"SELECT *, count(*) OVER () AS total FROM rm_users WHERE {where}"
            " ORDER BY lower(last_name), lower(first_name), user_id LIMIT %(limit)s OFFSET %(offset)s",
            params,
        )
        if rows:
            total = int(rows[0]["total"])
        else:
            count = self._one(f"SELECT count(*) AS n FROM rm_users WHERE {where}", params)
            total = int(count["n"]) if count else 0
        return UserPage(items=[_user(r) for r in rows], total=total)

    def users_by_ids(self, company_id: UUID, user_ids: Sequence[UUID]) -> list[UserRow]:
        rows = self._all(
            "SELECT * FROM rm_users WHERE company_id = %s AND user_id = ANY(%s)", (company_id, list(user_ids))
        )
        by_id = {r["user_id"]: _user(r) for r in rows}
        return [by_id[i] for i in user_ids if i in by_id]

    def user_ids_with_role(self, company_id: UUID, role_id: str) -> list[UUID]:
        rows = self._all(
            "SELECT user_id FROM rm_users WHERE company_id = %s AND %s = ANY(role_ids) ORDER BY user_id",
            (company_id, role_id),
        )
        return [r["user_id"] for r in rows]

    def company(self, company_id: UUID) -> CompanyRow | None:
        row = self._one("SELECT * FROM rm_companies WHERE company_id = %s", (company_id,))
        return _company(row) if row else None

    def roles(self, company_id: UUID) -> list[RoleRow]:
        rows = self._all(
            "SELECT * FROM rm_roles WHERE company_id = %s AND NOT deleted ORDER BY lower(name), role_id",
            (company_id,),
        )
        return [_role(r) for r in rows]

    def audit(self, company_id: UUID, *, subject_id: UUID | None, before: int | None, limit: int) -> list[AuditEntry]:
        where = "company_id = %(company)s"
        if subject_id is not None:
            where += " AND subject_id = %(subject)s"
        if before is not None:
            where += " AND seq < %(before)s"
        rows = self._all(
            f"SELECT * FROM rm_audit WHERE {where} ORDER BY seq DESC LIMIT %(limit)s",
            {"company": company_id, "subject": subject_id, "before": before, "limit": limit},
        )
        return [
            AuditEntry(
                seq=r["seq"],
                company_id=r["company_id"],
                at=r["at"],
                actor_id=r["actor_id"],
                action=r["action"],
                subject_type=r["subject_type"],
                subject_id=r["subject_id"],
                details=r["details"] if isinstance(r["details"], dict) else json.loads(r["details"]),
            )
            for r in rows
        ]


def _period(p: dict[str, Any] | None) -> PeriodBudget | None:
    if p is None:
        return None
    return PeriodBudget(p["period"], Decimal(p["max_value"]), p["currency"], p["max_total_quantity"])


def _user(r: dict[str, Any]) -> UserRow:
    return UserRow(
        user_id=r["user_id"],
        company_id=r["company_id"],
        email=r["email"],
        first_name=r["first_name"],
        last_name=r["last_name"],
        language=r["language"],
        status=r["status"],
        role_ids=tuple(r["role_ids"]),
        permissions=tuple(r["permissions"]),
        budget=Budget(
            r["max_total_quantity"], r["max_order_value"], r["budget_currency"], _period(r.get("period_budget"))
        ),
        erp_contact_id=r["erp_contact_id"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        version=r["version"],
        erased_at=r.get("erased_at"),
    )


def _company(r: dict[str, Any]) -> CompanyRow:
    return CompanyRow(
        company_id=r["company_id"],
        customer_number=r["customer_number"],
        name=r["name"],
        currency=r["currency"],
        main_contact_id=r["main_contact_id"],
        approver_ids=tuple(r["approver_ids"]),
        erp_contacts=tuple(_contact(c) for c in r["erp_contacts"]),
        taken_over={k: UUID(v) for k, v in r["taken_over"].items()},
        registered_at=r["registered_at"],
        version=r["version"],
    )


def _role(r: dict[str, Any]) -> RoleRow:
    return RoleRow(
        role_id=r["role_id"],
        company_id=r["company_id"],
        name=r["name"],
        description=r["description"],
        permissions=tuple(r["permissions"]),
        deleted=r["deleted"],
        version=r["version"],
    )
