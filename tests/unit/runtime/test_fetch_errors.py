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


async def test_a_failed_offset_commit_is_left_to_the_next_one_and_the_batch_counts_as_handled() -> None:
    """ADR 0037: the effects are saved with their tracking records; a commit lost to a rebalance only means a
    redelivery that the tracking records skip — it must not cut the batch's handling short (fences wait for it)."""
    from aiokafka.errors import CommitFailedError

    from contracts.topics import USERS_USERS
    from kc_runtime.consumer import ConsumerSpec, IdempotentConsumer
    from kc_runtime.eventstore import WorkerPool
    from tests.unit.runtime.test_tracing import MEMORY, FakeBroker, Fetched, Notes

    class CommitLost(Fetched):
        async def ack(self) -> None:
            raise CommitFailedError("the group rebalanced")

    consumer = IdempotentConsumer(
        service="notes-commit", group_id="notes", app=Notes(env=MEMORY), broker=FakeBroker(), blocking=WorkerPool(1),
        specs=[ConsumerSpec(topic=USERS_USERS, handlers={})],
    )  # type: ignore[arg-type]  # fmt: skip
    from types import SimpleNamespace

    record = SimpleNamespace(topic=USERS_USERS.name, partition=0, offset=7, key=b"k", value=b"{}", headers=[])
    consumer.progressed.clear()
    await consumer.handle(CommitLost([record]))  # type: ignore[arg-type]
    assert consumer.progressed.is_set() and consumer.applied[(USERS_USERS.name, 0)] == 8
