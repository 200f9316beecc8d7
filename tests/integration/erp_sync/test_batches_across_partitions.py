"""erp-sync on PostgreSQL: a fetch's messages of several partitions are applied in one transaction with a tracking
record per partition; when that transaction fails, the partitions are applied on their own and nothing is lost or
applied twice."""

from __future__ import annotations

import pytest
from eventsourcing.persistence import Tracking

from contracts.topics import APPROVAL_ORDERS
from erp_sync.adapters.inbound.kafka import consumer_specs
from erp_sync.application.exchanges import Exchanges
from kc_runtime.consumer import IdempotentConsumer
from kc_runtime.eventstore import WorkerPool
from tests.integration.erp_sync.test_replay_index import indexed
from tests.service.erp_sync.test_batches import FakeBatch, RecordingBroker, record
from tests.service.erp_sync.test_order_released_handler import released

pytestmark = pytest.mark.integration

P0 = f"approval/{APPROVAL_ORDERS.name}/0"
P1 = f"approval/{APPROVAL_ORDERS.name}/1"


class CountingSaves:
    def __init__(self, exchanges: Exchanges) -> None:
        self.single = self.many = 0
        single, many = exchanges.save_tracked, exchanges.save_tracked_many

        def save_tracked(*args, **kwargs):
            self.single += 1
            return single(*args, **kwargs)

        def save_tracked_many(*args, **kwargs):
            self.many += 1
            return many(*args, **kwargs)

        exchanges.save_tracked = save_tracked  # type: ignore[method-assign]
        exchanges.save_tracked_many = save_tracked_many  # type: ignore[method-assign]


def consumer_of(exchanges: Exchanges) -> IdempotentConsumer:
    return IdempotentConsumer(
        service="erp-sync", group_id="erp-sync", app=exchanges, broker=RecordingBroker(), blocking=WorkerPool(2),
        specs=consumer_specs(exchanges), max_attempts=2, backoff_initial_s=0.01,
    )  # fmt: skip


async def test_the_partitions_of_a_fetch_are_saved_in_one_transaction_with_a_tracking_record_each(database):
    exchanges = indexed(await database("erp-sync"))
    assert exchanges.saves_several_trackings
    saves = CountingSaves(exchanges)
    a, b, c = released(), released(), released()
    batch = FakeBatch((record(a, 4, partition=0), record(b, 7, partition=1), record(c, 5, partition=0, offset=1)))
    await consumer_of(exchanges).handle(batch)
    assert (saves.many, saves.single) == (1, 0)
    assert exchanges.max_tracking_id(P0) == 5
    assert exchanges.max_tracking_id(P1) == 7
    assert all(exchanges.sales_order(m.order_id).version == 1 for m in (a, b, c))
    assert batch.acked == 1


async def test_when_one_partition_was_applied_elsewhere_the_others_are_still_applied_once(database):
    exchanges = indexed(await database("erp-sync"))
    consumer = consumer_of(exchanges)
    a, b = released(), released()
    await consumer.handle(FakeBatch((record(a, 1, partition=0), record(b, 1, partition=1))))
    # Partition 1 moved on in another member (this one's remembered position is behind the store's now).
    exchanges.save_tracked(Tracking(application_name=P1, notification_id=3))
    c, d = released(), released()
    await consumer.handle(FakeBatch((record(c, 2, partition=0), record(d, 2, partition=1))))
    assert exchanges.sales_order(c.order_id).version == 1
    assert exchanges.find_sales_order(d.order_id) is None  # position 2 of partition 1 was applied elsewhere
    assert exchanges.max_tracking_id(P0) == 2
    assert exchanges.max_tracking_id(P1) == 3


async def test_the_releases_of_a_fetch_read_their_aggregates_in_one_query(database):
    exchanges = indexed(await database("erp-sync"))
    single_reads: list = []
    get = exchanges.repository.get

    def counted_get(aggregate_id, *args, **kwargs):
        single_reads.append(aggregate_id)
        return get(aggregate_id, *args, **kwargs)

    exchanges.repository.get = counted_get  # type: ignore[method-assign]
    a, b, c = released(), released(), released()
    await consumer_of(exchanges).handle(
        FakeBatch((record(a, 1, partition=0), record(b, 1, partition=1), record(c, 2, partition=0, offset=1)))
    )
    assert single_reads == []  # exchanges, activations and contacts: all from the batch's one read
    assert all(exchanges.sales_order(m.order_id).version == 1 for m in (a, b, c))
