"""One reader of a service's log for all its followers (real PostgreSQL): each follower gets every event once, in
order, from one read per position; a follower in an outage backs off alone while the others go on; the reader takes
every follower's lock or none."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
import pytest
from prometheus_client import REGISTRY

from kc_runtime.follower import Batch, LogFollower, LogReader
from tests.conftest import eventually
from tests.support.followers import Thing, log_store, running

pytestmark = pytest.mark.integration


class Recorder(LogFollower):
    def __init__(self, kind: str, **kwargs: Any) -> None:
        self.kind = kind
        super().__init__(**kwargs)
        self.applied: list[tuple[UUID, int]] = []
        self.outage = False

    async def process(self, batch: Batch) -> None:
        if self.outage:
            raise ConnectionRefusedError(f"{self.kind}'s target away")
        self.applied.extend((n.originator_id, n.originator_version) for n, _, _ in batch)


@pytest.fixture
async def store(database):
    async with log_store(database, "log_reader") as store:
        yield store


def recorder(store: Any, kind: str) -> Recorder:
    dsn, app, blocking = store
    return Recorder(kind, service="test", app=app, dsn=dsn, blocking=blocking, idle_interval_s=0.05)


async def stored_positions(dsn: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        return {r["name"]: r["position"] for r in await conn.fetch("SELECT name, position FROM kc_follower_position")}
    finally:
        await conn.close()


async def save_things(store: Any, n: int) -> list[tuple[UUID, int]]:
    _, app, blocking = store
    expected = []
    for i in range(n):
        thing = Thing(f"t{i}")
        thing.note("hello")
        await blocking.run(app.save, thing)
        expected += [(thing.id, 1), (thing.id, 2)]
    return expected


async def test_every_follower_gets_every_event_in_order_from_one_read_per_position(store):
    dsn, app, _ = store
    a, b, c = recorder(store, "a"), recorder(store, "b"), recorder(store, "c")
    reader = LogReader([a, b, c])
    reads = 0
    original = reader.decoded_log.read

    def counted(after: int, limit: int) -> Batch:
        nonlocal reads
        reads += 1
        return original(after, limit)

    reader.decoded_log.read = counted  # type: ignore[method-assign]
    expected = await save_things(store, 5)
    async with running(reader):
        await eventually(lambda: _true(len(c.applied) == len(expected)), what="every event at every follower")
        reads_when_caught_up = reads
        expected += await save_things(store, 5)
        await eventually(lambda: _true(len(c.applied) == len(expected)), what="the later events too")
        later_reads = reads - reads_when_caught_up
    assert a.applied == b.applied == c.applied == expected
    # three followers at one position: one read each time the log moves, not three
    assert later_reads <= 2 * 5 + 2, f"{later_reads} reads for 5 transactions"
    top = app.max_notification_id()
    assert await stored_positions(dsn) == {f.name: top for f in (a, b, c)}


async def test_each_read_that_finds_events_is_observed_with_their_number(store):
    a, b = recorder(store, "a"), recorder(store, "b")
    reader = LogReader([a, b])
    reader.service = f"reads-{a.name}-{id(reader)}"  # a series of this test's own

    def observed(suffix: str) -> float:
        return REGISTRY.get_sample_value(f"kc_log_read_events_{suffix}", {"kc_service": reader.service}) or 0

    expected = await save_things(store, 3)
    async with running(reader):
        await eventually(lambda: _true(len(b.applied) == len(expected)), what="every event at both followers")
    # both followers at one position: every event is read once, and only reads that found some are observed
    assert observed("sum") == len(expected)
    assert 1 <= observed("count") <= 3


async def test_a_follower_in_an_outage_backs_off_alone_and_catches_up_after_it(store):
    dsn, _, _ = store
    healthy, failing = recorder(store, "healthy"), recorder(store, "failing")
    failing.outage = True
    expected = await save_things(store, 3)
    async with running(LogReader([failing, healthy])):
        await eventually(lambda: _true(len(healthy.applied) == len(expected)), what="the healthy follower to go on")
        expected += await save_things(store, 2)
        await eventually(lambda: _true(len(healthy.applied) == len(expected)), what="the later events too")
        assert failing.applied == [] and failing.position == 0 and not failing.active
        assert healthy.active
        assert (await stored_positions(dsn)).get(failing.name, 0) == 0
        failing.outage = False
        await eventually(lambda: _true(failing.applied == expected), timeout=30, what="the failing one to catch up")
        await eventually(lambda: _true(failing.active), what="the recovered follower active again")
    assert healthy.applied == expected


async def test_the_reader_takes_every_followers_lock_or_none(store):
    elsewhere = recorder(store, "b")
    a, b = recorder(store, "a"), recorder(store, "b")
    expected = await save_things(store, 2)
    async with running(elsewhere):
        await eventually(lambda: _true(len(elsewhere.applied) == len(expected)), what="b followed on its own")
        reader = LogReader([a, b])
        async with running(reader):
            # b's lock is held elsewhere: the reader's a must not run without it
            await eventually(lambda: _true(reader.lock_attempts >= 2), what="the reader to try twice")
            assert elsewhere.active
            assert not a.active and a.applied == [] and b.applied == []
    async with running(LogReader([a, b])):
        await eventually(lambda: _true(len(a.applied) == len(expected)), what="a to follow once b's lock is free")
    assert b.applied == []  # b's events were handled by the one elsewhere: its stored position is past them


async def _true(value: bool) -> bool:
    return value
