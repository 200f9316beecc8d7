"""Rows written with the events (``kc_runtime.eventstore.WithEventsRecorder``) on PostgreSQL: committed in the
save's transaction with the notification ids the save returns, and never without the events nor the events
without them. These tests hold the eventsourcing library to the contract of the private method the recorder
overrides (``_fetch_ids_after_insert_events``): a new version that changes it fails here."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, StoredEvent, Tracking
from psycopg import Cursor
from psycopg.rows import DictRow

from kc_runtime.eventstore import ServiceApplication, WithEventsRecorder
from tests.integration.test_exactly_once import es_env

pytestmark = pytest.mark.integration

REFUSED = "refused"


class Labels:
    """Labels each stored event of a save with the save's payload."""

    kwarg = "labels"
    schema = [
        f"""CREATE TABLE IF NOT EXISTS kc_test_labels (
            notification_id bigint PRIMARY KEY,
            originator_id uuid NOT NULL,
            originator_version integer NOT NULL,
            label text NOT NULL CHECK (label <> '{REFUSED}'))""",
    ]

    def write(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], notification_ids: Sequence[int], payload: Any
    ) -> None:
        curs.executemany(
            b"INSERT INTO kc_test_labels VALUES (%s, %s, %s, %s)",
            [
                (i, e.originator_id, e.originator_version, payload)
                for e, i in zip(stored_events, notification_ids, strict=True)
            ],
        )


class LabellingRecorder(WithEventsRecorder):
    writers = (Labels(),)


class Thing(Aggregate):
    pass


@pytest.fixture
async def app(database) -> AsyncIterator[ServiceApplication]:
    dsn = await database("with-events")
    topic = f"{LabellingRecorder.__module__}:{LabellingRecorder.__qualname__}"
    application = ServiceApplication(env={**es_env(dsn), "PROCESS_RECORDER_TOPIC": topic})
    yield application
    application.close()


def labels(app: ServiceApplication) -> list[tuple[int, UUID, int, str]]:
    with app.recorder.datastore.get_connection() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(b"SELECT * FROM kc_test_labels ORDER BY notification_id").fetchall()
    return [(r["notification_id"], r["originator_id"], r["originator_version"], r["label"]) for r in rows]


def test_the_writers_table_is_created_with_the_event_stores(app):
    assert labels(app) == []


def test_the_rows_are_written_with_the_notification_ids_the_save_returns(app):
    a, b = Thing(), Thing()
    recordings = app.save(a, b, labels="first")
    assert [r.notification.id for r in recordings] == sorted(r.notification.id for r in recordings)
    assert labels(app) == [(r.notification.id, r.notification.originator_id, 1, "first") for r in recordings]
    assert {r.notification.originator_id for r in recordings} == {a.id, b.id}


def test_a_save_without_the_writers_keyword_writes_no_row(app):
    app.save(Thing())
    app.save_tracked(Tracking(application_name="topic/0", notification_id=1), Thing())
    assert labels(app) == []


def test_rows_the_server_refuses_fail_the_save_and_no_event_is_stored(app):
    app.save(Thing(), labels="kept")
    before = app.max_notification_id()
    thing = Thing()
    with pytest.raises(IntegrityError):
        app.save(thing, labels=REFUSED)
    assert app.max_notification_id() == before
    assert app.find(thing.id) is None
    assert [label for *_, label in labels(app)] == ["kept"]


def test_rows_refused_before_they_reach_the_server_fail_the_save_too(app):
    thing = Thing()
    with pytest.raises(IntegrityError):  # psycopg refuses a NUL character itself; the library would commit
        app.save(thing, labels="nul\x00")
    assert app.find(thing.id) is None
    assert app.max_notification_id() == 0
    assert labels(app) == []


def test_a_conflicting_save_writes_no_row(app):
    thing = Thing()
    app.save(thing, labels="created")
    stale = app.repository.get(thing.id)
    thing.trigger_event(Aggregate.Event)
    app.save(thing, labels="changed")
    stale.trigger_event(Aggregate.Event)
    with pytest.raises(IntegrityError):
        app.save(stale, labels="lost")
    assert [(version, label) for _, _, version, label in labels(app)] == [(1, "created"), (2, "changed")]
