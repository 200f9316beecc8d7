"""Messages erp-sync publishes for the other services.

``erp-sync.verifications.v1``: what the ERP answered to a registration's verification. Key: customer number.

erp-sync asks the ERP on ``erp.outbound.customer-verifications.v1`` (retrying with backoff while the ERP is
away) and translates the ERP's answer into one of these messages, once per registration attempt.

``erp-sync.sales-orders.v1``: what became of a released order at the ERP (transmitted, then confirmed with the
ERP's order number or rejected by the ERP). Key: order id.

``erp-sync.customers.v1``: what the ERP keeps about a registered company: whether it may use the customer
center, its master data, its contact persons. Key: company id. Only companies erp-sync has linked to a customer
number (their registration) are published; what the ERP sent before the registration follows with it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contracts.base import Message, Money
from contracts.common import Address, Email, LongText, ShortText
from contracts.registration.v1 import CompanyMasterData, ErpContact

FailureReason = Literal["unknown_customer", "invoice_mismatch", "not_allowed", "erp_unavailable"]


class CustomerVerified(Message):
    """The ERP knows the customer, the invoice is the customer's, and the customer may use the customer
    center. Carries the master data and the contacts the ERP knows for it."""

    event_type = "CustomerVerified"

    registration_id: UUID
    customer_number: ShortText
    company: CompanyMasterData
    erp_contacts: list[ErpContact] = Field(default_factory=list)
    verified_at: datetime


class CustomerVerificationFailed(Message):
    """The attempt could not be verified. ``reason`` is for registration and support only; the applicant is
    never told which input was wrong.

    ``unknown_customer``: no such customer; ``invoice_mismatch``: the invoice is not the customer's (or does not
    exist); ``not_allowed``: the ERP does not allow this customer the customer center; ``erp_unavailable``:
    the ERP did not answer within erp-sync's give-up deadline.
    """

    event_type = "CustomerVerificationFailed"

    registration_id: UUID
    customer_number: ShortText
    reason: FailureReason
    failed_at: datetime


# ---- erp-sync.sales-orders.v1 (key: order id) -----------------------------------------------------------------


class SalesOrderTransmitted(Message):
    """The released order was handed to the ERP: its sales-order request is on the ERP's topic (published in the
    same acknowledged batch of erp-sync's outbox relay as this message). Once per order."""

    event_type = "SalesOrderTransmitted"

    order_id: UUID
    company_id: UUID
    customer_number: ShortText | None = None
    idempotency_key: str = Field(description="The key of the sales-order request the ERP received")
    transmitted_at: datetime


class SalesOrderConfirmedByErp(Message):
    """The ERP created the sales order; ``erp_order_number`` is its number (shown to the buyer). Once per order:
    only the ERP's first answer counts."""

    event_type = "SalesOrderConfirmedByErp"

    order_id: UUID
    company_id: UUID
    erp_order_number: ShortText
    confirmed_at: datetime


class SalesOrderRejectedByErp(Message):
    """The ERP refused the order; ``reason`` is the ERP's, for the buyer. Once per order."""

    event_type = "SalesOrderRejectedByErp"

    order_id: UUID
    company_id: UUID
    reason: LongText
    reason_code: ShortText | None = None
    rejected_at: datetime


# ---- erp-sync.customers.v1 (key: company id) ------------------------------------------------------------------


class CustomerCenterAccessChanged(Message):
    """The ERP allowed or revoked a registered company's use of the customer center. Revoked: the company's
    users may no longer order (they keep reading); allowed again: they may."""

    event_type = "CustomerCenterAccessChanged"

    company_id: UUID
    customer_number: ShortText
    allowed: bool
    changed_at: datetime


class CompanyMasterDataChanged(Message):
    """The ERP changed a registered company's master data: here it is as the ERP now keeps it, whole (including
    ``customer_center_allowed``, which also comes as ``CustomerCenterAccessChanged`` when it changed).

    Apply only a ``changed_at`` later than the last one applied: the message is repeated when the customer
    registers (what erp-sync knew before), and a consumer that saw a newer change must keep it."""

    event_type = "CompanyMasterDataChanged"

    company_id: UUID
    customer_number: ShortText
    name: ShortText
    billing_address: Address | None = None
    delivery_addresses: list[Address] = Field(default_factory=list)
    vat_id: ShortText | None = None
    currency: str = "EUR"
    customer_center_allowed: bool = True
    changed_at: datetime = Field(description="When the ERP made the change (the ERP's clock)")


class ErpContactPersonChanged(Message):
    """A contact person the ERP keeps for a registered company was added, changed or deactivated in the ERP:
    its whole state as the ERP now keeps it.

    ``user_id`` names the shop user the contact is, when the ERP says so. The shop is the master of its users:
    a contact that is a user (``user_id`` set, or taken over from the ERP by the company) is never changed
    in the user account by this message; consumers keep the ERP's state only as the ERP's view of the person. A
    contact that is no user yet is a candidate the main contact may take over, unless ``active`` is false.

    Per contact, apply only a ``changed_at`` not older than the last one applied (the message is repeated when
    the customer registers). Answers of the ERP to the Kundencenter's own contact messages are not repeated
    here: they tell nothing the users service does not know."""

    event_type = "ErpContactPersonChanged"

    company_id: UUID
    customer_number: ShortText
    contact_id: ShortText = Field(description="The ERP's id of the contact person")
    change: Literal["added", "changed", "deactivated"] = Field(
        description="added: first known; deactivated: active turned false; changed: anything else"
    )
    user_id: UUID | None = Field(default=None, description="The shop user the contact is, when the ERP knows it")
    email: Email | None = Field(default=None, description="As the ERP keeps it; not necessarily valid")
    first_name: ShortText = ""
    last_name: ShortText = ""
    phone: ShortText | None = None
    active: bool = True
    changed_at: datetime = Field(description="When the ERP made the change (the ERP's clock)")


class CompanyCreditChanged(Message):
    """The ERP's credit figures of a registered company, whole (from ``erp.inbound.customer-credit.v1``): credit
    limit, open receivables, open (not yet invoiced) sales orders, the credit block, and when the ERP took them.

    Apply only an ``as_of`` later than the last one applied (the message is repeated when the customer registers:
    what erp-sync knew before). A company with no such message has no credit check."""

    event_type = "CompanyCreditChanged"

    company_id: UUID
    customer_number: ShortText
    currency: str
    credit_limit: Decimal
    open_receivables: Decimal
    open_orders: Decimal = Decimal("0")
    credit_blocked: bool = False
    as_of: datetime = Field(description="When the ERP took the figures (the ERP's clock)")


# ---- erp-sync.prices.v1 (key: customer number) -----------------------------------------------------------------


class PriceBreakOut(BaseModel):
    """From ``min_quantity`` pieces of a line on, each piece costs ``unit_price``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    min_quantity: int = Field(gt=1)
    unit_price: Money


class ArticlePriceChanged(Message):
    """One article of one ERP customer's assortment, as the ERP now keeps it, whole: the price approval prices
    order lines with. Key: customer number.

    Published for every customer the ERP sends prices for, registered or not (``company_id`` is set once the
    customer registered). Per customer and sku, apply only a ``changed_at`` not older than the last one
    applied. ``listed`` false: the article left the customer's assortment (ordering it is ``unknown_article``);
    ``blocked`` true: it may not be ordered now (``article_blocked``). The price holds from ``valid_from``
    (inclusive) until ``valid_to`` (exclusive).
    """

    event_type = "ArticlePriceChanged"

    customer_number: ShortText
    company_id: UUID | None = None
    sku: ShortText
    description: ShortText = ""
    unit: ShortText = "piece"
    unit_price: Money
    price_breaks: list[PriceBreakOut] = Field(default_factory=list)
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    blocked: bool = False
    listed: bool = True
    changed_at: datetime = Field(description="When the ERP made the change (the ERP's clock)")
