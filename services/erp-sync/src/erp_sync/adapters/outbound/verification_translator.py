"""Verification and activation events → the ERP-facing contract and erp-sync's own verifications topic.

The ERP's customer data is mapped to the Kundencenter's types here (an anti-corruption layer): the ERP may keep
contacts with unusable e-mail addresses, which become contacts without one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, cast

from pydantic import TypeAdapter, ValidationError
from pydantic.networks import EmailStr

from contracts.erp.v1 import CustomerCenterActivated, CustomerVerificationRequested, ErpContactPerson, ErpCustomer
from contracts.erp_sync.v1 import CustomerVerificationFailed, CustomerVerified
from contracts.registration.v1 import CompanyMasterData, ErpContact
from contracts.topics import (
    ERP_OUTBOUND_CUSTOMER_CENTER_ACTIVATIONS,
    ERP_OUTBOUND_CUSTOMER_VERIFICATIONS,
    ERP_SYNC_VERIFICATIONS,
)
from erp_sync.domain.verification import CustomerCenterActivation, CustomerVerificationExchange
from kc_runtime.relay import Outgoing

_EMAIL: TypeAdapter[str] = TypeAdapter(EmailStr)

Exchange = CustomerVerificationExchange
Activation = CustomerCenterActivation


def _email_or_none(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return _EMAIL.validate_python(value.strip())
    except ValidationError:
        return None


def company_from_erp(customer: dict[str, Any]) -> CompanyMasterData:
    erp = ErpCustomer.model_validate(customer)
    return CompanyMasterData(
        customer_number=erp.customer_number,
        name=erp.name,
        billing_address=erp.billing_address,
        delivery_addresses=erp.delivery_addresses,
        vat_id=erp.vat_id,
        currency=erp.currency,
    )


def contact_from_erp(contact: dict[str, Any]) -> ErpContact:
    erp = ErpContactPerson.model_validate(contact)
    return ErpContact(
        erp_contact_id=erp.contact_id,
        email=_email_or_none(erp.email),
        first_name=erp.first_name,
        last_name=erp.last_name,
        phone=erp.phone,
    )


def _question(event: Any, attempt: int, at: Any) -> Outgoing:
    return Outgoing(
        topic=ERP_OUTBOUND_CUSTOMER_VERIFICATIONS,
        key=event.customer_number,
        message=CustomerVerificationRequested(
            idempotency_key=f"customer-verification/{event.registration_id}",
            verification_id=event.registration_id,
            customer_number=event.customer_number,
            invoice_number=event.invoice_number,
            attempt=attempt,
            requested_at=at,
        ),
    )


def _master_data(event: CustomerVerificationExchange.Answered) -> dict[str, Any]:
    assert event.customer is not None, "a verified answer comes with the customer's master data (see answer())"
    return event.customer


def translate_verification(event: Any) -> Sequence[Outgoing]:
    if isinstance(event, Exchange.Requested):
        return [_question(event, 1, event.requested_at)]
    if isinstance(event, Exchange.Rerequested):
        return [_question(event, event.attempt, event.at)]
    if isinstance(event, Exchange.Answered):
        message: Any
        if event.outcome == "verified":
            message = CustomerVerified(
                registration_id=event.registration_id,
                customer_number=event.customer_number,
                company=company_from_erp(_master_data(event)),
                erp_contacts=[contact_from_erp(c) for c in event.contacts],
                verified_at=event.answered_at,
            )
        else:
            message = CustomerVerificationFailed(
                registration_id=event.registration_id,
                customer_number=event.customer_number,
                reason=event.outcome,  # every outcome but verified is a reason to fail
                failed_at=event.answered_at,
            )
        return [Outgoing(topic=ERP_SYNC_VERIFICATIONS, key=event.customer_number, message=message)]
    if isinstance(event, Exchange.Abandoned):
        return [
            Outgoing(
                topic=ERP_SYNC_VERIFICATIONS,
                key=event.customer_number,
                message=CustomerVerificationFailed(
                    registration_id=event.registration_id,
                    customer_number=event.customer_number,
                    reason="erp_unavailable",
                    failed_at=event.at,
                ),
            )
        ]
    if isinstance(event, Activation.Requested):
        contact = event.main_contact
        if any(contact.get(name) is None for name in ("email", "first_name", "last_name")):
            # sealed with the main contact's key (ADR 0040), which users destroyed since (ADR 0035): a relay or a
            # replay behind the erasure tells the ERP nothing of them (the message cannot be without them)
            return []
        return [
            Outgoing(
                topic=ERP_OUTBOUND_CUSTOMER_CENTER_ACTIVATIONS,
                key=event.customer_number,
                message=CustomerCenterActivated(
                    idempotency_key=f"customer-center-activation/{event.customer_number}",
                    customer_number=event.customer_number,
                    company_id=event.company_id,
                    registration_id=event.registration_id,
                    main_contact_email=contact["email"],
                    main_contact_first_name=contact["first_name"],
                    main_contact_last_name=contact["last_name"],
                    # registration's MainContact.language, checked (de or en) when the completion arrived
                    main_contact_language=cast(Literal["de", "en"], contact.get("language", "de")),
                    activated_at=event.activated_at,
                ),
            )
        ]
    return []
