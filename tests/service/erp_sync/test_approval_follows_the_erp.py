"""Approval's handlers of erp-sync's topics (in-memory store and wire): the order's status follows the ERP, and a
company the ERP no longer allows the customer center cannot order."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from approval.adapters.inbound.kafka import consumer_specs
from approval.application.orders import OrderingBlocked, Orders
from approval.domain.model import OrderStatus
from contracts.erp_sync import v1 as wire
from contracts.topics import ERP_SYNC_CUSTOMERS, ERP_SYNC_SALES_ORDERS
from tests.service.registration.wire import Inbox, published
from tests.support.approval import Company
from tests.support.orders import order_request

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def approval():
    orders = Orders(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    inbox = Inbox(orders, "approval", consumer_specs(orders, lambda _company: []))
    ids = iter(range(1, 10_000))

    async def deliver(topic, key, message):
        await inbox.deliver(published(topic, key, message, next(ids), "erp-sync"))

    return orders, deliver


async def test_a_released_order_is_transmitted_then_confirmed_with_the_erps_number(approval):
    orders, deliver = approval
    company = Company(orders)
    buyer = company.buyer()
    order = orders.submit(buyer, order_request())
    oid = order.id
    common = {"order_id": oid, "company_id": company.id}
    await deliver(ERP_SYNC_SALES_ORDERS, str(oid), wire.SalesOrderTransmitted(
        **common, idempotency_key=f"sales-order/{oid}", transmitted_at=T0))  # fmt: skip
    assert orders.get_order(buyer, oid).status is OrderStatus.TRANSMITTED
    await deliver(ERP_SYNC_SALES_ORDERS, str(oid), wire.SalesOrderConfirmedByErp(
        **common, erp_order_number="SO-100001", confirmed_at=T0))  # fmt: skip
    await deliver(ERP_SYNC_SALES_ORDERS, str(oid), wire.SalesOrderRejectedByErp(
        **common, reason="late", rejected_at=T0))  # fmt: skip
    confirmed = orders.get_order(buyer, oid)
    assert (confirmed.status, confirmed.erp_order_number) == (OrderStatus.CONFIRMED, "SO-100001")
    assert confirmed.erp_rejection_reason is None


async def test_a_confirmation_overtaking_the_transmission_still_confirms(approval):
    orders, deliver = approval
    company = Company(orders)
    buyer = company.buyer()
    oid = orders.submit(buyer, order_request()).id
    common = {"order_id": oid, "company_id": company.id}
    await deliver(ERP_SYNC_SALES_ORDERS, str(oid), wire.SalesOrderRejectedByErp(
        **common, reason="Article A-100 is not sold.", rejected_at=T0))  # fmt: skip
    await deliver(ERP_SYNC_SALES_ORDERS, str(oid), wire.SalesOrderTransmitted(
        **common, idempotency_key=f"sales-order/{oid}", transmitted_at=T0))  # fmt: skip
    rejected = orders.get_order(buyer, oid)
    assert (rejected.status, rejected.erp_rejection_reason) == (OrderStatus.ERP_REJECTED, "Article A-100 is not sold.")


async def test_a_company_the_erp_revokes_cannot_order_until_it_is_allowed_again(approval):
    orders, deliver = approval
    company = Company(orders)
    buyer = company.buyer()

    async def access(allowed: bool) -> None:
        await deliver(ERP_SYNC_CUSTOMERS, str(company.id), wire.CustomerCenterAccessChanged(
            company_id=company.id, customer_number="10001", allowed=allowed, changed_at=T0))  # fmt: skip

    await access(False)
    with pytest.raises(OrderingBlocked) as refused:
        orders.submit(buyer, order_request())
    assert refused.value.code == "ordering_blocked"
    await access(True)
    assert orders.submit(buyer, order_request()).status is OrderStatus.RELEASED


async def test_answers_for_orders_approval_does_not_know_change_nothing(approval):
    orders, deliver = approval
    oid = uuid4()
    await deliver(ERP_SYNC_SALES_ORDERS, str(oid), wire.SalesOrderConfirmedByErp(
        order_id=oid, company_id=uuid4(), erp_order_number="SO-1", confirmed_at=T0))  # fmt: skip
    assert orders.max_notification_id() == 0
