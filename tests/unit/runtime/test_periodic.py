"""kc_runtime.periodic.Periodic: a round every interval, or after the pause a round asks for; an outage (the
database's, through asyncpg or the event store) is logged once and waited out, the rounds go on."""

from __future__ import annotations

import asyncio

import structlog
from eventsourcing.persistence import OperationalError

from kc_runtime.periodic import Periodic


class Rounds(Periodic):
    name = "rounds"

    def __init__(self, outcomes: list[BaseException | float], rounds: int) -> None:
        super().__init__(interval_s=2.0)
        self.outcomes = outcomes
        self.pauses: list[float] = []
        self.done = asyncio.Event()
        self.rounds = rounds
        self._next = 2.0
        self.sleep = self.recorded

    async def tick(self) -> None:
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            self._next = self.interval_s
            raise outcome
        self._next = outcome

    def pause_s(self) -> float:
        return self._next

    async def recorded(self, seconds: float) -> None:
        self.pauses.append(seconds)
        if len(self.pauses) == self.rounds:
            self.done.set()
            await asyncio.Event().wait()  # until stopped


async def run(task: Rounds) -> None:
    await task.start()
    try:
        await asyncio.wait_for(task.done.wait(), timeout=5)
    finally:
        await task.stop()


async def test_by_default_a_round_follows_the_interval():
    class Every(Periodic):
        async def tick(self) -> None:
            return None

    assert Every(interval_s=3.0).pause_s() == 3.0


async def test_each_round_waits_the_pause_it_asked_for():
    task = Rounds([30.0, 7.0, 0.5], rounds=3)

    await run(task)

    assert task.pauses == [30.0, 7.0, 0.5]


async def test_an_event_store_outage_is_logged_once_and_the_rounds_go_on():
    task = Rounds([OperationalError("gone"), OperationalError("gone"), 7.0], rounds=3)

    with structlog.testing.capture_logs() as logs:
        await run(task)

    assert task.pauses == [2.0, 2.0, 7.0]
    assert [e["event"] for e in logs] == ["rounds failed this round", "rounds running again"]
