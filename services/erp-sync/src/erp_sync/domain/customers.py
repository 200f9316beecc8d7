"""What erp-sync knows of the ERP's customers: which company each registered one is, its master data, whether
the ERP allows it the customer center, the ERP's own contact persons; and the invoices the ERP issued."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

_NS = uuid5(NAMESPACE_URL, "urn:kundencenter:erp-sync")


class Customer(Aggregate):
    """One ERP customer, by customer number (the key of everything the ERP sends). Known from its registration
    (``company_id``) or from the ERP's master data, whichever comes first."""

    @staticmethod
    def create_id(customer_number: str) -> UUID:
        return uuid5(_NS, f"customer/{customer_number}")

    class Known(Aggregate.Created):
        customer_number: str
        company_id: UUID | None
        customer_center_allowed: bool
        master_data: dict[str, Any] | None
        at: datetime

    @event(Known)
    def __init__(
        self,
        customer_number: str,
        company_id: UUID | None,
        customer_center_allowed: bool,
        master_data: dict[str, Any] | None,
        at: datetime,
    ) -> None:
        self.customer_number = customer_number
        self.company_id = company_id
        self.customer_center_allowed = customer_center_allowed
        self.master_data = master_data
        self.changed_at: datetime | None = None
        self.erp_contacts: dict[str, dict[str, Any]] = {}
        self.known_at = at
        self.credit: dict[str, Any] | None = None
        """the ERP's credit figures (ADR 0026), None: never sent"""
        self.credit_as_of: datetime | None = None

    def link(self, company_id: UUID, at: datetime) -> None:
        """The customer registered: it is this company now. A revocation the ERP sent before takes effect, and
        what the ERP sent before (its master data, its contact persons) is handed on, an event each (every event
        becomes at most one message on a topic: consumers track messages by the event's position)."""
        if self.company_id == company_id:
            return
        self._linked(
            customer_number=self.customer_number,
            company_id=company_id,
            customer_center_allowed=self.customer_center_allowed,
            at=at,
        )
        if self.changed_at is not None and self.master_data is not None:
            self._master_data_handed_on(
                customer_number=self.customer_number,
                company_id=company_id,
                master_data=self.master_data,
                customer_center_allowed=self.customer_center_allowed,
                changed_at=self.changed_at,
            )
        for contact in list(self.erp_contacts.values()):
            if contact.get("erased"):
                continue  # ADR 0035: an erased person is handed on to no one
            self._erp_contact_handed_on(customer_number=self.customer_number, company_id=company_id, contact=contact)
        if self.credit is not None and self.credit_as_of is not None:
            self._credit_handed_on(customer_number=self.customer_number, company_id=company_id, credit=self.credit,
                                   as_of=self.credit_as_of)  # fmt: skip

    class Linked(Aggregate.Event):
        customer_number: str
        company_id: UUID
        customer_center_allowed: bool
        at: datetime
        erp_master_data: dict[str, Any] | None = None
        # in a few events of a development version master_data_changed_at: datetime | None = None
        erp_contacts: list[dict[str, Any]] | None = None

    @event(Linked)
    def _linked(
        self,
        customer_number: str,
        company_id: UUID,
        customer_center_allowed: bool,
        at: datetime,
        erp_master_data: dict[str, Any] | None = None,  # in a few events of a development version
        master_data_changed_at: datetime | None = None,
        erp_contacts: list[dict[str, Any]] | None = None,
    ) -> None:
        self.company_id = company_id

    class MasterDataHandedOn(Aggregate.Event):
        customer_number: str
        company_id: UUID
        master_data: dict[str, Any]
        customer_center_allowed: bool
        changed_at: datetime

    @event(MasterDataHandedOn)
    def _master_data_handed_on(
        self,
        customer_number: str,
        company_id: UUID,
        master_data: dict[str, Any],
        customer_center_allowed: bool,
        changed_at: datetime,
    ) -> None:
        pass

    class ErpContactHandedOn(Aggregate.Event):
        customer_number: str
        company_id: UUID
        contact: dict[str, Any]

    @event(ErpContactHandedOn)
    def _erp_contact_handed_on(self, customer_number: str, company_id: UUID, contact: dict[str, Any]) -> None:
        pass

    def change_master_data(
        self, master_data: dict[str, Any], customer_center_allowed: bool, changed_at: datetime
    ) -> None:
        """The ERP's master data, whole. A change older than the last one applied changes nothing. The
        customer-center flag and the rest are separate events (each its own message for the other services)."""
        if self.changed_at is not None and changed_at < self.changed_at:
            return
        if customer_center_allowed != self.customer_center_allowed:
            self._access_changed(
                customer_number=self.customer_number,
                company_id=self.company_id,
                customer_center_allowed=customer_center_allowed,
                changed_at=changed_at,
            )
        if master_data != self.master_data:
            self._master_data_changed(
                customer_number=self.customer_number,
                company_id=self.company_id,
                master_data=master_data,
                customer_center_allowed=customer_center_allowed,
                access_changed=False,
                changed_at=changed_at,
            )

    class AccessChanged(Aggregate.Event):
        customer_number: str
        company_id: UUID | None
        customer_center_allowed: bool
        changed_at: datetime

    @event(AccessChanged)
    def _access_changed(
        self, customer_number: str, company_id: UUID | None, customer_center_allowed: bool, changed_at: datetime
    ) -> None:
        self.customer_center_allowed = customer_center_allowed
        self.changed_at = changed_at

    class MasterDataChanged(Aggregate.Event):
        customer_number: str
        company_id: UUID | None
        master_data: dict[str, Any]
        customer_center_allowed: bool
        access_changed: bool
        changed_at: datetime

    @event(MasterDataChanged)
    def _master_data_changed(
        self,
        customer_number: str,
        company_id: UUID | None,
        master_data: dict[str, Any],
        customer_center_allowed: bool,
        access_changed: bool,
        changed_at: datetime,
    ) -> None:
        """``access_changed``: true only in events of the first version, which changed the flag, too."""
        self.master_data = master_data
        self.customer_center_allowed = customer_center_allowed
        self.changed_at = changed_at

    def record_erp_contact(self, contact: dict[str, Any], changed_at: datetime | None = None) -> None:
        """A contact person as the ERP keeps it (``contact_id``, names, e-mail, phone, ``active``, and
        ``user_id`` when it is a shop user), whole. A change older than the contact's last one changes nothing;
        the same state again changes nothing."""
        contact_id = contact["contact_id"]
        before = self.erp_contacts.get(contact_id)
        recorded = {**contact, "changed_at": changed_at.isoformat() if changed_at else None}
        if before is not None:
            last = before.get("changed_at")
            if changed_at is not None and last is not None and changed_at < datetime.fromisoformat(last):
                return
            if {k: v for k, v in before.items() if k != "changed_at"} == contact:
                return
        if before is None:
            change = "added"
        elif before.get("active", True) and not contact.get("active", True):
            change = "deactivated"
        else:
            change = "changed"
        self._erp_contact_recorded(
            contact=recorded, company_id=self.company_id, customer_number=self.customer_number, change=change
        )

    class ErpContactRecorded(Aggregate.Event):
        contact: dict[str, Any]
        company_id: UUID | None = None
        customer_number: str | None = None
        change: str | None = None

    @event(ErpContactRecorded)
    def _erp_contact_recorded(
        self,
        contact: dict[str, Any],
        company_id: UUID | None = None,
        customer_number: str | None = None,
        change: str | None = None,
    ) -> None:
        self.erp_contacts[contact["contact_id"]] = contact

    def forget_contacts_of(self, user_id: UUID, at: datetime) -> None:
        """users erased the person (ADR 0035): the ERP's contact persons that are this user keep their ids only —
        no names, e-mail or phone — and are inactive. Nothing else is told (users erased them already)."""
        for contact_id, contact in list(self.erp_contacts.items()):
            if contact.get("user_id") == str(user_id) and not contact.get("erased"):
                self._erp_contact_erased(contact_id=contact_id, user_id=user_id, at=at)

    class ErpContactErased(Aggregate.Event):
        """Names no personal value."""

        contact_id: str
        user_id: UUID
        at: datetime

    @event(ErpContactErased)
    def _erp_contact_erased(self, contact_id: str, user_id: UUID, at: datetime) -> None:
        self.erp_contacts[contact_id] = {
            "contact_id": contact_id, "user_id": str(user_id), "active": False, "erased": True,
            "changed_at": at.isoformat(),
        }  # fmt: skip

    # ---- credit (ADR 0026) -------------------------------------------------------------------------------

    def change_credit(self, credit: dict[str, Any], as_of: datetime) -> None:
        """The ERP's credit figures, whole (``currency``, ``credit_limit``, ``open_receivables``, ``open_orders`` as
        decimal strings, ``credit_blocked``). Figures taken before the last ones applied change nothing; the same
        figures again change nothing."""
        if self.credit_as_of is not None and as_of <= self.credit_as_of:
            return
        if self.credit == credit:
            return
        self._credit_changed(customer_number=self.customer_number, company_id=self.company_id, credit=credit,
                             as_of=as_of)  # fmt: skip

    class CreditChanged(Aggregate.Event):
        customer_number: str
        company_id: UUID | None
        credit: dict[str, Any]
        as_of: datetime

    @event(CreditChanged)
    def _credit_changed(self, customer_number: str, company_id: UUID | None, credit: dict[str, Any],
                        as_of: datetime) -> None:  # fmt: skip
        self.credit = credit
        self.credit_as_of = as_of

    class CreditHandedOn(Aggregate.Event):
        """The credit the ERP sent before the customer registered, for the company now."""

        customer_number: str
        company_id: UUID
        credit: dict[str, Any]
        as_of: datetime

    @event(CreditHandedOn)
    def _credit_handed_on(self, customer_number: str, company_id: UUID, credit: dict[str, Any],
                          as_of: datetime) -> None:  # fmt: skip
        pass


class Invoice(Aggregate):
    """An invoice the ERP issued. One per customer and invoice number (a repeated message is the same invoice)."""

    @staticmethod
    def create_id(customer_number: str, invoice_number: str) -> UUID:
        return uuid5(_NS, f"invoice/{customer_number}/{invoice_number.strip().upper()}")

    class Issued(Aggregate.Created):
        customer_number: str
        invoice_number: str
        invoice_date: str
        total: dict[str, str] | None
        issued_at: datetime

    @event(Issued)
    def __init__(
        self,
        customer_number: str,
        invoice_number: str,
        invoice_date: str,
        total: dict[str, str] | None,
        issued_at: datetime,
    ) -> None:
        self.customer_number = customer_number
        self.invoice_number = invoice_number
        self.invoice_date = invoice_date
        self.total = total
        self.issued_at = issued_at
