"""Base class of every wire message."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class Message(BaseModel):
    """A message on the wire.

    ``event_type`` names the message in the ``kc-event-type`` header; ``schema_version`` is its version inside
    the topic's major version (only compatible changes: new optional fields). Consumers ignore fields they do
    not know, so an older consumer keeps working when a producer adds an optional field.
    """

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1
    personal: ClassVar[tuple[tuple[str, str], ...]] = ()
    """``(field, owner field)``: the fields holding a person's personal data and the field naming that person. On
    the wire they are sealed with the person's key (ADR 0035 decision 6: ``kc1:<person>:<nonce>:<ciphertext>``);
    consumers of the Kundencenter's runtime open them before they validate a message."""


class Money(BaseModel):
    """An amount with its ISO 4217 currency. Never a float."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    amount: Decimal = Field(description="Decimal amount, serialised as a string")
    currency: CurrencyCode
