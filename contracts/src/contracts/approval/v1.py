"""``approval.orders.v1``: the life of an order (approval case). Key: order id."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import Field

from contracts.base import Message, Money
from contracts.common import Address, LongText, OrderLine, ShortText


class OrderReleased(Message):
    """An order is released to the ERP: within the buyer's budget, or approved.

    Carries everything the ERP needs to create the sales order. Published once per order.
    """

    event_type = "OrderReleased"

    order_id: UUID
    company_id: UUID
    buyer_id: UUID
    lines: list[OrderLine] = Field(min_length=1)
    total: Money
    total_quantity: int
    delivery_address: Address
    billing_address: Address
    payment_method: ShortText
    shipping_method: ShortText
    buyer_comment: LongText | None = None
    reference: ShortText | None = Field(default=None, description="The customer's order reference or cost centre")
    approved_by: UUID | None = Field(default=None, description="Null when released within budget")
    released_at: datetime
