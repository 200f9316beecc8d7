"""The index of erp-sync's ERP-facing messages by the time they were stored, so that a replay reads only what it
republishes (ADR 0008).

Every save computes the index entries of its events (:func:`replay_entries`) and hands them to the event
recorder, which writes them in the events' transaction (PostgreSQL: ``erp_sync.adapters.outbound.replay_index``);
the in-memory store keeps them in a list. An index entry names the notification that carries the event, its
timestamp and its company.

An erasure (ADR 0035, ``ContactExchange.Erased``) removes the index entries of the person's earlier messages in
its save's transaction: a replay (after an ERP restore) republishes the erasure request, never the names the
ERP was told before.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import Mapper, Notification, ProcessRecorder

from erp_sync.domain.model import ContactExchange, SalesOrderExchange
from erp_sync.domain.verification import CustomerCenterActivation

REPLAY_INDEX_KWARG = "replay_index_entries"
"""The keyword under which a save hands its index entries to the event recorder."""

REPLAYED: tuple[type[Any], ...] = (
    SalesOrderExchange.Requested,
    ContactExchange.Created,
    ContactExchange.Changed,
    ContactExchange.Deactivated,
    ContactExchange.Erased,
    CustomerCenterActivation.Requested,
)
"""The events whose ERP-facing messages a replay republishes: the first copy of every state-carrying message
(verification questions are request/reply and asked again while unanswered; copies sent again are left out)."""


@dataclass(frozen=True)
class IndexEntry:
    """One replayed event of a save: its position among the save's events, when it was stored, its company."""

    event_index: int
    stored_at: datetime
    company_id: UUID | None
    originator_id: UUID | None = None
    forgets: bool = False
    """the entries of the originator's earlier events are removed (an erasure, ADR 0035)"""


def replay_entries(events: Sequence[Any]) -> list[IndexEntry]:
    return [
        IndexEntry(
            i, e.timestamp, getattr(e, "company_id", None), e.originator_id, isinstance(e, ContactExchange.Erased)
        )
        for i, e in enumerate(events)
        if isinstance(e, REPLAYED)
    ]


class ReplayIndex(Protocol):
    def record(self, entries: Sequence[IndexEntry], notification_ids: Sequence[int]) -> None:
        """Called after a save committed (the PostgreSQL index has written them in its transaction)."""

    def page(self, since: datetime, company_id: UUID | None, after: int, limit: int) -> list[Notification]:
        """Up to ``limit`` notifications of replayed events stored at or after ``since`` (of one company, if
        given), with ids above ``after``, in log order."""

    def backfill(self, mapper: Mapper[UUID], batch_size: int = 1000) -> int:
        """Index what the log held before the index existed (once; later calls return 0). Returns the number of
        entries added."""


@dataclass
class InMemoryReplayIndex:
    """The index in a list: for the in-memory event store, which starts empty with the process."""

    recorder: ProcessRecorder
    _entries: list[tuple[int, datetime, UUID | None, UUID | None]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, entries: Sequence[IndexEntry], notification_ids: Sequence[int]) -> None:
        with self._lock:
            for e in entries:
                n = notification_ids[e.event_index]
                if e.forgets:
                    self._entries = [x for x in self._entries if x[3] != e.originator_id or x[0] >= n]
                self._entries.append((n, e.stored_at, e.company_id, e.originator_id))

    def page(self, since: datetime, company_id: UUID | None, after: int, limit: int) -> list[Notification]:
        with self._lock:
            ids = sorted(n for n, at, c, _ in self._entries if n > after and at >= since and company_id in (None, c))[
                :limit
            ]
        out: list[Notification] = []
        for n in ids:
            out.extend(self.recorder.select_notifications(start=n, limit=1))
        return out

    def backfill(self, mapper: Mapper[UUID], batch_size: int = 1000) -> int:
        return 0  # the in-memory store starts empty with the process: every event of it was indexed
