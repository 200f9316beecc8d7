"""Value types shared by several wire messages."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from contracts.base import CurrencyCode, Money
from contracts.limits import (
    EMAIL_MAX,
    LONG_TEXT_MAX,
    POSTAL_CODE_MAX,
    SHORT_TEXT_MAX,
    unsafe_character,
)


def _plain(value: str) -> str:
    ch = unsafe_character(value)
    if ch is not None:
        raise PydanticCustomError(
            "control_character",
            "Text may not contain control or bidirectional formatting characters (found U+{code}).",
            {"code": f"{ord(ch):04X}"},
        )
    return value


def _multiline(value: str) -> str:
    ch = unsafe_character(value, multiline=True)
    if ch is not None:
        raise PydanticCustomError(
            "control_character",
            "Text may not contain control or bidirectional formatting characters other than line breaks and tabs "
            "(found U+{code}).",
            {"code": f"{ord(ch):04X}"},
        )
    return value


PlainText = AfterValidator(_plain)
"""Validator for one-line texts: no control or bidirectional formatting characters."""
MultilineText = AfterValidator(_multiline)
"""Validator for multi-line texts: line breaks and tabs allowed, no other control or formatting characters."""

Email = Annotated[str, StringConstraints(max_length=EMAIL_MAX)]
"""An e-mail address as messages carry it (the services check its form where it enters)."""
ShortText = Annotated[str, StringConstraints(max_length=SHORT_TEXT_MAX)]
LongText = Annotated[str, StringConstraints(max_length=LONG_TEXT_MAX)]


class Address(BaseModel):
    """A postal address as the shop captured it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: ShortText
    street: ShortText
    postal_code: Annotated[str, StringConstraints(max_length=POSTAL_CODE_MAX)]
    city: ShortText
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = Field(description="ISO 3166-1 alpha-2")
    additional: ShortText | None = None


class LineOrigin(BaseModel):
    """Where a line of a bundle came from (ADR 0034): the customer's own order and its line."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    order_id: UUID = Field(description="The Kundencenter order the line belongs to")
    line_no: int = Field(ge=1, description="The line's position in that order, from 1")
    buyer_id: UUID = Field(description="Who ordered it")
    reference: ShortText | None = Field(default=None, description="That order's reference or cost centre")


class OrderLine(BaseModel):
    """One line of an order. ``line_total`` is always ``quantity × unit_price``, computed by the producer."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    sku: ShortText
    description: ShortText
    quantity: int = Field(gt=0)
    unit_price: Money
    line_total: Money
    origin: LineOrigin | None = Field(
        default=None,
        description="Only in a bundle of several orders sent as one (ADR 0034): the order and line it came from; "
        "an article may then appear on several lines, one per order",
    )


__all__ = [
    "Address",
    "CurrencyCode",
    "Decimal",
    "Email",
    "LineOrigin",
    "LongText",
    "Money",
    "MultilineText",
    "OrderLine",
    "PlainText",
    "ShortText",
]
