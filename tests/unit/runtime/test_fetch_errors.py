"""A fetch that fails with anything but a broker error must not end the consume loop: faststream's loop ends for
good on an exception it does not expect (silently, its logger is off), the consumer stops fetching and leaves its
group. The eager batch subscriber turns it into a broker error, which the loop waits out."""

from __future__ import annotations

import pytest
from aiokafka.errors import ConsumerStoppedError, KafkaError

from kc_runtime.kafka import _EagerBatchSubscriber


class Failing:
    def __init__(self, error: BaseException) -> None:
        self.error = error

    async def getmany(self, **_: object) -> dict:
        raise self.error


def subscriber() -> _EagerBatchSubscriber:
    made = object.__new__(_EagerBatchSubscriber)
    made.batch_timeout_ms, made.max_records = 100, 10  # type: ignore[misc]
    return made


async def test_an_unexpected_error_of_a_fetch_is_waited_out_like_a_broker_error() -> None:
    with pytest.raises(KafkaError):
        await subscriber().get_msg(Failing(OSError("connection reset")))  # type: ignore[arg-type]


async def test_a_stopped_consumer_still_ends_the_loop() -> None:
    with pytest.raises(ConsumerStoppedError):
        await subscriber().get_msg(Failing(ConsumerStoppedError()))  # type: ignore[arg-type]
