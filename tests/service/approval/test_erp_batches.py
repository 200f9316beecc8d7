"""erp-sync's word on released orders, applied in batches: one transaction per partition, and several messages of
one order in one batch change that order one after the other."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from aiokafka.structs import ConsumerRecord

from approval.adapters.inbound.kafka import consumer_specs
from approval.application.orders import Orders
from approval.domain.budget import Budget
from approval.domain.model import OrderLine, OrderStatus
from approval.domain.pricing import ArticlePrice, OrderRequest
from contracts.base import Money
from contracts.erp_sync import v1 as erp_sync
from contracts.topics import ERP_SYNC_PRICES, ERP_SYNC_SALES_ORDERS
from kc_runtime.consumer import IdempotentConsumer
from kc_runtime.eventstore import WorkerPool
from tests.support.approval import Company
from tests.support.messages import consumer_record
from tests.unit.approval.test_order import content

TRACKING = f"erp-sync/{ERP_SYNC_SALES_ORDERS.name}/0"


@dataclass
class FakeBatch:
    raw_message: tuple
    acked: int = 0

    async def ack(self) -> None:
        self.acked += 1


class RecordingBroker:
    def __init__(self) -> None:
        self.published: list[tuple[str, bytes]] = []

    async def publish(self, body, topic, key=None, headers=None):
        self.published.append((topic, body))


def record(message, notification_id: int, offset: int) -> ConsumerRecord:
    return consumer_record(
        message, topic=ERP_SYNC_SALES_ORDERS.name, key=str(message.order_id), notification_id=notification_id,
        producer="erp-sync", offset=offset,
    )  # fmt: skip


def transmitted(order) -> erp_sync.SalesOrderTransmitted:
    return erp_sync.SalesOrderTransmitted(
        order_id=order.id,
        company_id=order.company_id,
        idempotency_key=f"k-{order.id}",
        transmitted_at=datetime.now(UTC),
    )


def confirmed(order, number: str) -> erp_sync.SalesOrderConfirmedByErp:
    return erp_sync.SalesOrderConfirmedByErp(
        order_id=order.id, company_id=order.company_id, erp_order_number=number, confirmed_at=datetime.now(UTC)
    )


def rejected(order) -> erp_sync.SalesOrderRejectedByErp:
    return erp_sync.SalesOrderRejectedByErp(
        order_id=order.id, company_id=order.company_id, reason="gesperrt", rejected_at=datetime.now(UTC)
    )


class CountingOrders(Orders):
    """Counts the transactions with a tracking position; ``fail_next_saves`` of them fail as in an outage."""

    def __init__(self, env) -> None:
        super().__init__(env)
        self.transactions = 0
        self.fail_next_saves = 0
        self.bulk_reads: list[list] = []
        self.single_reads = 0

    def load_many(self, aggregate_ids):
        self.bulk_reads.append(list(aggregate_ids))
        return super().load_many(aggregate_ids)

    def _find(self, aggregate_id):
        self.single_reads += 1
        return super()._find(aggregate_id)

    def save_tracked(self, tracking, *objs) -> None:
        self.transactions += 1
        super().save_tracked(tracking, *objs)

    def _record(self, processing_event):
        if self.fail_next_saves and processing_event.tracking is not None:
            self.fail_next_saves -= 1
            raise ConnectionError("database away")
        return super()._record(processing_event)


@pytest.fixture
def orders() -> CountingOrders:
    return CountingOrders(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


@pytest.fixture
def consumer(orders):
    return IdempotentConsumer(
        service="approval",
        group_id="approval",
        app=orders,
        broker=RecordingBroker(),  # type: ignore[arg-type]
        blocking=WorkerPool(2),
        specs=consumer_specs(orders, lambda company_id: []),
        max_attempts=2,
        backoff_initial_s=0.01,
    )


def released(orders: Orders):
    company = Company(orders)
    buyer = company.member("buyer", ["place_orders"], Budget())
    order = orders.submit(buyer, OrderRequest.of(content(OrderLine("A-1", "Schraube", 1, Decimal("10.00")))))
    assert order.status is OrderStatus.RELEASED
    return order


async def test_transmitted_and_confirmed_in_one_batch_are_applied_in_one_transaction(orders, consumer):
    a, b = released(orders), released(orders)
    batch = FakeBatch((
        record(transmitted(a), 1, 0), record(transmitted(b), 2, 1),
        record(confirmed(a, "SO-1"), 3, 2), record(rejected(b), 4, 3),
    ))  # fmt: skip
    await consumer.handle(batch)
    first, second = orders.repository.get(a.id), orders.repository.get(b.id)
    assert (first.status, first.erp_order_number) == (OrderStatus.CONFIRMED, "SO-1")
    assert second.status is OrderStatus.ERP_REJECTED
    assert [type(e).__name__ for e in orders.events.get(a.id)][-2:] == ["Transmitted", "ConfirmedByErp"]
    assert orders.transactions == 1
    assert orders.max_tracking_id(TRACKING) == 4
    assert batch.acked == 1


async def test_a_batch_reads_its_orders_in_one_bulk_read_before_its_handlers_run(orders, consumer):
    a, b = released(orders), released(orders)
    orders.single_reads = 0
    await consumer.handle(FakeBatch((
        record(transmitted(a), 1, 0), record(transmitted(b), 2, 1), record(confirmed(a, "SO-1"), 3, 2),
    )))  # fmt: skip
    assert orders.bulk_reads == [[a.id, b.id, a.id]]
    assert orders.single_reads == 0
    assert orders.repository.get(a.id).status is OrderStatus.CONFIRMED
    assert orders.repository.get(b.id).status is OrderStatus.TRANSMITTED


async def test_a_batch_delivered_again_changes_nothing(orders, consumer):
    a = released(orders)
    records = (record(transmitted(a), 1, 0), record(confirmed(a, "SO-1"), 2, 1))
    await consumer.handle(FakeBatch(records))
    version = orders.repository.get(a.id).version
    await consumer.handle(FakeBatch(records))
    assert orders.repository.get(a.id).version == version


async def test_a_batch_repeated_after_a_failed_save_is_applied_once_from_the_stored_order(orders, consumer):
    a = released(orders)
    orders.fail_next_saves = 1
    await consumer.handle(FakeBatch((record(transmitted(a), 1, 0), record(confirmed(a, "SO-1"), 2, 1))))
    order = orders.repository.get(a.id)
    assert (order.status, order.erp_order_number) == (OrderStatus.CONFIRMED, "SO-1")
    assert [type(e).__name__ for e in orders.events.get(a.id)].count("Transmitted") == 1


def test_a_message_handled_again_without_a_save_in_between_starts_from_the_stored_order(orders):
    """A batch whose handlers ran but whose transaction never came (a later handler failed) is repeated: the
    changes of its first run must not leak into the second."""
    a = released(orders)
    unit = (TRACKING, 1)
    first_run = orders.erp_transmitted(a.id, unit)
    assert first_run and first_run[0].collect_events()  # handled, never saved
    again = orders.erp_transmitted(a.id, unit)
    assert again and again[0].status is OrderStatus.TRANSMITTED
    orders.save(*again)
    assert [type(e).__name__ for e in orders.events.get(a.id)].count("Transmitted") == 1


def price_record(customer_number: str, amount: str, notification_id: int, offset: int, at) -> ConsumerRecord:
    message = erp_sync.ArticlePriceChanged(
        customer_number=customer_number, sku="A-1", unit_price=Money(amount=Decimal(amount), currency="EUR"),
        changed_at=at,
    )  # fmt: skip
    return consumer_record(
        message, topic=ERP_SYNC_PRICES.name, key=customer_number, notification_id=notification_id,
        producer="erp-sync", offset=offset,
    )  # fmt: skip


async def test_a_price_change_and_its_revert_in_one_batch_are_both_applied_in_order(orders, consumer):
    company = Company(orders)  # A-1 at 10.00
    t = datetime.now(UTC)
    batch = FakeBatch((
        price_record(company.customer_number, "12.00", 1, 0, t + timedelta(seconds=1)),
        price_record(company.customer_number, "10.00", 2, 1, t + timedelta(seconds=2)),
        price_record(company.customer_number, "11.00", 3, 2, t + timedelta(seconds=3)),
        price_record(company.customer_number, "10.00", 4, 3, t + timedelta(seconds=4)),
    ))  # fmt: skip
    await consumer.handle(batch)
    price = orders.repository.get(ArticlePrice.create_id(company.customer_number, "A-1"))
    assert price.unit_price == Decimal("10.00")
    assert price.changed_at == t + timedelta(seconds=4)
    assert orders.transactions == 1
