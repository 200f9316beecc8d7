"""The aggregates one consumer transaction loaded and changed, not saved yet: a per-transaction identity map.

Use it when a consumer applies a batch of one partition in one transaction (a ``ConsumerSpec`` with batches) and
two messages of the batch may change one aggregate — a change and its revert, a resend and its articles, an order
transmitted and then confirmed. Without it each handler loads the aggregate from the store, does not see what the
handlers before it changed, and the save fails on the version (or loses a change). A handler that changes each
aggregate at most once per batch, or a consumer without batches, does not need it.

Every :class:`~kc_runtime.eventstore.ServiceApplication` owns one (``app.units``) and drops a unit when it saves a
tracking position of its name (done or failed). A handler asks for its unit with the partition's tracking name
and the message's position (``(inbound.tracking.application_name, inbound.envelope.source_notification_id)``),
looks there first, and puts there what it loaded and changed::

    with app.units.shared(unit) as loaded:
        price = loaded.get(price_id) or app.find(price_id)
        loaded[price_id] = price
        ...

A unit is emptied when a position comes again (the attempt before failed before saving and is repeated) and
dropped when a handler fails in it (it may have changed some aggregates before it failed). An aggregate changed
elsewhere meanwhile fails the save on its version, and the consumer retries.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

Unit = tuple[str, int]
"""One message's place in a consumer transaction: the partition's tracking name and the message's source
notification id."""


@dataclass
class _Unit:
    position: int = -1
    """The source notification id of the last message handled in it"""
    loaded: dict[UUID, Any] = field(default_factory=dict)


class Units:
    """The identity maps of the consumer transactions in progress, one per tracking name (see the module)."""

    def __init__(self) -> None:
        self._units: dict[str, _Unit] = {}
        self._lock = threading.Lock()

    def of(self, name: str, position: int) -> dict[UUID, Any]:
        """The aggregates of the transaction of ``name`` that the message at ``position`` is part of (emptied when
        ``position`` is not past the last one: the transaction it was part of was not saved)."""
        with self._lock:
            unit = self._units.setdefault(name, _Unit())
            if position <= unit.position:
                unit.loaded.clear()
            unit.position = position
            return unit.loaded

    def drop(self, names: Iterable[str]) -> None:
        """Forget the units of ``names``: their next transaction loads afresh."""
        with self._lock:
            for name in names:
                self._units.pop(name, None)

    @contextmanager
    def shared(self, unit: Unit | None) -> Iterator[dict[UUID, Any]]:
        """The aggregates shared within the transaction of ``unit`` (None: a fresh dict, shared with nobody); all
        of them forgotten when the block fails."""
        if unit is None:
            yield {}
            return
        name, position = unit
        try:
            yield self.of(name, position)
        except BaseException:
            self.drop([name])
            raise
