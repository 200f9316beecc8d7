"""``registration.registrations.v1``: self-registrations through the ERP. Key: customer number.

Keyed by customer number so that every attempt of one customer keeps its order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from contracts.base import Message
from contracts.common import Address, ShortText


class ErpContact(BaseModel):
    """A contact person the ERP knows for a customer (a candidate shop user)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    erp_contact_id: ShortText
    email: EmailStr | None = None
    first_name: ShortText = ""
    last_name: ShortText = ""
    phone: ShortText | None = None


class CompanyMasterData(BaseModel):
    """The customer's master data as the ERP returned it during verification."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    customer_number: ShortText
    name: ShortText
    billing_address: Address | None = None
    delivery_addresses: list[Address] = Field(default_factory=list)
    vat_id: ShortText | None = None
    currency: str = "EUR"


class MainContact(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    email: EmailStr
    first_name: ShortText
    last_name: ShortText
    language: Literal["de", "en"] = "de"


class RegistrationCompleted(Message):
    """A customer verified by the ERP confirmed its e-mail: create the company and its main contact.

    ``company_id`` is chosen by registration (a uuid5 of the customer number), so a redelivered or repeated
    completion always names the same company.
    """

    event_type = "RegistrationCompleted"

    registration_id: UUID
    company_id: UUID
    company: CompanyMasterData
    main_contact: MainContact
    erp_contacts: list[ErpContact] = Field(default_factory=list)
    completed_at: datetime
