"""Aggregates that grow with a company's orders: a period budget's ledger (an entry per order of the period) and the
company's credit (its orders not yet in the ERP's figures). Every order reads and changes them, so approval keeps
them in the process, brings them up to date with only the events stored since (``Orders._find_growing``), and hands
each use case its own copy — which this mixin makes cheap.

Their state is immutable values (frozen dataclasses, ids, amounts, times) in a few containers. A copy for a use case
copies those containers, not every value in them: a deep copy of a ledger with 500 orders took ~15 ms, this takes
microseconds. A new attribute that is mutable must be named in ``_containers`` (``tests/unit/approval/
test_growing_aggregates.py`` fails otherwise).

A process that has not cached one yet (a restart, a new replica) does not replay a year of a company's credit
either: every :data:`SNAPSHOT_EVERY` events a :class:`GrowingSnapshot` is stored, and a cold read starts from the
latest (ADR 0032)."""

from __future__ import annotations

import copy
from typing import Any, ClassVar

from eventsourcing.domain import Snapshot
from eventsourcing.utils import get_topic

SNAPSHOT_EVERY = 200
"""a snapshot each time an aggregate's version passes a multiple of this: a cold read replays at most about as many
events (~5 ms), and a busy ledger of 1,000 orders keeps 5 snapshots"""


class CopiedByContainers:
    _containers: ClassVar[tuple[str, ...]] = ()
    """the attributes holding mutable containers (of immutable values); the rest is immutable"""

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        new = copy.copy(self)
        state = new.__dict__
        for name in (*self._containers, "_pending_events"):
            state[name] = copy.copy(state[name])
        return new


class GrowingSnapshot(Snapshot):
    """The state of a :class:`CopiedByContainers` aggregate at a version. Its containers are stored as lists (a
    mapping as its pairs: JSON has no UUID keys); their values are the service's registered dataclasses."""

    @classmethod
    def take(cls, aggregate: Any) -> GrowingSnapshot:
        state = {k: v for k, v in vars(aggregate).items() if k not in ("_id", "_version", "_pending_events")}
        for name in aggregate._containers:
            value = state[name]
            state[name] = {"pairs": list(value.items())} if isinstance(value, dict) else {"items": list(value)}
        return cls(
            originator_id=aggregate.id,
            originator_version=aggregate.version,
            timestamp=cls.create_timestamp(),
            topic=get_topic(type(aggregate)),
            state=state,
        )

    def mutate(self, _: None) -> Any:
        aggregate: Any = super().mutate(None)
        state = aggregate.__dict__
        for name in aggregate._containers:
            kept = state[name]
            state[name] = {k: v for k, v in kept["pairs"]} if "pairs" in kept else list(kept["items"])
        return aggregate
