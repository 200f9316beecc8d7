"""``erp-sync.verifications.v1``: what the ERP answered to a registration's verification. Key: customer number.

erp-sync asks the ERP on ``erp.outbound.customer-verifications.v1`` (retrying with backoff while the ERP is
away) and translates the ERP's answer into one of these messages, once per registration attempt.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from contracts.base import Message
from contracts.common import ShortText
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
