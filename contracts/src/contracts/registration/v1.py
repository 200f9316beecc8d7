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
    user_id: UUID | None = Field(
        default=None,
        description="The id users gives the main contact: minted by registration when the attempt was submitted, "
        "whose key users made then (ADR 0040), so everything the applicant gave is sealed with the key that erasing "
        "the user destroys. Absent for attempts submitted before: users mints one, and their values stay plain",
    )


class RegistrationCompleted(Message):
    """A customer verified by the ERP confirmed its e-mail: create the company and its main contact.

    ``company_id`` is chosen by registration (a uuid5 of the customer number), so a redelivered or repeated
    completion always names the same company.
    """

    event_type = "RegistrationCompleted"
    personal = (
        ("main_contact.email", "main_contact.user_id"),
        ("main_contact.first_name", "main_contact.user_id"),
        ("main_contact.last_name", "main_contact.user_id"),
    )

    registration_id: UUID
    company_id: UUID
    company: CompanyMasterData
    main_contact: MainContact
    erp_contacts: list[ErpContact] = Field(default_factory=list)
    completed_at: datetime


class VerificationRequested(Message):
    """A registration attempt asks for verification through the ERP (erp-sync asks the ERP and answers on
    ``erp-sync.verifications.v1``). Published once per attempt; ``registration_id`` is the idempotency key."""

    event_type = "VerificationRequested"

    registration_id: UUID
    customer_number: ShortText
    invoice_number: ShortText
    requested_at: datetime


class ConfirmationRequested(Message):
    """The ERP verified the attempt: send the applicant the double opt-in mail with this single-use token.

    The clear ``token`` travels only here (registration stores a SHA-256 hash of it). The mail links to the
    shop's ``confirm_path`` (relative to the shop's base URL; it carries registration id and token), whose page
    posts the token to ``POST /api/registrations/{registration_id}/confirm``. The token is worthless after
    ``expires_at`` or once used. One message per attempt (and address): notifications sends one mail for it.
    """

    event_type = "ConfirmationRequested"
    personal = (("email", "person_id"), ("first_name", "person_id"), ("last_name", "person_id"))

    registration_id: UUID
    email: EmailStr
    first_name: ShortText
    last_name: ShortText
    language: Literal["de", "en"] = "de"
    token: ShortText
    expires_at: datetime
    confirm_path: ShortText = Field(description="Shop page of the confirmation link, relative, with id and token")
    company_name: ShortText | None = Field(default=None, description="The company's name as the ERP knows it")
    person_id: UUID | None = Field(
        default=None,
        description="The applicant as a person: the id the main contact will have (``RegistrationCompleted."
        "main_contact.user_id``), whose key seals the address and names (ADR 0040). Absent for attempts submitted "
        "before: values plain",
    )
