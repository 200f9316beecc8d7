"""How the simulated ERP decides and what it answers (pure: rows and requests in, messages out)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from contracts.common import Address
from contracts.erp.v1 import (
    ContactErased,
    CustomerCreditChanged,
    CustomerMasterDataChanged,
    ErpContactChanged,
    ErpCustomer,
    SalesOrderConfirmed,
    SalesOrderRejected,
    SalesOrderRequested,
)


@dataclass(frozen=True)
class Rules:
    """Which sales orders the simulated ERP rejects: a line whose SKU starts with ``reject_sku_prefix`` (an
    article it does not sell), or a total above ``reject_total_above``. Everything else is confirmed.

    ``ignore_sku_prefix`` is a fault to inject: such orders are recorded as received but neither created nor
    answered, like an ERP integration that drops messages (the Kundencenter sends them again, then gives up)."""

    reject_sku_prefix: str | None = "REJECT-"
    reject_total_above: Decimal | None = None
    ignore_sku_prefix: str | None = None

    def ignores(self, request: SalesOrderRequested) -> bool:
        prefix = self.ignore_sku_prefix
        if not prefix:
            return False
        return any(line.sku.startswith(prefix) for line in request.lines)

    def decide(self, request: SalesOrderRequested) -> tuple[str, str | None, str | None]:
        """``(status, reason, reason_code)``: ``confirmed`` or ``rejected``."""
        if self.reject_sku_prefix:
            for line in request.lines:
                if line.sku.startswith(self.reject_sku_prefix):
                    return "rejected", f"Article {line.sku} is not sold by us.", "unknown_article"
        if self.reject_total_above is not None and request.total.amount > self.reject_total_above:
            limit = f"{self.reject_total_above} {request.total.currency}"
            return "rejected", f"Orders above {limit} need a quote from your sales representative.", "credit_limit"
        return "confirmed", None, None


def sales_order_answer(order: dict[str, Any], now: datetime) -> SalesOrderConfirmed | SalesOrderRejected:
    """The answer to a sales-order request (the same for every copy): from the stored sales order."""
    common = {
        "idempotency_key": order["idempotency_key"],
        "order_id": order["order_id"],
        "customer_number": order.get("customer_number"),
    }
    if order["status"] == "rejected":
        return SalesOrderRejected(
            **common, reason=order["rejection_reason"], reason_code=order.get("reason_code"), rejected_at=now
        )
    return SalesOrderConfirmed(**common, erp_order_number=order["sales_order_number"], confirmed_at=now)


def contact_answer(contact: dict[str, Any], in_reply_to: str | None, now: datetime) -> ErpContactChanged:
    """A contact person as the ERP keeps it (the answer to a contact message, or a change made in the ERP)."""
    return ErpContactChanged(
        idempotency_key=f"erp-contact/{contact['contact_id']}/{contact['version']}",
        customer_number=contact.get("customer_number") or "",
        contact_id=contact["contact_id"],
        user_id=contact.get("user_id"),
        in_reply_to=in_reply_to,
        email=contact.get("email"),
        first_name=contact.get("first_name") or "",
        last_name=contact.get("last_name") or "",
        phone=contact.get("phone"),
        active=contact.get("active", True),
        changed_at=now,
    )


def erasure_answer(contact: dict[str, Any], in_reply_to: str, now: datetime) -> ContactErased:
    """The answer to an erasure request (the same for every copy): the contact is erased — ids only."""
    return ContactErased(
        idempotency_key=f"erp-contact-erasure/{contact['contact_id']}",
        customer_number=contact.get("customer_number") or "",
        contact_id=contact["contact_id"],
        user_id=contact["user_id"],
        in_reply_to=in_reply_to,
        erased_at=contact.get("erased_at") or now,
    )


def master_data(customer: dict[str, Any], now: datetime) -> CustomerMasterDataChanged:
    billing = customer.get("billing_address")
    return CustomerMasterDataChanged(
        idempotency_key=f"customer/{customer['customer_number']}/{customer['master_data_version']}",
        customer_number=customer["customer_number"],
        customer=ErpCustomer(
            customer_number=customer["customer_number"],
            name=customer["name"],
            billing_address=Address.model_validate(billing) if billing else None,
            delivery_addresses=[Address.model_validate(a) for a in customer.get("delivery_addresses") or []],
            vat_id=customer.get("vat_id"),
            currency=customer.get("currency") or "EUR",
        ),
        customer_center_allowed=customer["customer_center_allowed"],
        changed_at=now,
    )


def credit_message(row: dict[str, Any]) -> CustomerCreditChanged:
    """A customer's credit as the simulator keeps it (``db.customer_credit``), whole (ADR 0026)."""
    return CustomerCreditChanged(
        idempotency_key=f"credit/{row['customer_number']}/{row['version']}",
        customer_number=row["customer_number"],
        currency=row["currency"],
        credit_limit=row["credit_limit"],
        open_receivables=row["open_receivables"],
        open_orders=row["open_orders"],
        credit_blocked=row["credit_blocked"],
        as_of=row["as_of"],
    )
