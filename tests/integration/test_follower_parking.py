"""Parking in every log follower (real PostgreSQL): an event a projection cannot apply stops only its own aggregate,
and an outage (the broker away) is waited out and never parks anything."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError

from contracts import Message
from contracts.topics import REGISTRATION_REGISTRATIONS
from kc_runtime.follower import Batch, LogFollower
from kc_runtime.parking import ParkedRetry
from kc_runtime.relay import OutboxRelay, Outgoing
from tests.conftest import eventually
from tests.support.followers import Thing, log_store, running

pytestmark = pytest.mark.integration


class Projector(LogFollower):
    """Applies notes; a note saying "poison" cannot be applied (a fault of that event's content)."""

    kind = "things-projector"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.applied: list[tuple[UUID, int]] = []
        self.outage = False

    async def process(self, batch: Batch) -> None:
        if self.outage:
            raise ConnectionRefusedError("read-model database away")
        for notification, e, _ in batch:
            if isinstance(e, Thing.Noted) and e.text == "poison":
                raise ValueError("cannot apply this note")
        self.applied.extend((n.originator_id, n.originator_version) for n, _, _ in batch)


async def parked_rows(dsn: str) -> list[dict]:
    conn = await asyncpg.connect(dsn)
    try:
        if await conn.fetchval("SELECT to_regclass('kc_parked_event') IS NULL"):
            return []
        return [dict(r) for r in await conn.fetch("SELECT * FROM kc_parked_event ORDER BY notification_id")]
    finally:
        await conn.close()


@pytest.fixture
async def store(database):
    async with log_store(database, "parking") as store:
        yield store


async def test_an_event_a_projection_cannot_apply_stops_only_its_aggregate_until_retried(store):
    dsn, app, blocking = store
    bad, good = Thing("bad"), Thing("good")
    bad.note("poison")
    bad.note("after the poison")
    good.note("fine")
    await blocking.run(app.save, bad, good)
    later = Thing("later")
    await blocking.run(app.save, later)
    projector = Projector(service="test", app=app, dsn=dsn, blocking=blocking, idle_interval_s=0.05)

    async with running(projector):

        async def others_applied() -> bool:
            return {(good.id, 1), (good.id, 2), (later.id, 1)} <= set(projector.applied)

        await eventually(others_applied, what="the other aggregates' events applied")
        rows = await eventually(lambda: parked_rows(dsn), what="the parked events")
        assert (bad.id, 1) in projector.applied  # the bad aggregate's events before the poison were applied
        assert [(r["aggregate_version"], r["blocked_by"] is None) for r in rows] == [(2, True), (3, False)]
        assert "ValueError: cannot apply this note" in rows[0]["reason"]
        assert all(v < 2 for a, v in projector.applied if a == bad.id)

        # A retry while the cause is still there: still parked, in order.
        await blocking.run(app.save, ParkedRetry(follower=projector.name, aggregate_id=str(bad.id)))

        async def tried_again() -> list[dict]:
            rows = await parked_rows(dsn)
            return rows if rows and rows[0]["attempts"] == 2 else []

        await eventually(tried_again, what="the retry to be tried")
        assert len(await parked_rows(dsn)) == 2


async def test_an_outage_is_waited_out_and_parks_nothing(store):
    dsn, app, blocking = store
    thing = Thing("x")
    thing.note("fine")
    projector = Projector(service="test", app=app, dsn=dsn, blocking=blocking, idle_interval_s=0.05)
    projector.outage = True
    await blocking.run(app.save, thing)
    async with running(projector):

        async def interrupted() -> bool:
            return projector.position == 0 and not projector.active

        await eventually(interrupted, what="the follower to fail on the outage")
        assert await parked_rows(dsn) == []
        projector.outage = False
        await eventually(lambda: _true(len(projector.applied) == 2), timeout=30, what="the events applied")
    assert await parked_rows(dsn) == []


class FailingBroker:
    """A broker that is away for the first ``failures`` publishes, then takes everything."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.published: list[tuple[str, bytes]] = []

    async def publish(self, body: bytes, topic: str, key: bytes, headers: dict, no_confirm: bool) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise KafkaConnectionError("broker away")
        self.published.append((topic, key))


class ThingNoted(Message):
    event_type = "ThingNoted"

    text: str


def translate(e: Any) -> list[Outgoing]:
    if isinstance(e, Thing.Noted):
        message = ThingNoted(text=e.text)
        return [Outgoing(topic=REGISTRATION_REGISTRATIONS, key=str(e.originator_id), message=message)]
    return []


async def test_the_relay_never_parks_because_the_broker_is_away(store):
    dsn, app, blocking = store
    thing = Thing("x")
    thing.note("one")
    thing.note("two")
    await blocking.run(app.save, thing)
    broker = FailingBroker(failures=3)
    relay = OutboxRelay(
        service="test", app=app, broker=broker, translate=translate, dsn=dsn, blocking=blocking, idle_interval_s=0.05
    )  # type: ignore[arg-type]
    async with running(relay):
        await eventually(lambda: _true(len(broker.published) == 2), timeout=30, what="both messages published")
    assert broker.failures == 0
    assert await parked_rows(dsn) == []


async def _true(value: bool) -> bool:
    return value
