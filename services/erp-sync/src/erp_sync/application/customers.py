"""Use cases of erp-sync around the ERP's customers: link registered companies to customer numbers, apply the
ERP's master data (the customer-center flag above all), keep the ERP's contact persons and invoices."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from erp_sync.application.exchanges import ExchangeNotFound, Exchanges
from erp_sync.domain.customers import Customer, Invoice


class Customers:
    def __init__(self, exchanges: Exchanges) -> None:
        self.exchanges = exchanges

    # ---- consumer handlers (return what to save with the tracking record) ------------------------------

    def link(
        self, customer_number: str, company_id: UUID, master_data: dict[str, Any] | None, at: datetime
    ) -> list[Any]:
        """A registration completed: the customer is this company (the ERP verified that it may use the
        customer center, unless the ERP revoked that since)."""
        customer = self.find(customer_number)
        if customer is None:
            return [
                Customer(
                    customer_number=customer_number,
                    company_id=company_id,
                    customer_center_allowed=True,
                    master_data=master_data,
                    at=at,
                )
            ]
        version = customer.version
        customer.link(company_id, at)
        return [customer] if customer.version != version else []

    def master_data_changed(
        self, customer_number: str, master_data: dict[str, Any], customer_center_allowed: bool, changed_at: datetime
    ) -> list[Any]:
        customer = self.find(customer_number)
        if customer is None:
            # Not registered (yet): remembered, so that a revocation holds when it registers later.
            customer = Customer(
                customer_number=customer_number, company_id=None, customer_center_allowed=True, master_data=None,
                at=changed_at,
            )  # fmt: skip
        version = customer.version
        customer.change_master_data(master_data, customer_center_allowed, changed_at)
        return [customer] if customer.version != version else []

    def credit_changed(self, customer_number: str, credit: dict[str, Any], as_of: datetime) -> list[Any]:
        """The ERP's credit figures of a customer (ADR 0026): newest ``as_of`` wins. Kept for customers that have
        not registered yet too: handed on to the company with the registration's link."""
        customer = self.find(customer_number)
        if customer is None:
            customer = Customer(
                customer_number=customer_number, company_id=None, customer_center_allowed=True, master_data=None,
                at=as_of,
            )  # fmt: skip
        version = customer.version
        customer.change_credit(credit, as_of)
        return [customer] if customer.version != version else []

    def erp_contact_recorded(
        self, customer_number: str, contact: dict[str, Any], changed_at: datetime | None = None
    ) -> list[Any]:
        """A contact person as the ERP keeps it, kept with the customer. Kept for customers that have not
        registered yet too: their contacts go to the users service with the registration's link."""
        customer = self.find(customer_number)
        if customer is None:
            customer = Customer(
                customer_number=customer_number, company_id=None, customer_center_allowed=True, master_data=None,
                at=changed_at or datetime.now(UTC),
            )  # fmt: skip
        version = customer.version
        customer.record_erp_contact(contact, changed_at)
        return [customer] if customer.version != version else []

    def invoice_issued(
        self, customer_number: str, invoice_number: str, invoice_date: str, total: dict[str, str] | None, at: datetime
    ) -> list[Any]:
        if self.invoice(customer_number, invoice_number) is not None:
            return []
        return [
            Invoice(
                customer_number=customer_number,
                invoice_number=invoice_number,
                invoice_date=invoice_date,
                total=total,
                issued_at=at,
            )
        ]

    # ---- queries ----------------------------------------------------------------------------------------

    def find(self, customer_number: str) -> Customer | None:
        return self.exchanges.find(Customer.create_id(customer_number), Customer)

    def customer(self, customer_number: str) -> Customer:
        found = self.find(customer_number)
        if found is None:
            raise ExchangeNotFound("No such customer known to erp-sync.")
        return found

    def invoice(self, customer_number: str, invoice_number: str) -> Invoice | None:
        found = self.exchanges.find(Invoice.create_id(customer_number, invoice_number))
        return found if isinstance(found, Invoice) else None
