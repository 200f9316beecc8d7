"""erp-sync's retry schedules look at what is due when something can be, not twice a second: after a look they
sleep until the earliest pending item is due, at most the policy's first wait (nothing written after the look can
fall due sooner) and at least the schedule's interval. They are periodic tasks of the leading replica."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from erp_sync.adapters.inbound.retry_schedule import RetrySchedule
from kc_runtime.periodic import Periodic

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def schedule(looks: list[tuple[int, datetime | None]], leading: list[bool], interval_s: float, horizon_s: float):
    answers = iter(looks)

    async def look() -> tuple[int, datetime | None]:
        return next(answers)

    return RetrySchedule(
        "delivery-retries", look, interval_s, lambda: leading[0], horizon_s=horizon_s, clock=lambda: NOW
    )


def test_a_schedule_is_a_periodic_task():
    assert isinstance(schedule([], [True], interval_s=1.0, horizon_s=5.0), Periodic)


def test_with_nothing_pending_it_looks_again_after_the_policys_first_wait():
    assert schedule([], [True], interval_s=1.0, horizon_s=300.0).pause_after(None) == 300.0


def test_it_looks_again_when_the_earliest_item_is_due():
    assert schedule([], [True], interval_s=1.0, horizon_s=300.0).pause_after(NOW + timedelta(seconds=42)) == 42.0


def test_an_item_due_later_than_the_first_wait_does_not_delay_the_next_look():
    assert schedule([], [True], interval_s=1.0, horizon_s=5.0).pause_after(NOW + timedelta(seconds=60)) == 5.0


def test_an_overdue_item_is_looked_at_once_per_interval_not_in_a_loop():
    assert schedule([], [True], interval_s=1.0, horizon_s=300.0).pause_after(NOW - timedelta(seconds=10)) == 1.0


def test_a_first_wait_shorter_than_the_interval_keeps_the_interval():
    assert schedule([], [True], interval_s=1.0, horizon_s=0.2).pause_after(None) == 1.0


async def test_each_round_pauses_what_its_look_found():
    s = schedule([(0, None), (2, NOW + timedelta(seconds=7))], [True], interval_s=0.5, horizon_s=30.0)

    assert await s.tick() == 0
    assert s.pause_s() == 30.0
    assert await s.tick() == 2
    assert s.pause_s() == 7.0
    assert s.looks == 2


async def test_a_replica_that_does_not_lead_does_not_look_and_checks_again_after_the_interval():
    s = schedule([(1, NOW + timedelta(seconds=7))], [False], interval_s=0.5, horizon_s=30.0)

    assert await s.tick() == 0

    assert (s.looks, s.pause_s()) == (0, 0.5)


async def test_a_look_that_fails_is_tried_again_after_the_interval():
    async def failing() -> tuple[int, datetime | None]:
        raise OSError("the database is away")

    s = RetrySchedule("verification-retries", failing, 0.5, lambda: True, horizon_s=30.0)

    with pytest.raises(OSError):  # the periodic task logs it and waits out the outage
        await s.tick()

    assert (s.looks, s.pause_s()) == (0, 0.5)


async def test_the_running_schedule_sleeps_what_each_look_found_and_a_standby_replica_only_checks_leadership():
    leading = [True]
    s = schedule([(0, None), (2, NOW + timedelta(seconds=7))], leading, interval_s=0.5, horizon_s=30.0)
    pauses: list[float] = []
    third = asyncio.Event()

    async def recorded(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 2:
            leading[0] = False  # the relay moved to another replica
        if len(pauses) == 3:
            third.set()
            await asyncio.Event().wait()  # until stopped

    s.sleep = recorded
    await s.start()
    try:
        await asyncio.wait_for(third.wait(), timeout=5)
    finally:
        await s.stop()

    assert pauses == [30.0, 7.0, 0.5]
    assert s.looks == 2
