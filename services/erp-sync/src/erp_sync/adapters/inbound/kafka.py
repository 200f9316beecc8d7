"""Kafka handlers of erp-sync: contract messages in → use cases."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from contracts.approval.v1 import OrderReleased
from contracts.erp.v1 import SalesOrderRequested
from contracts.topics import APPROVAL_ORDERS
from erp_sync.application.exchanges import Exchanges
from kc_runtime.consumer import ConsumerSpec, Inbound


def consumer_specs(exchanges: Exchanges) -> list[ConsumerSpec]:
    def on_order_released(inbound: Inbound) -> list[Any]:
        msg = inbound.message
        assert isinstance(msg, OrderReleased)
        request = SalesOrderRequested(
            idempotency_key=f"sales-order/{msg.order_id}",
            order_id=msg.order_id,
            company_id=msg.company_id,
            buyer_id=msg.buyer_id,
            approved_by=msg.approved_by,
            lines=msg.lines,
            total=msg.total,
            delivery_address=msg.delivery_address,
            billing_address=msg.billing_address,
            payment_method=msg.payment_method,
            shipping_method=msg.shipping_method,
            buyer_comment=msg.buyer_comment,
            reference=msg.reference,
            requested_at=datetime.now(UTC),
        )
        return exchanges.request_sales_order(
            msg.order_id, msg.company_id, request.model_dump(mode="json"), request.requested_at
        )

    # Each release creates its own exchange record: safe to apply a partition's batch in one transaction.
    return [ConsumerSpec(topic=APPROVAL_ORDERS, handlers={OrderReleased: on_order_released}, batch=True)]
