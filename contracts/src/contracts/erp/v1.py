"""ERP-facing messages, major version 1.

Every outbound message carries an ``idempotency_key``: the ERP integration must treat a second message with
the same key as the same request (messages may be delivered more than once, e.g. after a replay).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import Field

from contracts.base import Message, Money
from contracts.common import Address, LongText, OrderLine, ShortText


class SalesOrderRequested(Message):
    """``erp.outbound.sales-orders.v1``: create this sales order. Key: order id."""

    event_type = "SalesOrderRequested"

    idempotency_key: str = Field(description="Stable per order: the same order is always the same request")
    order_id: UUID
    company_id: UUID
    customer_number: str | None = Field(default=None, description="The ERP's customer number, where known")
    buyer_id: UUID
    approved_by: UUID | None = None
    lines: list[OrderLine] = Field(min_length=1)
    total: Money
    delivery_address: Address
    billing_address: Address
    payment_method: ShortText
    shipping_method: ShortText
    buyer_comment: LongText | None = None
    reference: ShortText | None = None
    requested_at: datetime
