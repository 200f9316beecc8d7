"""A batch subscriber handles each fetch when it arrives: an empty poll is not followed by a sleep."""

from __future__ import annotations

import faststream.kafka.subscriber.usecase as usecase
from faststream.kafka import KafkaBroker

from kc_runtime.kafka import eager_batches


class Consumer:
    def __init__(self, *answers: dict) -> None:
        self.answers = list(answers)
        self.polls: list[tuple[int, int | None]] = []

    async def getmany(self, timeout_ms: int, max_records: int | None = None) -> dict:
        self.polls.append((timeout_ms, max_records))
        return self.answers.pop(0)


async def test_an_empty_poll_returns_at_once_and_the_next_poll_brings_the_records(monkeypatch):
    async def no_sleep(seconds: float) -> None:
        raise AssertionError(f"slept {seconds} s after an empty poll")

    monkeypatch.setattr(usecase.anyio, "sleep", no_sleep)
    subscriber = eager_batches(
        KafkaBroker("localhost:1").subscriber("t", batch=True, max_records=7, batch_timeout_ms=900)
    )
    consumer = Consumer({}, {"tp0": ["r1", "r2"], "tp1": ["r3"]})
    assert await subscriber.get_msg(consumer) == ()
    assert await subscriber.get_msg(consumer) == ("r1", "r2", "r3")
    assert consumer.polls == [(900, 7), (900, 7)]
