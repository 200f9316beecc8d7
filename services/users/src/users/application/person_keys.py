"""Each person's data key (ADR 0035): made when the user is created, destroyed when they are erased.

A person registration will make a main contact has a key before they are a user (ADR 0040): reserved for the id
registration minted (a *pending* row, no company), and taken by the save that creates the user with that id.

The key is written with the save that creates the user (:data:`PERSON_KEYS_KWARG`, in the events' transaction),
never in an event: events are published, keys never leave users except through its internal endpoint. It is
random, so it is made when the save is recorded, not in code that events replay. An erasure's save sets the key
to null and keeps when; the row stays, so an erased person is told apart from one never known (410, not 404).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
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
    """A person's key row: ``key`` None once they are erased (``erased_at``); ``company_id`` None while the person
    is pending (reserved for a registration's main contact, no user yet)."""

    user_id: UUID
    company_id: UUID | None
    key: bytes | None
    created_at: datetime
    erased_at: datetime | None = None

    def __repr__(self) -> str:  # never a key in a log line or a traceback
        state = f"erased at {self.erased_at.isoformat()}" if self.erased_at else "live"
        return f"PersonKey(user_id={self.user_id}, company_id={self.company_id}, {state})"

    @property
    def is_pending(self) -> bool:
        """Reserved for a person who is no user yet, and not erased: the key their user will be created with."""
        return self.company_id is None and self.key is not None


@dataclass(frozen=True)
class KeyErased:
    user_id: UUID
    company_id: UUID
    erased_at: datetime


KeyChange = PersonKey | KeyErased


def key_changes(
    events: Sequence[Any], make_key: Callable[[], bytes] = new_key, pending: Mapping[UUID, PersonKey] | None = None
) -> tuple[KeyChange, ...]:
    """What saving ``events`` does to the keys: a new key for each user created — or, for one whose id has a pending
    row in ``pending`` (the person keys stored for the created users' ids), that row's key, now with the user's
    company — and none left for each erased."""
    out: list[KeyChange] = []
    for e in events:
        match e:
            case User.Created():
                row = (pending or {}).get(e.originator_id)
                if row is not None and row.is_pending and row.key is not None:
                    out.append(PersonKey(e.originator_id, e.company_id, row.key, row.created_at))
                else:
                    out.append(PersonKey(e.originator_id, e.company_id, make_key(), e.timestamp))
            case User.Erased():
                out.append(KeyErased(e.originator_id, e.company_id, e.erased_at))
    return tuple(out)


def created_users(events: Sequence[Any]) -> list[UUID]:
    """The ids of the users ``events`` create (whose pending rows :func:`key_changes` wants)."""
    return [e.originator_id for e in events if isinstance(e, User.Created)]


class PersonKeys(Protocol):
    def record(self, changes: Sequence[KeyChange]) -> None:
        """Called after a save committed. (The PostgreSQL store has written them in its transaction.)"""

    def get(self, user_id: UUID) -> PersonKey | None: ...

    def get_many(self, user_ids: Sequence[UUID]) -> dict[UUID, PersonKey]:
        """The rows of those of ``user_ids`` that have one."""

    def ensure(self, key: PersonKey) -> PersonKey:
        """``key`` stored unless the person has a row already; the stored row (a user created before keys, or a
        pending person's key reserved: ``company_id`` None)."""


@dataclass
class InMemoryPersonKeys:
    """The keys in a dictionary: for the in-memory event store (tests, API documents)."""

    _rows: dict[UUID, PersonKey] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, changes: Sequence[KeyChange]) -> None:
        with self._lock:
            for change in changes:
                if isinstance(change, PersonKey):
                    row = self._rows.get(change.user_id)
                    if row is None or (row.is_pending and row.key == change.key):
                        self._rows[change.user_id] = change  # new, or the pending row taken by its user
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
