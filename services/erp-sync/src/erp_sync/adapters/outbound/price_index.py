"""The price index in PostgreSQL (see ``erp_sync.application.prices``): one row per customer and article, whether
it is listed and the last full resend that carried it. Written by :class:`PriceIndexWriter` (a writer of the
:class:`IndexingRecorder <erp_sync.adapters.outbound.replay_index.IndexingRecorder>`) in the events' transaction,
so the end of a resend, handled after every article of it (same key, same partition), reads exactly what was
recorded before it.

Rebuildable from the ``CustomerPrice`` events; created with the event store's tables, declared to the runtime
(:data:`TABLES`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import ProcessRecorder, StoredEvent
from psycopg import Cursor
from psycopg.rows import DictRow

from erp_sync.application.prices import PRICE_INDEX_KWARG, PriceIndexEntry
from kc_runtime.schema import Tables

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS erp_sync_price_index (
        customer_number text NOT NULL,
        sku text NOT NULL,
        listed boolean NOT NULL,
        resend_id text,
        PRIMARY KEY (customer_number, sku))""",
]
TABLES = Tables.of(*SCHEMA, create=False)  # created by IndexingRecorder, checked by the runtime

UPSERT = (
    b"INSERT INTO erp_sync_price_index (customer_number, sku, listed, resend_id)"
    b" VALUES (%(c)s, %(s)s, coalesce(%(l)s, false), %(r)s)"
    b" ON CONFLICT (customer_number, sku) DO UPDATE"
    b" SET listed = coalesce(%(l)s, erp_sync_price_index.listed),"
    b" resend_id = coalesce(%(r)s, erp_sync_price_index.resend_id)"
)


class PriceIndexWriter:
    """A save's price index entries (``PRICE_INDEX_KWARG``), written with its events
    (:class:`kc_runtime.eventstore.WithEvents`)."""

    kwarg = PRICE_INDEX_KWARG
    schema = SCHEMA

    def write(
        self,
        curs: Cursor[DictRow],
        stored_events: Sequence[StoredEvent],
        notification_ids: Sequence[int],
        payload: Sequence[PriceIndexEntry],
    ) -> None:
        curs.executemany(
            UPSERT, [{"c": e.customer_number, "s": e.sku, "l": e.listed, "r": e.resend_id} for e in payload]
        )


class PostgresPriceIndex:
    def __init__(self, recorder: ProcessRecorder) -> None:
        self.datastore: Any = getattr(recorder, "datastore", None)
        if self.datastore is None:
            raise TypeError("PostgresPriceIndex needs the PostgreSQL event recorder")

    def record(self, entries: Sequence[PriceIndexEntry]) -> None:
        """Written already, by the recorder, in the save's transaction."""

    def listed_not_in(self, customer_number: str, resend_id: str) -> list[str]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                b"SELECT sku FROM erp_sync_price_index WHERE customer_number = %s AND listed"
                b" AND resend_id IS DISTINCT FROM %s ORDER BY sku",
                (customer_number, resend_id),
            )
            return [row["sku"] for row in curs.fetchall()]
