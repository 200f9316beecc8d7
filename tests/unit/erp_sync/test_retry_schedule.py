"""erp-sync's retry schedules look at the log when something can be due, not twice a second: after a look they
sleep until the earliest pending item is due, at most the policy's first wait (nothing written after the look can
fall due sooner) and at least the schedule's interval."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from pydantic import SecretStr

from erp_sync.adapters.inbound import retry_schedule
from erp_sync.adapters.inbound.retry_schedule import RetrySchedule

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


class WorkerPool:
    async def run(self, fn: Any, *args: Any) -> Any:
        return fn(*args)


def schedule(ticks: list[tuple[int, datetime | None]], leading: list[bool], interval_s: float, horizon_s: float):
    settings = SimpleNamespace(service_name="erp-sync", database_url=SecretStr("memory://"))
    runtime: Any = SimpleNamespace(settings=settings, app=SimpleNamespace(name="Exchanges"), blocking=WorkerPool())
    answers = iter(ticks)
    return RetrySchedule(
        runtime, "delivery-retries", lambda: next(answers), interval_s, lambda: leading[0],
        horizon_s=horizon_s, clock=lambda: NOW,
    )  # fmt: skip


def test_with_nothing_pending_it_looks_again_after_the_policys_first_wait():
    assert schedule([], [True], interval_s=1.0, horizon_s=300.0).pause_s(None) == 300.0


def test_it_looks_again_when_the_earliest_item_is_due():
    assert schedule([], [True], interval_s=1.0, horizon_s=300.0).pause_s(NOW + timedelta(seconds=42)) == 42.0


def test_an_item_due_later_than_the_first_wait_does_not_delay_the_next_look():
    assert schedule([], [True], interval_s=1.0, horizon_s=5.0).pause_s(NOW + timedelta(seconds=60)) == 5.0


def test_an_overdue_item_is_looked_at_once_per_interval_not_in_a_loop():
    assert schedule([], [True], interval_s=1.0, horizon_s=300.0).pause_s(NOW - timedelta(seconds=10)) == 1.0


def test_a_first_wait_shorter_than_the_interval_keeps_the_interval():
    assert schedule([], [True], interval_s=1.0, horizon_s=0.2).pause_s(None) == 1.0


async def test_the_loop_sleeps_what_each_look_found_and_a_standby_replica_only_checks_leadership(monkeypatch):
    stopping = asyncio.Event()
    pauses: list[float] = []
    leading = [True]

    async def recorded_wait(_: asyncio.Event, seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 2:
            leading[0] = False  # the relay moved to another replica
        if len(pauses) == 3:
            stopping.set()

    monkeypatch.setattr(retry_schedule, "wait_or_stop", recorded_wait)
    looks = [(0, None), (2, NOW + timedelta(seconds=7))]
    s = schedule(looks, leading, interval_s=0.5, horizon_s=30.0)

    await s.run(stopping)

    assert pauses == [30.0, 7.0, 0.5]
    assert s.looks == 2
