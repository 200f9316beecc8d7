"""``kc_runtime.eventstore.replay`` builds an aggregate from its events exactly as the library's
``project_aggregate`` does (without its per-event Protocol check), from its creation and from a later state."""

from __future__ import annotations

import copy

from eventsourcing.application import project_aggregate
from eventsourcing.domain import Aggregate, event

from kc_runtime.eventstore import ServiceApplication, replay


class Counter(Aggregate):
    class Started(Aggregate.Created):
        name: str

    @event(Started)
    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0

    class Counted(Aggregate.Event):
        by: int

    @event(Counted)
    def count_by(self, by: int) -> None:
        self.count += by


def events_of_a_counter() -> list:
    counter = Counter("c")
    for by in (1, 2, 3):
        counter.count_by(by)
    return counter.collect_events()


def test_replay_builds_the_aggregate_the_library_builds():
    events = events_of_a_counter()
    ours, theirs = replay(None, events), project_aggregate(None, events)
    assert (ours.id, ours.version, ours.name, ours.count) == (theirs.id, theirs.version, theirs.name, theirs.count)
    assert ours.count == 6 and ours.version == 4


def test_replay_goes_on_from_a_state():
    events = events_of_a_counter()
    halfway = replay(None, events[:2])
    went_on = replay(copy.deepcopy(halfway), events[2:])
    assert (halfway.count, went_on.count, went_on.version) == (1, 6, 4)


def test_load_many_replays_every_stored_aggregate():
    app = ServiceApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    counter = Counter("c")
    counter.count_by(5)
    app.save(counter)
    missing = Counter("never saved").id
    loaded = app.load_many([counter.id, missing])
    assert loaded[counter.id].count == 5 and loaded[missing] is None
