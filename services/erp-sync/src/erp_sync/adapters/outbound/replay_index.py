"""The replay index in PostgreSQL, written in the events' transaction (see ``erp_sync.application.replay_index``).

:class:`IndexingRecorder` is the event store's process recorder with two writers of rows with the events
(:class:`kc_runtime.eventstore.WithEventsRecorder`): after a save's events are inserted, :class:`ReplayIndexWriter`
inserts an ``erp_sync_replay_index`` row (notification id, stored at, company) for each event a replay
republishes. A replay then reads the log joined with the index from the instant on: its cost grows with what it
republishes, not with the log. Events stored before the index existed are indexed once, by the first replay
(:meth:`PostgresReplayIndex.backfill`); deleting the row of ``erp_sync_replay_index_state`` makes the next replay
index the log again (harmless: rows are inserted only where missing). The recorder creates the index's tables
with the event store's (``CREATE_TABLE``, i.e. ``<PREFIX>CREATE_SCHEMA``); :data:`TABLES` declares them to the
runtime, which requires them at start when it may not create them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Mapper, Notification, ProcessRecorder, StoredEvent
from eventsourcing.utils import get_topic
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from erp_sync.adapters.outbound import price_index
from erp_sync.application.replay_index import REPLAY_INDEX_KWARG, REPLAYED, IndexEntry, replay_entries
from erp_sync.domain.model import ContactExchange
from kc_runtime.eventstore import WithEventsRecorder
from kc_runtime.schema import Tables

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS erp_sync_replay_index (
        notification_id bigint PRIMARY KEY,
        stored_at timestamptz NOT NULL,
        company_id uuid)""",
    "CREATE INDEX IF NOT EXISTS erp_sync_replay_index_at ON erp_sync_replay_index (stored_at, notification_id)",
    """CREATE INDEX IF NOT EXISTS erp_sync_replay_index_company
        ON erp_sync_replay_index (company_id, stored_at, notification_id)""",
    "CREATE TABLE IF NOT EXISTS erp_sync_replay_index_state (name text PRIMARY KEY, below bigint NOT NULL)",
]
TABLES = Tables.of(*SCHEMA, create=False)  # created by IndexingRecorder, checked by the runtime

EVENTS_TABLE = "exchanges_events"
"""The event store's table (the ``Exchanges`` application's, as the baseline migration made it)."""

FORGET = (
    b"DELETE FROM erp_sync_replay_index WHERE notification_id IN"
    b" (SELECT notification_id FROM " + EVENTS_TABLE.encode() + b" WHERE originator_id = %s AND notification_id < %s)"
)
"""An erasure (ADR 0035): the index entries of the person's earlier messages go, in the erasure's transaction."""

INSERT = (
    b"INSERT INTO erp_sync_replay_index (notification_id, stored_at, company_id) VALUES (%s, %s, %s)"
    b" ON CONFLICT (notification_id) DO NOTHING"
)


def _rows(entries: Sequence[IndexEntry], ids: Sequence[int]) -> list[tuple[int, datetime, UUID | None]]:
    return [(ids[e.event_index], e.stored_at, e.company_id) for e in entries]


class ReplayIndexWriter:
    """A save's replay index entries (``REPLAY_INDEX_KWARG``), written with its events
    (:class:`kc_runtime.eventstore.WithEvents`)."""

    kwarg = REPLAY_INDEX_KWARG
    schema = SCHEMA

    def write(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], notification_ids: Sequence[int], payload: Any
    ) -> None:
        if notification_ids:
            forgotten = [(e.originator_id, notification_ids[e.event_index]) for e in payload if e.forgets]
            if forgotten:
                curs.executemany(FORGET, forgotten)
            curs.executemany(INSERT, _rows(payload, notification_ids))


class IndexingRecorder(WithEventsRecorder):
    """The process recorder that also writes the replay index and the price index (``price_index``), in the
    events' transaction."""

    writers = (ReplayIndexWriter(), price_index.PriceIndexWriter())


class PostgresReplayIndex:
    def __init__(self, recorder: ProcessRecorder) -> None:
        if not isinstance(recorder, IndexingRecorder):
            raise TypeError("PostgresReplayIndex needs the IndexingRecorder (PROCESS_RECORDER_TOPIC)")
        self.recorder = recorder
        self.datastore = recorder.datastore

    def record(self, entries: Sequence[IndexEntry], notification_ids: Sequence[int]) -> None:
        """Written already, by the recorder, in the save's transaction."""

    def page(self, since: datetime, company_id: UUID | None, after: int, limit: int) -> list[Notification]:
        statement = SQL(
            "SELECT e.notification_id, e.originator_id, e.originator_version, e.topic, e.state"
            " FROM erp_sync_replay_index i JOIN {schema}.{table} e ON e.notification_id = i.notification_id"
            " WHERE i.stored_at >= %s AND i.notification_id > %s"
        ).format(schema=Identifier(self.datastore.schema), table=Identifier(self.recorder.events_table_name))
        params: list[Any] = [since, after]
        if company_id is not None:
            statement += SQL(" AND i.company_id = %s")
            params.append(company_id)
        statement += SQL(" ORDER BY i.notification_id LIMIT %s")
        params.append(limit)
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, params)
            return [
                Notification(
                    id=row["notification_id"],
                    originator_id=row["originator_id"],
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=bytes(row["state"]),
                )
                for row in curs.fetchall()
            ]

    def _erased_exchanges(self) -> set[UUID]:
        """The contact exchanges with an erasure (ADR 0035) anywhere in the log."""
        statement = SQL("SELECT DISTINCT originator_id FROM {schema}.{table} WHERE topic = %s").format(
            schema=Identifier(self.datastore.schema), table=Identifier(self.recorder.events_table_name)
        )
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, [get_topic(ContactExchange.Erased)])
            return {row["originator_id"] for row in curs.fetchall()}

    def backfill(self, mapper: Mapper[UUID], batch_size: int = 1000) -> int:
        """Index the notifications below the first one the recorder indexed (all of them, if none was) — but an
        erased person's messages before their erasure."""
        with self.datastore.get_connection() as conn:
            done = conn.execute(b"SELECT below FROM erp_sync_replay_index_state WHERE name = 'backfill'").fetchone()
            if done is not None:
                return 0
            first = conn.execute(b"SELECT min(notification_id) AS n FROM erp_sync_replay_index").fetchone()
        recorder = self.recorder
        below = first["n"] if first and first["n"] is not None else (recorder.max_notification_id() or 0) + 1
        topics = [get_topic(cls) for cls in REPLAYED]
        erased = self._erased_exchanges()
        position, added = 0, 0
        while position < below - 1:
            notifications = recorder.select_notifications(
                start=position, limit=batch_size, stop=below - 1, topics=topics, inclusive_of_start=False
            )
            if not notifications:
                break
            events = [mapper.to_domain_event(n) for n in notifications]
            # an erased person's earlier messages are not indexed (ADR 0035): as the erasure removed later entries
            entries = [e for e in replay_entries(events) if e.forgets or e.originator_id not in erased]
            rows = _rows(entries, [n.id for n in notifications])
            with self.datastore.transaction(commit=True) as curs:
                curs.executemany(INSERT, rows)
            added += len(rows)
            position = notifications[-1].id
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                b"INSERT INTO erp_sync_replay_index_state (name, below) VALUES ('backfill', %s)"
                b" ON CONFLICT (name) DO NOTHING",
                (below,),
            )
        return added
