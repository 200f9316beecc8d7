"""Messages erp-sync publishes for the other services.

``erp-sync.verifications.v1``: what the ERP answered to a registration's verification. Key: customer number.

erp-sync asks the ERP on ``erp.outbound.customer-verifications.v1`` (retrying with backoff while the ERP is
away) and translates the ERP's answer into one of these messages, once per registration attempt.

``erp-sync.sales-orders.v1``: what became of a released order at the ERP (transmitted, then confirmed with the
ERP's order number or rejected by the ERP). Key: order id.

``erp-sync.customers.v1``: what the ERP decided about a registered company (whether it may use the customer
center). Key: company id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from contracts.base import Message
from contracts.common import LongText, ShortText
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
