"""Each person's data key (ADR 0035): made when the user is created, destroyed when they are erased.

The key is written with the save that creates the user (:data:`PERSON_KEYS_KWARG`, in the events' transaction),
never in an event: events are published, keys never leave users except through its internal endpoint. It is
random, so it is made when the save is recorded, not in code that events replay. An erasure's save sets the key
to null and keeps when; the row stays, so an erased person is told apart from one never known (410, not 404).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from kc_runtime.sealing import new_key
from users.domain.model import User

PERSON_KEYS_KWARG = "person_keys"
"""The keyword under which a save hands its key changes to the event recorder."""


@dataclass(frozen=True)
class PersonKey:
    """A person's key row: ``key`` None once they are erased (``erased_at``)."""

    user_id: UUID
    company_id: UUID
    key: bytes | None
    created_at: datetime
    erased_at: datetime | None = None

    def __repr__(self) -> str:  # never a key in a log line or a traceback
        state = f"erased at {self.erased_at.isoformat()}" if self.erased_at else "live"
        return f"PersonKey(user_id={self.user_id}, company_id={self.company_id}, {state})"


@dataclass(frozen=True)
class KeyErased:
    user_id: UUID
    company_id: UUID
    erased_at: datetime


KeyChange = PersonKey | KeyErased


def key_changes(events: Sequence[Any], make_key: Callable[[], bytes] = new_key) -> tuple[KeyChange, ...]:
    """What saving ``events`` does to the keys: a new key for each user created, none left for each erased."""
    out: list[KeyChange] = []
    for e in events:
        match e:
            case User.Created():
                out.append(PersonKey(e.originator_id, e.company_id, make_key(), e.timestamp))
            case User.Erased():
                out.append(KeyErased(e.originator_id, e.company_id, e.erased_at))
    return tuple(out)


class PersonKeys(Protocol):
    def record(self, changes: Sequence[KeyChange]) -> None:
        """Called after a save committed. (The PostgreSQL store has written them in its transaction.)"""

    def get(self, user_id: UUID) -> PersonKey | None: ...

    def get_many(self, user_ids: Sequence[UUID]) -> dict[UUID, PersonKey]:
        """The rows of those of ``user_ids`` that have one."""

    def ensure(self, key: PersonKey) -> PersonKey:
        """``key`` stored unless the person has a row already; the stored row (a user created before keys)."""


@dataclass
class InMemoryPersonKeys:
    """The keys in a dictionary: for the in-memory event store (tests, API documents)."""

    _rows: dict[UUID, PersonKey] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, changes: Sequence[KeyChange]) -> None:
        with self._lock:
            for change in changes:
                if isinstance(change, PersonKey):
                    self._rows.setdefault(change.user_id, change)
                    continue
                row = self._rows.get(change.user_id)
                if row is None:
                    row = PersonKey(change.user_id, change.company_id, None, change.erased_at)
                self._rows[change.user_id] = replace(row, key=None, erased_at=row.erased_at or change.erased_at)

    def get(self, user_id: UUID) -> PersonKey | None:
        return self._rows.get(user_id)

    def get_many(self, user_ids: Sequence[UUID]) -> dict[UUID, PersonKey]:
        return {u: row for u in user_ids if (row := self._rows.get(u)) is not None}

    def ensure(self, key: PersonKey) -> PersonKey:
        with self._lock:
            return self._rows.setdefault(key.user_id, key)
