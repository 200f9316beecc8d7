"""Use cases of erp-sync around contact persons: tell the ERP about the shop users of its customers, and take
note of what the ERP answers (its contact ids)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from erp_sync.application.exchanges import ExchangeNotFound, Exchanges
from erp_sync.domain.customers import Customer
from erp_sync.domain.model import ContactExchange


class Contacts:
    def __init__(self, exchanges: Exchanges) -> None:
        self.exchanges = exchanges

    # ---- consumer handlers (return what to save with the tracking record) ------------------------------

    def user_created(
        self,
        user_id: UUID,
        company_id: UUID,
        email: str,
        first_name: str,
        last_name: str,
        language: str,
        active: bool,
        is_main_contact: bool,
        erp_contact_id: str | None,
        at: datetime,
    ) -> list[Any]:
        """A shop user exists: the ERP gets a new contact person (once per user)."""
        if self.find(user_id) is not None:
            return []
        return [
            ContactExchange(
                user_id=user_id,
                company_id=company_id,
                customer_number=self.exchanges.customer_number_of(company_id),
                email=email,
                first_name=first_name,
                last_name=last_name,
                language=language,
                active=active,
                is_main_contact=is_main_contact,
                erp_contact_id=erp_contact_id,
                at=at,
            )
        ]

    def user_changed(self, user_id: UUID, at: datetime, **changes: Any) -> list[Any]:
        """Names, e-mail address, status or main-contact role changed; a user erp-sync never saw created (its
        messages predate erp-sync's subscription) changes nothing."""
        contact = self.find(user_id)
        if contact is None:
            return []
        if contact.customer_number is None:
            changes["customer_number"] = self.exchanges.customer_number_of(contact.company_id)
        version = contact.version
        contact.change(at, **changes)
        return [contact] if contact.version != version else []

    def erp_contact_changed(
        self, user_id: UUID, in_reply_to: str | None, erp_contact_id: str, at: datetime
    ) -> list[Any]:
        """The ERP applied a contact message (or changed one of our users on its own): remember its id and
        settle the delivery it answers."""
        contact = self.find(user_id)
        if contact is None:
            return []
        version = contact.version
        contact.acknowledge(ContactExchange.sequence_of(in_reply_to, user_id), erp_contact_id, at)
        return [contact] if contact.version != version else []

    def user_erased(self, user_id: UUID, company_id: UUID, at: datetime) -> list[Any]:
        """users erased the person (ADR 0035): the exchange forgets their names and e-mail and asks the ERP to
        erase its contact person; the ERP's view of them kept with the customer is forgotten too. A person
        erp-sync never knew is remembered as erased (a tombstone), so that no later users event about them
        tells the ERP anything. Erasing twice changes nothing.

        The person's key is dropped from this process's key ring first: what is read from here on opens as
        nothing, and what is stored keeps nothing of them (users answers that they are erased)."""
        if self.exchanges.key_ring is not None:
            self.exchanges.key_ring.forget(user_id)
        contact = self.find(user_id)
        if contact is None:
            return [ContactExchange.erased_before_known(user_id, company_id, at)]
        if contact.erased:
            return []
        contact.erase(at)
        number = contact.customer_number or self.exchanges.customer_number_of(company_id)
        customer = self.exchanges.find(Customer.create_id(number), Customer) if number else None
        if customer is not None:
            version = customer.version
            customer.forget_contacts_of(user_id, at)
            if customer.version != version:
                return [contact, customer]
        return [contact]

    def erp_erased(self, user_id: UUID, in_reply_to: str, erp_contact_id: str | None, at: datetime) -> list[Any]:
        """The ERP erased its contact person as asked: settles the erasure request's delivery."""
        contact = self.find(user_id)
        if contact is None:
            return []
        version = contact.version
        contact.record_erp_erasure(ContactExchange.sequence_of(in_reply_to, user_id), erp_contact_id, at)
        return [contact] if contact.version != version else []

    def is_erased(self, user_id: UUID) -> bool:
        found = self.find(user_id)
        return found is not None and found.erased

    # ---- queries ----------------------------------------------------------------------------------------

    def find(self, user_id: UUID) -> ContactExchange | None:
        return self.exchanges.find(ContactExchange.create_id(user_id), ContactExchange)

    def contact(self, user_id: UUID) -> ContactExchange:
        found = self.find(user_id)
        if found is None:
            raise ExchangeNotFound("No exchange for this contact.")
        return found
