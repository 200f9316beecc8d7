"""Domain events of the Order aggregate → contract messages on the orders topic (APPROVAL_ORDERS)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from approval.domain.model import Address, Order, OrderContent
from contracts.approval.v1 import OrderReleased
from contracts.base import Money
from contracts.common import Address as WireAddress
from contracts.common import OrderLine as WireLine
from contracts.topics import APPROVAL_ORDERS
from kc_runtime.relay import Outgoing


def _address(a: Address) -> WireAddress:
    return WireAddress(
        name=a.name, street=a.street, postal_code=a.postal_code, city=a.city, country=a.country, additional=a.additional
    )


def _lines(c: OrderContent) -> list[WireLine]:
    return [
        WireLine(
            sku=ln.sku,
            description=ln.description,
            quantity=ln.quantity,
            unit_price=Money(amount=ln.unit_price, currency=c.currency),
            line_total=Money(amount=ln.line_total, currency=c.currency),
        )
        for ln in c.lines
    ]


def translate(event: Any) -> Sequence[Outgoing]:
    if isinstance(event, Order.Released):  # type: ignore[attr-defined]  # event class made by @event
        c: OrderContent = event.content
        order_id = event.originator_id
        return [
            Outgoing(
                topic=APPROVAL_ORDERS,
                key=str(order_id),
                message=OrderReleased(
                    order_id=order_id,
                    company_id=event.company_id,
                    buyer_id=event.buyer_id,
                    lines=_lines(c),
                    total=Money(amount=c.total_value, currency=c.currency),
                    total_quantity=c.total_quantity,
                    delivery_address=_address(c.delivery_address),
                    billing_address=_address(c.billing_address),
                    payment_method=c.payment_method,
                    shipping_method=c.shipping_method,
                    buyer_comment=c.buyer_comment,
                    reference=c.reference,
                    approved_by=event.approved_by,
                    released_at=event.released_at,
                ),
            )
        ]
    return []
