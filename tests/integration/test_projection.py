"""A projection (kc_runtime.follower.Projection) writes its rows through the log reader's connection, in one
transaction with its position (real PostgreSQL): a failed batch leaves neither rows nor a moved position, an
event it cannot apply is parked while the events around it are projected in the same transaction, and a
restarted projection goes on from where the rows end — every event projected exactly once."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from kc_runtime import follower as follower_module
from kc_runtime.follower import POSITION_TABLE_DDL, Batch, LogFollower, LogReader, Projection, ProjectionRows
from kc_runtime.parking import ParkedRetry
from tests.conftest import eventually
from tests.support.followers import Thing, log_store, running

pytestmark = pytest.mark.integration

NOTES = "CREATE TABLE IF NOT EXISTS {table} (notification_id bigint PRIMARY KEY, text text NOT NULL)"


class Notes(ProjectionRows):
    """One row per note, inserted (not upserted): projecting an event twice would fail on the primary key.
    ``fail_after``: raise after writing that many rows of a batch (a crash between rows and position)."""

    def __init__(self, dsn: str, table: str = "test_notes") -> None:
        super().__init__(dsn, max_size=2, schema=[NOTES.format(table=table)])
        self.table = table
        self.fail_after: int | None = None
        self.attempts = 0

    async def project(self, conn: asyncpg.Connection, batch: Batch) -> None:
        self.attempts += 1
        written = 0
        for notification, event, _ in batch:
            if not isinstance(event, Thing.Noted):
                continue
            if event.text == "poison":
                raise ValueError("cannot apply this note")
            await conn.execute(f"INSERT INTO {self.table} VALUES ($1, $2)", notification.id, event.text)
            written += 1
            if self.fail_after is not None and written >= self.fail_after:
                raise ConnectionResetError("the process died here")


class NoteProjection(Projection):
    kind = "notes-projection"


async def rows(dsn: str, sql: str, *args: Any) -> list[dict]:
    conn = await asyncpg.connect(dsn)
    try:
        return [dict(r) for r in await conn.fetch(sql, *args)]
    finally:
        await conn.close()


@pytest.fixture
async def store(database):
    async with log_store(database, "projection") as (dsn, app, blocking):
        conn = await asyncpg.connect(dsn)
        await conn.execute(NOTES.format(table="test_notes"))
        await conn.execute(POSITION_TABLE_DDL)
        await conn.close()
        notes = Notes(dsn)
        yield dsn, app, blocking, notes
        await notes.close()


def projection(store: tuple, rows: Notes | None = None, name: str | None = None) -> NoteProjection:
    dsn, app, blocking, notes = store
    return NoteProjection(
        rows=rows or notes, service="test", app=app, dsn=dsn, blocking=blocking, idle_interval_s=0.05, name=name
    )


async def noted(dsn: str) -> list[str]:
    return [r["text"] for r in await rows(dsn, "SELECT text FROM test_notes ORDER BY notification_id")]


async def position(dsn: str, name: str) -> int | None:
    found = await rows(dsn, "SELECT position FROM kc_follower_position WHERE name = $1", name)
    return int(found[0]["position"]) if found else None


async def test_a_batch_that_fails_midway_leaves_neither_rows_nor_a_moved_position(store):
    dsn, app, blocking, notes = store
    thing = Thing("a")
    for text in ("one", "two", "three"):
        thing.note(text)
    await blocking.run(app.save, thing)
    notes.fail_after = 2  # two rows written, then the "crash"
    follower = projection(store)

    async with running(LogReader([follower])):
        await eventually(lambda: _true(notes.attempts >= 2), what="the failed batch to be tried again")
        assert await noted(dsn) == []  # the rows written before the failure were rolled back with it
        assert await position(dsn, follower.name) in (None, 0)
        assert follower.position == 0
        notes.fail_after = None
        await eventually(lambda: _equal(noted(dsn), ["one", "two", "three"]), timeout=30, what="the notes projected")
        await eventually(lambda: _equal(position(dsn, follower.name), follower.position), what="the position stored")

    assert follower.position == await blocking.run(app.max_notification_id)


async def test_the_events_around_one_it_cannot_apply_are_projected_and_the_bad_one_parked(store):
    dsn, app, blocking, _notes = store
    bad, good = Thing("bad"), Thing("good")
    bad.note("before")
    bad.note("poison")
    bad.note("after the poison")
    good.note("fine")
    await blocking.run(app.save, bad, good)
    follower = projection(store)

    async with running(LogReader([follower])):
        await eventually(lambda: _equal(noted(dsn), ["before", "fine"]), what="the others projected")
        parked = await eventually(
            lambda: rows(dsn, "SELECT aggregate_version, blocked_by FROM kc_parked_event ORDER BY notification_id"),
            what="the parked events",
        )
        assert [(r["aggregate_version"], r["blocked_by"] is None) for r in parked] == [(3, True), (4, False)]

        # a retry while the cause is still there: still parked, and nothing projected twice (the primary key)
        await blocking.run(app.save, ParkedRetry(follower=follower.name, aggregate_id=str(bad.id)))

        async def tried_again() -> list[dict]:
            found = await rows(dsn, "SELECT attempts FROM kc_parked_event ORDER BY notification_id")
            return found if found and found[0]["attempts"] == 2 else []

        await eventually(tried_again, what="the retry to be tried")
    assert await noted(dsn) == ["before", "fine"]


async def test_no_moment_shows_rows_beyond_the_stored_position(store):
    """Sampled while 120 events are projected one batch of two at a time: each sample reads the rows and the stored
    position in one statement (one snapshot). Rows committed apart from their position would show as rows above it."""
    dsn, app, blocking, _notes = store
    things = [Thing(f"t{i}") for i in range(60)]
    for thing in things:
        thing.note("n")
    await blocking.run(app.save, *things)
    follower = projection(store)
    follower.batch_size = 2
    top = await blocking.run(app.max_notification_id)
    conn = await asyncpg.connect(dsn)
    samples: list[tuple[int, int]] = []

    async def sampled_to_the_end() -> bool:
        row = await conn.fetchrow(
            "SELECT coalesce((SELECT position FROM kc_follower_position WHERE name = $1), 0) AS position,"
            " coalesce((SELECT max(notification_id) FROM test_notes), 0) AS projected",
            follower.name,
        )
        samples.append((int(row["position"]), int(row["projected"])))
        return samples[-1][0] >= top

    try:
        async with running(LogReader([follower])):
            await eventually(sampled_to_the_end, interval=0.001, what="the projection at the log's end")
    finally:
        await conn.close()
    assert len(samples) > 20
    assert [s for s in samples if s[1] > s[0]] == []


async def test_a_projection_that_fails_leaves_the_others_of_the_cycle_projected_and_stored(store):
    """Two projections share a reader (one transaction per cycle, a savepoint each): while one fails on every
    attempt, the other's rows and position are committed; the failing one has neither until it passes."""
    dsn, app, blocking, notes = store
    other = Notes(dsn, table="test_other_notes")
    await other.pool()  # its table
    thing = Thing("a")
    thing.note("one")
    thing.note("two")
    await blocking.run(app.save, thing)
    notes.fail_after = 1
    failing, fine = projection(store, name="test:failing"), projection(store, rows=other, name="test:fine")

    try:
        async with running(LogReader([failing, fine])):
            await eventually(lambda: _equal(position(dsn, fine.name), fine.position), what="the other stored")
            assert fine.position == await blocking.run(app.max_notification_id)
            assert [r["text"] for r in await rows(dsn, "SELECT text FROM test_other_notes ORDER BY 1")] == [
                "one",
                "two",
            ]
            await eventually(lambda: _true(notes.attempts >= 2), what="the failing one tried again")
            assert await noted(dsn) == []
            assert await position(dsn, failing.name) is None
            notes.fail_after = None
            await eventually(lambda: _equal(noted(dsn), ["one", "two"]), timeout=30, what="the failing one passing")
            await eventually(lambda: _equal(position(dsn, failing.name), fine.position), what="its position stored")
    finally:
        await other.close()


async def test_when_nothing_fails_a_cycles_projections_take_no_savepoint(store, monkeypatch):
    """The reader first tries a cycle's projections in its transaction as they are (two round trips per projection
    and cycle fewer — the savepoints are for isolating a failure, and nearly always nothing fails): every row and
    position is committed, and the reader's connection sent no SAVEPOINT."""
    dsn, app, blocking, _notes = store
    other = Notes(dsn, table="test_other_notes")
    await other.pool()
    sent: list[str] = []
    connect = asyncpg.connect

    async def logged(*args: Any, **kwargs: Any) -> asyncpg.Connection:
        conn = await connect(*args, **kwargs)
        conn.add_query_logger(lambda record: sent.append(record.query))
        return conn

    monkeypatch.setattr(follower_module.asyncpg, "connect", logged)
    thing = Thing("a")
    thing.note("one")
    thing.note("two")
    await blocking.run(app.save, thing)
    first, second = projection(store, name="test:first"), projection(store, rows=other, name="test:second")
    try:
        async with running(LogReader([first, second])):
            await eventually(lambda: _equal(noted(dsn), ["one", "two"]), what="the first projected")
            await eventually(lambda: _equal(position(dsn, second.name), second.position), what="both stored")
            assert await position(dsn, first.name) == first.position == await blocking.run(app.max_notification_id)
            assert [r["text"] for r in await rows(dsn, "SELECT text FROM test_other_notes ORDER BY 1")] == [
                "one",
                "two",
            ]
    finally:
        await other.close()
    assert any(q.startswith("BEGIN") for q in sent)
    assert [q for q in sent if "SAVEPOINT" in q] == []


class Waiting(LogFollower):
    """A plain follower whose batch waits for something outside the database (a mail server, Kafka)."""

    kind = "waiting-follower"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def process(self, batch: Batch) -> None:
        self.entered.set()
        await self.release.wait()


async def test_a_plain_followers_wait_holds_no_transaction_open_and_the_projection_commits_after_it(store):
    """A follower that is not a projection (the relay, the mail dispatcher) handles its batch outside any
    transaction: while it waits, no session of the database is idle in a transaction; the projection of the same
    cycle commits once it is through."""
    dsn, app, blocking, _notes = store
    thing = Thing("a")
    thing.note("one")
    await blocking.run(app.save, thing)
    waiting = Waiting(service="test", app=app, dsn=dsn, blocking=blocking, idle_interval_s=0.05, name="test:waiting")
    follower = projection(store)

    async with running(LogReader([waiting, follower])):
        await eventually(lambda: _true(waiting.entered.is_set()), what="the plain follower waiting")
        open_transactions = await rows(
            dsn,
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
        )
        assert open_transactions == []
        assert await noted(dsn) == []  # the projection comes after the plain followers
        waiting.release.set()
        await eventually(lambda: _equal(noted(dsn), ["one"]), what="the projection committed")
        await eventually(lambda: _equal(position(dsn, waiting.name), waiting.position), what="both positions stored")


async def test_a_restarted_projection_goes_on_where_its_rows_end(store):
    dsn, app, blocking, _notes = store
    first = Thing("first")
    first.note("one")
    await blocking.run(app.save, first)
    follower = projection(store)
    async with running(LogReader([follower])):
        await eventually(lambda: _equal(noted(dsn), ["one"]), what="the first note projected")

    second = Thing("second")
    second.note("two")
    await blocking.run(app.save, second)
    again = projection(store)
    async with running(LogReader([again])):
        await eventually(lambda: _equal(noted(dsn), ["one", "two"]), what="the second note projected")
    assert again.position > follower.position  # it started at the stored position (a replay would hit the key)


async def _true(value: bool) -> bool:
    return value


async def _equal(got: Any, expected: Any) -> bool:
    return (await got) == expected
