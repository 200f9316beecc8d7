"""ERP-facing messages, major version 1.

Every outbound message carries an ``idempotency_key``: the ERP integration must treat a second message with
the same key as the same request (messages may be delivered more than once, e.g. after a replay).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

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


class CustomerVerificationRequested(Message):
    """``erp.outbound.customer-verifications.v1``: does this customer exist, is the invoice its own, and may it
    use the customer center? Key: customer number.

    Sent again with the same ``idempotency_key`` (and a higher ``attempt``) while no answer arrives; the ERP
    answers every copy the same way, on ``erp.inbound.customer-verification-results.v1``.
    """

    event_type = "CustomerVerificationRequested"

    idempotency_key: str = Field(description="Stable per verification: every attempt is the same question")
    verification_id: UUID = Field(description="Echoed in the answer")
    customer_number: ShortText
    invoice_number: ShortText
    attempt: int = Field(default=1, ge=1)
    requested_at: datetime


class ErpContactPerson(BaseModel):
    """A contact person the ERP keeps for a customer."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    contact_id: ShortText
    email: ShortText | None = Field(default=None, description="As the ERP keeps it; not necessarily valid")
    first_name: ShortText = ""
    last_name: ShortText = ""
    phone: ShortText | None = None


class ErpCustomer(BaseModel):
    """A customer's master data as the ERP keeps it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    customer_number: ShortText
    name: ShortText
    billing_address: Address | None = None
    delivery_addresses: list[Address] = Field(default_factory=list)
    vat_id: ShortText | None = None
    currency: str = "EUR"


class CustomerVerificationAnswered(Message):
    """``erp.inbound.customer-verification-results.v1`` (written by the ERP): the answer to one verification.
    Key: customer number.

    ``outcome`` is checked in this order: ``unknown_customer``, ``invoice_mismatch``, ``not_allowed``,
    ``verified``. ``customer`` and ``contacts`` are given only when ``verified``. Like every message, it carries
    the header envelope; ``kc-source-notification-id`` must increase per partition (e.g. the middleware's outbox
    sequence), since consumers skip a message at or below the last id they applied.
    """

    event_type = "CustomerVerificationAnswered"

    idempotency_key: str
    verification_id: UUID
    customer_number: ShortText
    outcome: Literal["verified", "unknown_customer", "invoice_mismatch", "not_allowed"]
    customer: ErpCustomer | None = None
    contacts: list[ErpContactPerson] = Field(default_factory=list)
    answered_at: datetime


class CustomerCenterActivated(Message):
    """``erp.outbound.customer-center-activations.v1``: the customer completed its registration; its customer
    center is active and this is its main contact. Key: customer number. One per customer."""

    event_type = "CustomerCenterActivated"

    idempotency_key: str = Field(description="Stable per customer")
    customer_number: ShortText
    company_id: UUID
    registration_id: UUID
    main_contact_email: ShortText
    main_contact_first_name: ShortText
    main_contact_last_name: ShortText
    main_contact_language: Literal["de", "en"] = "de"
    activated_at: datetime
