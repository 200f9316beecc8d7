"""The persons' keys in PostgreSQL (``person_keys``, ADR 0035), written in the events' transaction.

The table is made by migrations 0002 and 0003 only (not by the recorder's statements): its DDL here is what the
runtime checks for at start. A row without a company is a pending person's (ADR 0040: a registrant's key, made
before they are a user); the save that creates them as a user fills the company in. Nothing here logs a key.
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
    company_id uuid,
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
# A created user's key: a new row, or the pending row whose key it is (the user created with a reserved id) given
# its company. Anything else already there is left alone — and the check below fails the save.
CREATED_KEY = (
    b"INSERT INTO person_keys (user_id, company_id, key, created_at) VALUES (%s, %s, %s, %s)"
    b" ON CONFLICT (user_id) DO UPDATE SET company_id = EXCLUDED.company_id"
    b" WHERE person_keys.company_id IS NULL AND person_keys.key = EXCLUDED.key"
)
# The user's events are sealed with the key the save made or adopted: never commit them unless it is the one stored
# (a reservation that came in between reading the pending rows and this save, say); a retry reads the rows again.
CHECK_CREATED_KEY = (
    b"SELECT rm_assert(EXISTS (SELECT 1 FROM person_keys WHERE user_id = %s AND company_id = %s AND key = %s),"
    b" 'a created user''s key must be the one stored for them')"
)
# An erasure keeps the first erased_at; a person without a row (created before keys) gets an erased one.
ERASE_KEY = (
    b"INSERT INTO person_keys (user_id, company_id, key, created_at, erased_at) VALUES (%s, %s, NULL, %s, %s)"
    b" ON CONFLICT (user_id) DO UPDATE SET key = NULL,"
    b" erased_at = COALESCE(person_keys.erased_at, EXCLUDED.erased_at)"
)


def _statements(change: KeyChange) -> list[tuple[bytes, tuple[Any, ...]]]:
    if isinstance(change, PersonKey):
        return [
            (CREATED_KEY, (change.user_id, change.company_id, change.key, change.created_at)),
            (CHECK_CREATED_KEY, (change.user_id, change.company_id, change.key)),
        ]
    assert isinstance(change, KeyErased)
    return [(ERASE_KEY, (change.user_id, change.company_id, change.erased_at, change.erased_at))]


class PersonKeyWriter:
    """A save's key changes (``PERSON_KEYS_KWARG``), written with its events
    (:class:`kc_runtime.eventstore.WithEvents`)."""

    kwarg = PERSON_KEYS_KWARG
    schema: Sequence[str] = ()  # migration 0002 makes the table

    def write(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], notification_ids: Sequence[int], payload: Any
    ) -> None:
        for change in payload:
            for statement in _statements(change):
                curs.execute(*statement)


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
            cur.execute(INSERT_KEY, (key.user_id, key.company_id, key.key, key.created_at))
            cur.execute(b"SELECT * FROM person_keys WHERE user_id = %s", (key.user_id,))
            row = cur.fetchone()
        assert row is not None
        return _key(row)
