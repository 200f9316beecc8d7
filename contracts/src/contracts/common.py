"""Value types shared by several wire messages."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contracts.base import CurrencyCode, Money

ShortText = Annotated[str, StringConstraints(max_length=200)]
LongText = Annotated[str, StringConstraints(max_length=4000)]


class Address(BaseModel):
    """A postal address as the shop captured it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: ShortText
    street: ShortText
    postal_code: Annotated[str, StringConstraints(max_length=20)]
    city: ShortText
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = Field(description="ISO 3166-1 alpha-2")
    additional: ShortText | None = None


class OrderLine(BaseModel):
    """One line of an order. ``line_total`` is always ``quantity × unit_price``, computed by the producer."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    sku: ShortText
    description: ShortText
    quantity: int = Field(gt=0)
    unit_price: Money
    line_total: Money


__all__ = ["Address", "CurrencyCode", "Decimal", "LongText", "Money", "OrderLine", "ShortText"]
