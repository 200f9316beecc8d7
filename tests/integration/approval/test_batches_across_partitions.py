"""approval on PostgreSQL: a fetch of the ERP's word from several partitions is applied in one transaction with a
tracking record per partition (every service's recorder can: kc_runtime.eventstore.MultiTrackingRecorder)."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from approval.adapters.inbound.kafka import consumer_specs
from approval.domain.model import OrderStatus
from approval.settings import ApprovalSettings
from contracts.topics import ERP_SYNC_SALES_ORDERS
from kc_runtime.consumer import IdempotentConsumer
from kc_runtime.eventstore import WorkerPool
from tests.service.approval.test_erp_batches import (
    CountingOrders,
    FakeBatch,
    RecordingBroker,
    confirmed,
    released,
    transmitted,
)
from tests.support.messages import consumer_record

pytestmark = pytest.mark.integration


def on(partition: int, message, notification_id: int, offset: int):
    return consumer_record(
        message, topic=ERP_SYNC_SALES_ORDERS.name, key=str(message.order_id), notification_id=notification_id,
        producer="erp-sync", offset=offset, partition=partition,
    )  # fmt: skip


async def test_the_partitions_of_a_fetch_are_saved_in_one_transaction_with_a_tracking_record_each(database):
    orders = CountingOrders(
        env=ApprovalSettings(database_url=SecretStr(await database("approval"))).eventsourcing_env()
    )
    try:
        assert orders.saves_several_trackings
        many = []
        save_many = orders.save_tracked_many

        def counted(trackings, *objs):
            many.append([t.application_name for t in trackings])
            return save_many(trackings, *objs)

        orders.save_tracked_many = counted  # type: ignore[method-assign]
        consumer = IdempotentConsumer(
            service="approval", group_id="approval", app=orders, broker=RecordingBroker(),  # type: ignore[arg-type]
            blocking=WorkerPool(2), specs=consumer_specs(orders, lambda company_id: []), max_attempts=2,
            backoff_initial_s=0.01,
        )  # fmt: skip
        a, b = released(orders), released(orders)
        orders.single_reads = 0
        batch = FakeBatch((on(0, transmitted(a), 4, 0), on(1, transmitted(b), 9, 0), on(0, confirmed(a, "SO-1"), 5, 1)))
        await consumer.handle(batch)
        p0, p1 = (f"erp-sync/{ERP_SYNC_SALES_ORDERS.name}/{p}" for p in (0, 1))
        assert many == [[p0, p1]]
        assert orders.transactions == 0  # no save of one partition on its own
        assert (orders.max_tracking_id(p0), orders.max_tracking_id(p1)) == (5, 9)
        assert orders.repository.get(a.id).status is OrderStatus.CONFIRMED
        assert orders.repository.get(b.id).status is OrderStatus.TRANSMITTED
        assert orders.single_reads == 0  # the orders came from the batch's one read
        assert batch.acked == 1
    finally:
        orders.close()
