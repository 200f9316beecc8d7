"""Builders of test orders (domain objects and API bodies)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from approval.domain.model import Address, OrderContent, OrderLine
from approval.domain.pricing import OrderRequest

ADDRESS = Address(name="Muster GmbH", street="Hauptstr. 1", postal_code="10115", city="Berlin", country="DE")


def order_content(quantity: int = 2, unit_price: str = "9.90", sku: str = "A-100") -> OrderContent:
    return OrderContent(
        lines=(OrderLine(sku=sku, description="Schraube M8", quantity=quantity, unit_price=Decimal(unit_price)),),
        currency="EUR",
        delivery_address=ADDRESS,
        billing_address=ADDRESS,
        payment_method="invoice",
        shipping_method="standard",
        buyer_comment="Bitte Rampe 3",
        reference="PO-4711",
    )


def order_request(quantity: int = 2, unit_price: str | None = "9.90", sku: str = "A-100") -> OrderRequest:
    """What a shop asks for (``unit_price``: the price it showed; None: none shown)."""
    request = OrderRequest.of(order_content(quantity, unit_price or "0", sku))
    if unit_price is None:
        return OrderRequest(**{**vars(request), "lines": tuple(
            type(ln)(ln.sku, ln.quantity) for ln in request.lines)})  # fmt: skip
    return request


def order_body(quantity: int = 2, unit_price: str | None = None, sku: str = "A-100") -> dict[str, Any]:
    """The body of ``POST /api/orders``: articles and quantities; ``unit_price``: the price the shop showed."""
    address = {
        "name": "Muster GmbH",
        "street": "Hauptstr. 1",
        "postal_code": "10115",
        "city": "Berlin",
        "country": "DE",
    }
    return {
        "lines": [
            {"sku": sku, "quantity": quantity}
            | ({"unit_price": unit_price, "currency": "EUR"} if unit_price is not None else {})
        ],
        "delivery_address": address,
        "billing_address": address,
        "payment_method": "invoice",
        "shipping_method": "standard",
        "buyer_comment": "Bitte Rampe 3",
        "reference": "PO-4711",
    }
