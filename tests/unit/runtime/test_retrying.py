"""The one back-off of every retry loop (kc_runtime.retrying): doubling to a cap, jittered, errors raised as they
were (never tenacity's RetryError), fatal errors at once."""

from __future__ import annotations

import pytest

from kc_runtime.retrying import backoff, retrying


class Flaky:
    def __init__(self, failures: list[BaseException]) -> None:
        self.failures = list(failures)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "done"


async def run(step: Flaky, **kwargs) -> tuple[str, list[float], list[float]]:
    waited: list[float] = []
    reported: list[float] = []

    async def sleep(seconds: float) -> None:  # records the wait instead of waiting
        waited.append(seconds)

    async for attempt in retrying(sleep=sleep, on_retry=lambda _exc, wait: reported.append(wait), **kwargs):
        with attempt:
            result = await step()
    return result, waited, reported


async def test_an_outage_is_waited_out_with_doubling_waits_up_to_the_cap_each_with_jitter():
    step = Flaky([ConnectionError()] * 7)
    result, waited, reported = await run(step, initial_s=0.5, max_s=4.0)
    assert (result, step.calls) == ("done", 8)
    assert waited == reported  # on_retry is told what is about to be waited
    floors = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0]
    assert all(floor <= w <= min(floor + 0.5, 4.0) for floor, w in zip(floors, waited, strict=True)), waited
    assert all(w == 4.0 for w in waited[3:])  # the cap holds with the jitter added


def test_the_jitter_spreads_the_waits_of_loops_that_failed_together():
    wait = backoff(0.5, 10.0)

    class State:
        attempt_number = 1

    draws = {round(wait(State()), 6) for _ in range(50)}  # type: ignore[arg-type]
    assert len(draws) > 40 and all(0.5 <= d <= 1.0 for d in draws)


async def test_only_the_named_errors_are_retried_and_others_are_raised_as_they_were():
    step = Flaky([ConnectionError(), ValueError("bad message")])
    with pytest.raises(ValueError, match="bad message"):
        await run(step, initial_s=0.1, max_s=1.0, retry_on=(ConnectionError,))
    assert step.calls == 2


async def test_a_fatal_error_is_raised_at_once():
    step = Flaky([KeyError("schema missing")])
    with pytest.raises(KeyError):
        await run(step, initial_s=0.1, max_s=1.0, fatal=(KeyError,))
    assert step.calls == 1


async def test_when_stop_ends_the_loop_the_last_error_is_raised_not_a_retry_error():
    step = Flaky([ConnectionError("first"), ConnectionError("second"), ConnectionError("third")])
    with pytest.raises(ConnectionError, match="second"):
        await run(step, initial_s=0.1, max_s=1.0, stop=lambda state: state.attempt_number >= 2)
