"""How the simulated ERP answers a customer verification (pure: a customer row in, the answer out)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from contracts.common import Address
from contracts.erp.v1 import (
    CustomerVerificationAnswered,
    CustomerVerificationRequested,
    ErpContactPerson,
    ErpCustomer,
)


def _normalise(invoice_number: str) -> str:
    return invoice_number.strip().upper()


def answer(
    request: CustomerVerificationRequested, customer: dict[str, Any] | None, now: datetime
) -> CustomerVerificationAnswered:
    """Checked in the order the contract names: the customer, its invoice, its permission."""
    common: dict[str, Any] = {
        "idempotency_key": request.idempotency_key,
        "verification_id": request.verification_id,
        "customer_number": request.customer_number,
        "answered_at": now,
    }
    if customer is None:
        return CustomerVerificationAnswered(outcome="unknown_customer", **common)
    invoices = {_normalise(i) for i in customer.get("invoices") or []}
    if _normalise(request.invoice_number) not in invoices:
        return CustomerVerificationAnswered(outcome="invoice_mismatch", **common)
    if not customer.get("customer_center_allowed"):
        return CustomerVerificationAnswered(outcome="not_allowed", **common)
    billing = customer.get("billing_address")
    return CustomerVerificationAnswered(
        outcome="verified",
        customer=ErpCustomer(
            customer_number=customer["customer_number"],
            name=customer["name"],
            billing_address=Address.model_validate(billing) if billing else None,
            delivery_addresses=[Address.model_validate(a) for a in customer.get("delivery_addresses") or []],
            vat_id=customer.get("vat_id"),
            currency=customer.get("currency") or "EUR",
        ),
        contacts=[ErpContactPerson.model_validate(c) for c in customer.get("contacts") or []],
        **common,
    )
