"""One back-off for every retry loop: tenacity's exponential wait with jitter (ADR 0029).

A database or broker outage stops every replica of every service at the same moment; when it ends, loops that all
wait 0.5, 1, 2, 4 … seconds come back in lock-step and hit the recovering server together. The jitter (up to the
first wait again, drawn per attempt) spreads them. Every loop that waits out an outage uses :func:`retrying`:

    async for attempt in retrying(initial_s=0.5, max_s=10.0, on_retry=lambda exc, wait: log.warning(...)):
        with attempt:
            await step()

It retries for as long as it takes (an outage is waited out, never turned into data loss) unless ``stop`` says
otherwise, only for ``retry_on`` (less ``fatal``); anything else, and the last error once ``stop`` ends the loop, is raised as
it was (never tenacity's ``RetryError``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    retry_if_not_exception_type,
    stop_never,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

OnRetry = Callable[[BaseException, float], None]
"""Called before each wait with the error that failed the attempt and the seconds about to be waited."""


def backoff(initial_s: float, max_s: float) -> wait_base:
    """``initial_s``, doubling per attempt up to ``max_s``, plus a random share of up to ``initial_s``."""
    return wait_exponential_jitter(multiplier=initial_s, max=max_s, exp_base=2, jitter=initial_s)


def backoff_s(attempt: int, initial_s: float, max_s: float) -> float:
    """The wait of :func:`backoff` before retry number ``attempt`` (1, 2, …), for a loop that cannot be an
    ``async for`` of :func:`retrying` (e.g. one of several followers backing off alone in a shared reader)."""
    state = RetryCallState(AsyncRetrying(), None, (), {})
    state.attempt_number = attempt
    return float(backoff(initial_s, max_s)(state))


def retrying(
    *,
    initial_s: float,
    max_s: float,
    retry_on: type[BaseException] | tuple[type[BaseException], ...] = Exception,
    fatal: tuple[type[BaseException], ...] = (),
    on_retry: OnRetry | None = None,
    stop: stop_base | Callable[[RetryCallState], bool] = stop_never,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> AsyncRetrying:
    """An ``async for`` retry loop with :func:`backoff` over the errors ``retry_on`` except ``fatal`` (raised at
    once); ``sleep`` may end early (e.g. when the service stops)."""

    def before_sleep(state: RetryCallState) -> None:
        if on_retry is not None and state.outcome is not None:
            error = state.outcome.exception()
            if error is not None:
                on_retry(error, state.upcoming_sleep)

    return AsyncRetrying(
        wait=backoff(initial_s, max_s),
        retry=retry_if_exception_type(retry_on) & retry_if_not_exception_type(fatal),
        stop=stop,
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
