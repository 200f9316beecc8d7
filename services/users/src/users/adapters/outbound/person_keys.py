"""The persons' keys in PostgreSQL (``person_keys``, ADR 0035), written in the events' transaction.

The table is made by migration 0002 only (not by the recorder's statements): its DDL here is what the runtime
checks for at start. Nothing here logs a key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from psycopg import Cursor
from psycopg.rows import DictRow

from users.application.person_keys import PERSON_KEYS_KWARG, KeyChange, KeyErased, PersonKey

PERSON_KEYS_TABLE = """CREATE TABLE IF NOT EXISTS person_keys (
    user_id uuid PRIMARY KEY,
    company_id uuid NOT NULL,
    key bytea,
    created_at timestamptz NOT NULL,
    erased_at timestamptz,
    CONSTRAINT person_keys_erased_has_no_key CHECK ((key IS NULL) = (erased_at IS NOT NULL)),
    CONSTRAINT person_keys_256_bit CHECK (key IS NULL OR octet_length(key) = 32)
)"""

INSERT_KEY = (
    b"INSERT INTO person_keys (user_id, company_id, key, created_at) VALUES (%s, %s, %s, %s)"
    b" ON CONFLICT (user_id) DO NOTHING"
)
# An erasure keeps the first erased_at; a person without a row (created before keys) gets an erased one.
ERASE_KEY = (
    b"INSERT INTO person_keys (user_id, company_id, key, created_at, erased_at) VALUES (%s, %s, NULL, %s, %s)"
    b" ON CONFLICT (user_id) DO UPDATE SET key = NULL,"
    b" erased_at = COALESCE(person_keys.erased_at, EXCLUDED.erased_at)"
)


def _statement(change: KeyChange) -> tuple[bytes, tuple[Any, ...]]:
    if isinstance(change, PersonKey):
        return INSERT_KEY, (change.user_id, change.company_id, change.key, change.created_at)
    assert isinstance(change, KeyErased)
    return ERASE_KEY, (change.user_id, change.company_id, change.erased_at, change.erased_at)


class PersonKeyWriter:
    """A save's key changes (``PERSON_KEYS_KWARG``), written with its events
    (:class:`kc_runtime.eventstore.WithEvents`)."""

    kwarg = PERSON_KEYS_KWARG
    schema: Sequence[str] = ()  # migration 0002 makes the table

    def write(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], notification_ids: Sequence[int], payload: Any
    ) -> None:
        for change in payload:
            curs.execute(*_statement(change))


def _key(r: dict[str, Any]) -> PersonKey:
    key = r["key"]
    return PersonKey(
        r["user_id"], r["company_id"], bytes(key) if key is not None else None, r["created_at"], r["erased_at"]
    )


class PostgresPersonKeys:
    """Queries of ``person_keys``, from the event store's connection pool."""

    def __init__(self, recorder: Any) -> None:
        self.datastore = recorder.datastore

    def record(self, changes: Sequence[KeyChange]) -> None:
        """Written already, by the recorder, in the save's transaction."""

    def get(self, user_id: UUID) -> PersonKey | None:
        with self.datastore.get_connection() as conn:
            row = conn.execute(b"SELECT * FROM person_keys WHERE user_id = %s", (user_id,)).fetchone()
        return _key(row) if row else None

    def get_many(self, user_ids: Sequence[UUID]) -> dict[UUID, PersonKey]:
        if not user_ids:
            return {}
        with self.datastore.get_connection() as conn:
            rows = conn.execute(b"SELECT * FROM person_keys WHERE user_id = ANY(%s)", (list(user_ids),)).fetchall()
        return {row["user_id"]: _key(row) for row in rows}

    def ensure(self, key: PersonKey) -> PersonKey:
        with self.datastore.transaction(commit=True) as cur:
            cur.execute(*_statement(key))
            cur.execute(b"SELECT * FROM person_keys WHERE user_id = %s", (key.user_id,))
            row = cur.fetchone()
        assert row is not None
        return _key(row)
