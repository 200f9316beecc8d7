"""The service's followers share the decoding of its log: each stored event is decoded once per process, and every
follower still gets exactly what :meth:`ServiceApplication.notifications` gives."""

from __future__ import annotations

from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from kc_runtime.eventstore import ServiceApplication, WorkerPool
from kc_runtime.follower import DecodedLog, LogFollower

MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


class Item(Aggregate):
    def __init__(self, company_id: UUID, name: str) -> None:
        self.company_id = company_id
        self.name = name

    @event("Renamed")
    def rename(self, name: str) -> None:
        self.name = name


class Items(ServiceApplication):
    pass


def stored(app: Items, count: int) -> None:
    for i in range(count):
        item = Item(uuid4(), f"item {i}")
        item.rename(f"item {i} renamed")
        app.save(item)


def as_compared(batch: list) -> list:
    return [(n.id, n.originator_id, n.originator_version, type(e).__name__, vars(e), meta) for n, e, meta in batch]


def test_two_followers_reading_the_same_range_decode_each_event_once_and_see_what_the_log_holds():
    app = Items(env=MEMORY)
    stored(app, 5)  # 10 events
    relay = DecodedLog.of(app)
    projector = DecodedLog.of(app)
    assert relay is projector

    first = relay.read(0, 100)
    again = projector.read(0, 100)

    assert relay.decoded == 10
    assert as_compared(first) == as_compared(again) == as_compared(app.notifications(0, 100))
    assert [e for _, e, _ in first] == [e for _, e, _ in again]


def test_a_follower_behind_the_other_decodes_only_what_the_other_has_not_read_and_windows_work():
    app = Items(env=MEMORY)
    log = DecodedLog(app)
    stored(app, 3)  # ids 1..6
    assert [n.id for n, _, _ in log.read(0, 4)] == [1, 2, 3, 4]
    stored(app, 2)  # ids 7..10
    window = log.read(2, 100)
    assert [n.id for n, _, _ in window] == list(range(3, 11))
    assert log.decoded == 10
    assert as_compared(window) == as_compared(app.notifications(2, 100))


def test_only_the_most_recent_events_are_kept_and_an_evicted_one_is_decoded_again():
    app = Items(env=MEMORY)
    log = DecodedLog(app, capacity=4)
    stored(app, 4)  # ids 1..8
    log.read(0, 100)
    assert log.decoded == 8
    log.read(4, 100)  # 5..8 still kept
    assert log.decoded == 8
    log.read(0, 2)  # 1, 2 were evicted
    assert log.decoded == 10


def test_every_follower_of_an_application_uses_its_shared_decoded_log():
    app, other = Items(env=MEMORY), Items(env=MEMORY)
    blocking = WorkerPool(1)
    try:
        a = LogFollower(service="s", app=app, dsn="postgresql://unused", blocking=blocking, name="a")
        b = LogFollower(service="s", app=app, dsn="postgresql://unused", blocking=blocking, name="b")
        c = LogFollower(service="s", app=other, dsn="postgresql://unused", blocking=blocking, name="c")
    finally:
        blocking.shutdown()
    assert a.decoded_log is b.decoded_log is DecodedLog.of(app)
    assert c.decoded_log is not a.decoded_log
