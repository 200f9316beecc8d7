"""How a log follower wakes (real PostgreSQL): on the event store's NOTIFY, not by polling. Every follower here
polls only once an hour, so whatever it reads within the test's deadline it read because it was woken."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
import pytest

from kc_runtime.eventstore import ServiceApplication, WorkerPool
from kc_runtime.follower import Batch, LogFollower
from tests.conftest import eventually
from tests.support.followers import Thing, log_store, running

pytestmark = pytest.mark.integration

AN_HOUR = 3600.0


class Recorder(LogFollower):
    """Records what it reads; ``during_step`` runs inside ``process`` (once), while the batch is being handled."""

    kind = "wakeup-recorder"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seen: list[UUID] = []
        self.during_step: Any = None

    async def process(self, batch: Batch) -> None:
        self.seen.extend(n.originator_id for n, _, _ in batch)
        if self.during_step is not None:
            step, self.during_step = self.during_step, None
            await step()


def read(follower: Recorder, thing: Thing) -> Any:
    async def probe() -> bool:
        return thing.id in follower.seen

    return probe


async def is_active(follower: LogFollower) -> bool:
    return follower.active


@pytest.fixture
async def store(database):
    async with log_store(database, "wakeup") as store:
        yield store


async def started(follower: Recorder, app: ServiceApplication, blocking: WorkerPool) -> None:
    """Active, and has read an event stored after it started (so it is listening and caught up)."""
    first = Thing("first")
    await blocking.run(app.save, first)
    await eventually(read(follower, first), what="the first event read")


async def test_a_follower_reads_a_stored_event_when_notified_without_waiting_for_its_poll(store):
    dsn, app, blocking = store
    follower = Recorder(service="test", app=app, dsn=dsn, blocking=blocking, idle_interval_s=AN_HOUR)
    async with running(follower):
        await started(follower, app, blocking)
        later = Thing("later")
        await blocking.run(app.save, later)
        await eventually(read(follower, later), what="the later event read")


async def test_an_event_stored_while_a_batch_is_handled_is_read_without_waiting_for_the_poll(store):
    dsn, app, blocking = store
    follower = Recorder(service="test", app=app, dsn=dsn, blocking=blocking, idle_interval_s=AN_HOUR)
    async with running(follower):
        await started(follower, app, blocking)
        during = Thing("stored while the batch is handled")

        async def store_during() -> None:
            await blocking.run(app.save, during)

        follower.during_step = store_during
        trigger = Thing("trigger")
        await blocking.run(app.save, trigger)
        await eventually(read(follower, during), what="the event stored during the step read")
        assert follower.seen.index(trigger.id) < follower.seen.index(during.id)


async def test_a_follower_whose_listening_connection_is_killed_reconnects_and_reads_on(store):
    dsn, app, blocking = store
    follower = Recorder(service="test", app=app, dsn=dsn, blocking=blocking, idle_interval_s=AN_HOUR)
    async with running(follower):
        await started(follower, app, blocking)
        admin = await asyncpg.connect(dsn)
        try:
            # The follower's lock connection is the one holding its advisory lock in this test's database.
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_locks"
                " WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database"
                " WHERE datname = current_database())"
            )
        finally:
            await admin.close()
        assert killed == 1
        await eventually(lambda: is_active(follower), what="the follower active again")
        after = Thing("after the kill")
        await blocking.run(app.save, after)
        await eventually(read(follower, after), what="the event stored after the kill read")
