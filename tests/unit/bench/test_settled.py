"""The bench measures the idle burn only once the stack's CPU rate stopped falling after the warm-up."""

from __future__ import annotations

import time

from bench.load import settled


def rates(*values: float):
    seen: list[float] = []
    it = iter(values)

    async def rate() -> float:
        value = next(it)
        seen.append(value)
        return value

    return rate, seen


async def test_it_waits_while_the_rate_still_falls_and_stops_once_it_is_flat():
    rate, seen = rates(400, 250, 120, 60, 31, 30, 32, 29, 500)
    lowest = await settled(rate, time.monotonic() + 60)
    assert seen == [400, 250, 120, 60, 31, 30, 32, 29]
    assert lowest == 29


async def test_a_spike_starts_the_calm_count_again():
    rate, seen = rates(30, 31, 200, 30, 30, 31, 999)
    await settled(rate, time.monotonic() + 60)
    assert seen == [30, 31, 200, 30, 30, 31]


async def test_it_gives_up_at_the_deadline():
    rate, seen = rates(100, 80)
    lowest = await settled(rate, time.monotonic() - 1)
    assert seen == [] and lowest == float("inf")
