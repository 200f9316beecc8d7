"""Aggregates of the users service: Company, User, Role, and KeyClaim (uniqueness of e-mails and role names).

Commands are public methods that check their rules and then record an event (a private ``@event`` method);
the event methods only assign state, because they are replayed. Every event carries ``by``: who did it
(``None`` for the system, e.g. a registration). User and Role events carry ``company_id`` so that their
wire messages can be keyed by company.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from contracts import limits
from users.domain.errors import (
    CannotDeactivateMainContact,
    CannotDeactivateSelf,
    CannotEraseMainContact,
    CannotEraseSelf,
    InvalidApprover,
    InvalidBudget,
    InvalidEmail,
    InvalidName,
    InvalidRole,
    InvalidTransfer,
    KeyTaken,
    MainContactRoleReserved,
    NotFound,
    UserErased,
    UserNotDeactivated,
)
from users.domain.permissions import (
    MAIN_CONTACT,
    RESERVED_ROLE_NAMES,
    Permission,
    parse_permissions,
    sorted_permissions,
)

LANGUAGES = ("de", "en")
NAME_MAX = 100
EMAIL_MAX = limits.EMAIL_MAX

Resolve = Callable[[Sequence[str]], frozenset[Permission]]
"""Role ids → effective permissions (knows the predefined roles and the company's custom roles)."""


# ---- value objects ---------------------------------------------------------------------------------------


Period = Literal["month", "quarter", "year"]
PERIODS: tuple[Period, ...] = ("month", "quarter", "year")


def _check_currency(c: object, what: str) -> None:
    if not (isinstance(c, str) and len(c) == 3 and c.isascii() and c.isupper() and c.isalpha()):
        raise InvalidBudget(f"The {what} needs its ISO 4217 currency code, e.g. EUR.")


@dataclass(frozen=True)
class PeriodBudget:
    """What a buyer may order per calendar period (month, quarter or year): a value with its currency, and
    optionally a total quantity (``None``: unlimited). Approval keeps the ledger of what was reserved and consumed
    (ADR 0017)."""

    period: Period
    max_value: Decimal
    currency: str
    max_total_quantity: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.max_value, int | str) and not isinstance(self.max_value, bool):
            object.__setattr__(self, "max_value", Decimal(self.max_value))
        if self.period not in PERIODS:
            raise InvalidBudget("A period budget is per month, quarter or year.")
        v, q = self.max_value, self.max_total_quantity
        if not isinstance(v, Decimal) or not v.is_finite() or v < 0:
            raise InvalidBudget("The value of a period budget must be a decimal amount of at least 0.")
        _check_currency(self.currency, "value of a period budget")
        if q is not None and (isinstance(q, bool) or not isinstance(q, int) or q < 0):
            raise InvalidBudget("The total quantity of a period budget must be a whole number of at least 0.")


@dataclass(frozen=True)
class Budget:
    """Per-order limits of a buyer, and optionally a budget per period. ``None`` means unlimited; the order value
    comes with its currency."""

    max_total_quantity: int | None = None
    max_order_value: Decimal | None = None
    currency: str | None = None
    period: PeriodBudget | None = None

    def __post_init__(self) -> None:
        if self.period is not None and not isinstance(self.period, PeriodBudget):
            raise InvalidBudget("Not a period budget.")
        if isinstance(self.max_order_value, int | str) and not isinstance(self.max_order_value, bool):
            object.__setattr__(self, "max_order_value", Decimal(self.max_order_value))
        q, v, c = self.max_total_quantity, self.max_order_value, self.currency
        if q is not None and (isinstance(q, bool) or not isinstance(q, int) or q < 0):
            raise InvalidBudget("The maximum total quantity must be a whole number of at least 0.")
        if v is not None:
            if not isinstance(v, Decimal) or not v.is_finite() or v < 0:
                raise InvalidBudget("The maximum order value must be a decimal amount of at least 0.")
            if not (isinstance(c, str) and len(c) == 3 and c.isascii() and c.isupper() and c.isalpha()):
                raise InvalidBudget("The maximum order value needs its ISO 4217 currency code, e.g. EUR.")
        elif c is not None:
            raise InvalidBudget("A currency only goes with a maximum order value.")

    @property
    def unlimited(self) -> bool:
        return self.max_total_quantity is None and self.max_order_value is None and self.period is None


UNLIMITED = Budget()


@dataclass(frozen=True)
class ErpContact:
    """A contact person the ERP knows for the company: a candidate shop user while ``active`` and no user.

    ``user_id``: the shop user the ERP says the contact is; ``changed_at``: the ERP's time of the state (None:
    as the registration carried it)."""

    erp_contact_id: str
    email: str | None = None
    first_name: str = ""
    last_name: str = ""
    phone: str | None = None
    active: bool = True
    user_id: UUID | None = None
    changed_at: datetime | None = None

    @property
    def is_candidate(self) -> bool:
        return self.active and self.user_id is None

    def is_older_than(self, other: ErpContact) -> bool:
        return self.changed_at is not None and other.changed_at is not None and self.changed_at < other.changed_at


@dataclass(frozen=True)
class ApproverCandidate:
    """What the company needs to know about a user to accept them as approver (or main contact)."""

    user_id: UUID
    company_id: UUID
    active: bool
    permissions: frozenset[str]


class UserStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


ApproverRemovalReason = Literal["approver_deactivated", "approve_permission_lost"]
"""Why an approver left the company's approver list by itself: deactivated, or the approve permission lost."""


# ---- small rules -----------------------------------------------------------------------------------------


def clean_name(value: str, what: str) -> str:
    value = " ".join((value or "").split())
    if not value or len(value) > NAME_MAX:
        raise InvalidName(f"The {what} must have 1 to {NAME_MAX} characters.")
    return value


def clean_email(value: str) -> str:
    """A plausible address (the HTTP layer validates the syntax fully); kept as given, trimmed."""
    value = (value or "").strip()
    local, at, domain = value.rpartition("@")
    if not at or not local or "." not in domain or len(value) > EMAIL_MAX or any(ch.isspace() for ch in value):
        raise InvalidEmail(f"{value!r} is not an e-mail address.")
    return value


def check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise InvalidName(f"The language must be one of {', '.join(LANGUAGES)}.", code="invalid_language")
    return language


def _dedupe(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


# ---- User ------------------------------------------------------------------------------------------------


class User(Aggregate):
    """A shop user of one company."""

    erased_at: datetime | None = None
    """When the user was erased (ADR 0035); None: not erased. A class default: events stored before erasure
    existed never set it."""

    @classmethod
    def create(
        cls,
        *,
        company_id: UUID,
        email: str,
        first_name: str,
        last_name: str,
        language: str,
        role_ids: Sequence[str],
        resolve: Resolve,
        budget: Budget = UNLIMITED,
        erp_contact_id: str | None = None,
        main_contact: bool = False,
        created_at: datetime,
        by: UUID | None,
        id: UUID | None = None,
    ) -> User:
        """A new user; ``id``: the one chosen for them (a registration's main contact, ADR 0040), else a random one."""
        requested = _dedupe(role_ids)
        if MAIN_CONTACT in requested:
            raise MainContactRoleReserved("The main-contact role is only handed on by a transfer.")
        roles = (MAIN_CONTACT, *requested) if main_contact else requested
        return cls._create(
            cls.Created,
            id=id,
            company_id=company_id,
            email=clean_email(email),
            first_name=clean_name(first_name, "first name"),
            last_name=clean_name(last_name, "last name"),
            language=check_language(language),
            role_ids=roles,
            permissions=sorted_permissions(resolve(roles)),
            budget=budget,
            erp_contact_id=erp_contact_id,
            created_at=created_at,
            by=by,
        )

    class Created(Aggregate.Created):
        company_id: UUID
        email: str
        first_name: str
        last_name: str
        language: str
        role_ids: Sequence[str]
        permissions: Sequence[str]
        budget: Budget
        erp_contact_id: str | None
        created_at: datetime
        by: UUID | None

    @event(Created)
    def __init__(
        self,
        company_id: UUID,
        email: str,
        first_name: str,
        last_name: str,
        language: str,
        role_ids: Sequence[str],
        permissions: Sequence[str],
        budget: Budget,
        erp_contact_id: str | None,
        created_at: datetime,
        by: UUID | None,
    ) -> None:
        self.company_id = company_id
        self.email = email
        self.first_name = first_name
        self.last_name = last_name
        self.language = language
        self.role_ids = tuple(role_ids)
        self.permissions = tuple(permissions)
        self.budget = budget
        self.erp_contact_id = erp_contact_id
        self.created_at = created_at
        self.status = UserStatus.ACTIVE

    # -- queries

    @property
    def is_active(self) -> bool:
        return self.status is UserStatus.ACTIVE

    @property
    def is_main_contact(self) -> bool:
        return MAIN_CONTACT in self.role_ids

    def has(self, permission: Permission) -> bool:
        return permission.value in self.permissions

    def as_candidate(self) -> ApproverCandidate:
        return ApproverCandidate(self.id, self.company_id, self.is_active, frozenset(self.permissions))

    # -- commands

    def rename(self, first_name: str, last_name: str, by: UUID | None) -> None:
        self.ensure_not_erased()
        first, last = clean_name(first_name, "first name"), clean_name(last_name, "last name")
        if (first, last) != (self.first_name, self.last_name):
            self._renamed(company_id=self.company_id, first_name=first, last_name=last, by=by)

    class Renamed(Aggregate.Event):
        company_id: UUID
        first_name: str
        last_name: str
        by: UUID | None

    @event(Renamed)
    def _renamed(self, company_id: UUID, first_name: str, last_name: str, by: UUID | None) -> None:
        self.first_name = first_name
        self.last_name = last_name

    def change_email(self, email: str, by: UUID | None) -> None:
        """Uniqueness is the application's job (a KeyClaim saved together with this change)."""
        self.ensure_not_erased()
        email = clean_email(email)
        if email != self.email:
            self._email_changed(company_id=self.company_id, email=email, previous_email=self.email, by=by)

    class EmailChanged(Aggregate.Event):
        company_id: UUID
        email: str
        previous_email: str
        by: UUID | None

    @event(EmailChanged)
    def _email_changed(self, company_id: UUID, email: str, previous_email: str, by: UUID | None) -> None:
        self.email = email

    def activate(self, by: UUID | None) -> None:
        self.ensure_not_erased()
        if not self.is_active:
            self._activated(company_id=self.company_id, by=by)

    class Activated(Aggregate.Event):
        company_id: UUID
        by: UUID | None

    @event(Activated)
    def _activated(self, company_id: UUID, by: UUID | None) -> None:
        self.status = UserStatus.ACTIVE

    def deactivate(self, by: UUID | None) -> None:
        if by == self.id:
            raise CannotDeactivateSelf("Nobody can deactivate themselves.")
        if self.is_main_contact:
            raise CannotDeactivateMainContact(
                "The main contact cannot be deactivated; transfer the main-contact role to another user first."
            )
        if self.is_active:
            self._deactivated(company_id=self.company_id, by=by)

    class Deactivated(Aggregate.Event):
        company_id: UUID
        by: UUID | None

    @event(Deactivated)
    def _deactivated(self, company_id: UUID, by: UUID | None) -> None:
        self.status = UserStatus.INACTIVE

    def erase(self, at: datetime, by: UUID | None) -> None:
        """Erase the user (ADR 0035): their key is destroyed with this event, which carries no personal data.
        Never oneself, never the main contact, and only a deactivated user. Erasing an erased user changes
        nothing (no second event)."""
        if by == self.id:
            raise CannotEraseSelf("Nobody can erase themselves.")
        if self.is_main_contact:
            raise CannotEraseMainContact(
                "The main contact cannot be erased; transfer the main-contact role to another user first."
            )
        if self.is_erased:
            return
        if self.is_active:
            raise UserNotDeactivated("Deactivate the user before erasing them.")
        self._erased(company_id=self.company_id, erased_at=at, by=by)

    class Erased(Aggregate.Event):
        company_id: UUID
        erased_at: datetime
        by: UUID | None

    @event(Erased)
    def _erased(self, company_id: UUID, erased_at: datetime, by: UUID | None) -> None:
        self.erased_at = erased_at

    @property
    def is_erased(self) -> bool:
        return self.erased_at is not None

    def ensure_not_erased(self) -> None:
        if self.is_erased:
            raise UserErased("The user was erased; nothing about them changes any more.")

    def set_budget(self, budget: Budget, by: UUID | None) -> None:
        if budget != self.budget:
            self._budget_set(company_id=self.company_id, budget=budget, by=by)

    class BudgetSet(Aggregate.Event):
        company_id: UUID
        budget: Budget
        by: UUID | None

    @event(BudgetSet)
    def _budget_set(self, company_id: UUID, budget: Budget, by: UUID | None) -> None:
        self.budget = budget

    def set_roles(self, role_ids: Sequence[str], resolve: Resolve, by: UUID | None) -> None:
        """Replace the user's roles. The main-contact role stays where it is: only a transfer moves it."""
        requested = _dedupe(role_ids)
        if MAIN_CONTACT in requested:
            raise MainContactRoleReserved("The main-contact role is only handed on by a transfer.")
        self._set_roles((MAIN_CONTACT, *requested) if self.is_main_contact else requested, resolve, by)

    def become_main_contact(self, resolve: Resolve, by: UUID | None) -> None:
        if not self.is_active:
            raise InvalidTransfer("Only an active user can become the main contact.")
        if not self.is_main_contact:
            self._set_roles((MAIN_CONTACT, *self.role_ids), resolve, by)

    def hand_over_main_contact(self, remaining_role_ids: Sequence[str], resolve: Resolve, by: UUID | None) -> None:
        requested = _dedupe(r for r in remaining_role_ids)
        if MAIN_CONTACT in requested:
            raise MainContactRoleReserved("The main-contact role is only handed on by a transfer.")
        self._set_roles(requested, resolve, by)

    def _set_roles(self, role_ids: tuple[str, ...], resolve: Resolve, by: UUID | None) -> None:
        permissions = sorted_permissions(resolve(role_ids))
        if role_ids != self.role_ids or permissions != self.permissions:
            self._roles_set(company_id=self.company_id, role_ids=role_ids, permissions=permissions, by=by)

    class RolesSet(Aggregate.Event):
        company_id: UUID
        role_ids: Sequence[str]
        permissions: Sequence[str]
        by: UUID | None

    @event(RolesSet)
    def _roles_set(
        self, company_id: UUID, role_ids: Sequence[str], permissions: Sequence[str], by: UUID | None
    ) -> None:
        self.role_ids = tuple(role_ids)
        self.permissions = tuple(permissions)

    def recompute_permissions(self, resolve: Resolve, cause_role_id: str, by: UUID | None) -> None:
        """A role the user holds was redefined: record the user's new effective permissions."""
        permissions = sorted_permissions(resolve(self.role_ids))
        if permissions != self.permissions:
            self._permissions_changed(
                company_id=self.company_id, permissions=permissions, cause_role_id=cause_role_id, by=by
            )

    class PermissionsChanged(Aggregate.Event):
        company_id: UUID
        permissions: Sequence[str]
        cause_role_id: str
        by: UUID | None

    @event(PermissionsChanged)
    def _permissions_changed(
        self, company_id: UUID, permissions: Sequence[str], cause_role_id: str, by: UUID | None
    ) -> None:
        self.permissions = tuple(permissions)


# ---- Company ---------------------------------------------------------------------------------------------


class Company(Aggregate):
    """A business customer: its main contact, its approvers and the contacts its ERP knows."""

    @staticmethod
    def create_id(company_id: UUID) -> UUID:
        return company_id

    class Created(Aggregate.Created):
        company_id: UUID
        customer_number: str
        name: str
        currency: str
        main_contact_id: UUID
        erp_contacts: Sequence[ErpContact]
        registration_id: UUID | None
        registered_at: datetime

    @event(Created)
    def __init__(
        self,
        company_id: UUID,
        customer_number: str,
        name: str,
        currency: str,
        main_contact_id: UUID,
        erp_contacts: Sequence[ErpContact],
        registration_id: UUID | None,
        registered_at: datetime,
    ) -> None:
        self.customer_number = customer_number
        self.name = name
        self.currency = currency
        self.main_contact_id = main_contact_id
        self.erp_contacts = tuple(erp_contacts)
        self.registration_id = registration_id
        self.registered_at = registered_at
        self.approver_ids: tuple[UUID, ...] = ()
        self.taken_over: dict[str, UUID] = {}
        self.master_data_changed_at: datetime | None = None

    def is_approver(self, user_id: UUID) -> bool:
        return user_id in self.approver_ids

    def set_approvers(self, candidates: Sequence[ApproverCandidate], by: UUID | None) -> None:
        """Name the approvers. Each must be an active user of this company holding the approve permission."""
        ids: list[UUID] = []
        refused: list[str] = []
        for c in candidates:
            if (
                c.company_id != self.id
                or not c.active
                or Permission.APPROVE_ORDERS.value not in {str(p) for p in c.permissions}
            ):
                refused.append(str(c.user_id))
            elif c.user_id not in ids:
                ids.append(c.user_id)
        if refused:
            raise InvalidApprover(
                "Approvers must be active users of the company holding the approve-orders permission; "
                f"not: {', '.join(refused)}."
            )
        if tuple(ids) != self.approver_ids:
            self._approvers_set(approver_ids=tuple(ids), by=by)

    class ApproversSet(Aggregate.Event):
        approver_ids: Sequence[UUID]
        by: UUID | None

    @event(ApproversSet)
    def _approvers_set(self, approver_ids: Sequence[UUID], by: UUID | None) -> None:
        self.approver_ids = tuple(approver_ids)

    def remove_approver(self, user_id: UUID, reason: ApproverRemovalReason, by: UUID | None) -> None:
        if user_id in self.approver_ids:
            remaining = tuple(a for a in self.approver_ids if a != user_id)
            self._approver_removed(user_id=user_id, reason=reason, approver_ids=remaining, by=by)

    class ApproverRemoved(Aggregate.Event):
        user_id: UUID
        reason: ApproverRemovalReason
        approver_ids: Sequence[UUID]
        by: UUID | None

    @event(ApproverRemoved)
    def _approver_removed(
        self, user_id: UUID, reason: ApproverRemovalReason, approver_ids: Sequence[UUID], by: UUID | None
    ) -> None:
        self.approver_ids = tuple(approver_ids)

    def transfer_main_contact(self, to: ApproverCandidate, by: UUID | None) -> None:
        if to.user_id == self.main_contact_id:
            raise InvalidTransfer("This user is the main contact already.")
        if to.company_id != self.id or not to.active:
            raise InvalidTransfer("The main-contact role can only go to another active user of the company.")
        self._main_contact_transferred(previous_main_contact_id=self.main_contact_id, main_contact_id=to.user_id, by=by)

    class MainContactTransferred(Aggregate.Event):
        previous_main_contact_id: UUID
        main_contact_id: UUID
        by: UUID | None

    @event(MainContactTransferred)
    def _main_contact_transferred(self, previous_main_contact_id: UUID, main_contact_id: UUID, by: UUID | None) -> None:
        self.main_contact_id = main_contact_id

    def erp_contact(self, erp_contact_id: str) -> ErpContact:
        for contact in self.erp_contacts:
            if contact.erp_contact_id == erp_contact_id:
                return contact
        raise NotFound("Not found.")

    def candidate(self, erp_contact_id: str) -> ErpContact:
        """An ERP contact the company may take over: known, active in the ERP, no user yet."""
        contact = self.erp_contact(erp_contact_id)
        if not contact.is_candidate or erp_contact_id in self.taken_over:
            raise NotFound("Not found.")
        return contact

    # -- what the ERP keeps about the company (the shop stays the master of its users: see ADR 0008)

    def change_erp_master_data(self, name: str, currency: str, changed_at: datetime) -> None:
        """The ERP's master data (the company's name and currency as the ERP keeps them). A change not newer
        than the last one applied changes nothing."""
        if self.master_data_changed_at is not None and changed_at <= self.master_data_changed_at:
            return
        self._erp_master_data_changed(name=name, currency=currency, changed_at=changed_at)

    class ErpMasterDataChanged(Aggregate.Event):
        name: str
        currency: str
        changed_at: datetime

    @event(ErpMasterDataChanged)
    def _erp_master_data_changed(self, name: str, currency: str, changed_at: datetime) -> None:
        self.name = name
        self.currency = currency
        self.master_data_changed_at = changed_at

    def record_erp_contact(self, contact: ErpContact) -> None:
        """A contact person as the ERP now keeps it, whole: added to the list, or replacing what the list had.
        An older state than the one kept, or the same again, changes nothing. Users are never changed here:
        a contact that is a user (taken over, or named by the ERP) is only the ERP's view of the person."""
        kept = [c for c in self.erp_contacts if c.erp_contact_id == contact.erp_contact_id]
        if kept and (kept[0] == contact or contact.is_older_than(kept[0])):
            return
        contacts = [contact if c.erp_contact_id == contact.erp_contact_id else c for c in self.erp_contacts]
        if not kept:
            contacts.append(contact)
        self._erp_contact_recorded(contact=contact, erp_contacts=tuple(contacts))

    class ErpContactRecorded(Aggregate.Event):
        contact: ErpContact
        erp_contacts: Sequence[ErpContact]

    @event(ErpContactRecorded)
    def _erp_contact_recorded(self, contact: ErpContact, erp_contacts: Sequence[ErpContact]) -> None:
        self.erp_contacts = tuple(erp_contacts)

    def taken_over_by(self, erp_contact_id: str) -> UUID | None:
        return self.taken_over.get(erp_contact_id)

    def record_take_over(self, erp_contact_id: str, user_id: UUID, by: UUID | None) -> None:
        self.erp_contact(erp_contact_id)
        if erp_contact_id not in self.taken_over:
            self._erp_contact_taken_over(erp_contact_id=erp_contact_id, user_id=user_id, by=by)

    class ErpContactTakenOver(Aggregate.Event):
        erp_contact_id: str
        user_id: UUID
        by: UUID | None

    @event(ErpContactTakenOver)
    def _erp_contact_taken_over(self, erp_contact_id: str, user_id: UUID, by: UUID | None) -> None:
        self.taken_over[erp_contact_id] = user_id


class ErpInbox(Aggregate):
    """What the ERP sent about a company before the users service knew the company (the registration and the
    ERP's messages come on different topics, in no order between them). The company takes it over when it is
    registered; a registration always saves its inbox, so the two cannot pass each other unseen."""

    @staticmethod
    def create_id(company_id: UUID) -> UUID:
        return uuid5(_INBOXES, str(company_id))

    class Opened(Aggregate.Created):
        company_id: UUID
        delivered: bool = False

    @event(Opened)
    def __init__(self, company_id: UUID, delivered: bool = False) -> None:
        """``delivered``: opened by the registration itself (nothing was held)."""
        self.company_id = company_id
        self.master_data: tuple[str, str, datetime] | None = None
        self.contacts: dict[str, ErpContact] = {}
        self.delivered = delivered

    def hold_master_data(self, name: str, currency: str, changed_at: datetime) -> None:
        if self.master_data is None or changed_at > self.master_data[2]:
            self._master_data_held(name=name, currency=currency, changed_at=changed_at)

    class MasterDataHeld(Aggregate.Event):
        name: str
        currency: str
        changed_at: datetime

    @event(MasterDataHeld)
    def _master_data_held(self, name: str, currency: str, changed_at: datetime) -> None:
        self.master_data = (name, currency, changed_at)

    def hold_contact(self, contact: ErpContact) -> None:
        kept = self.contacts.get(contact.erp_contact_id)
        if kept is None or (kept != contact and not contact.is_older_than(kept)):
            self._contact_held(contact=contact)

    class ContactHeld(Aggregate.Event):
        contact: ErpContact

    @event(ContactHeld)
    def _contact_held(self, contact: ErpContact) -> None:
        self.contacts[contact.erp_contact_id] = contact

    def deliver_to(self, company: Company) -> None:
        """Hand what was held to the newly registered company (which keeps what is newer)."""
        if self.master_data is not None:
            company.change_erp_master_data(*self.master_data)
        for contact in self.contacts.values():
            company.record_erp_contact(contact)
        self._delivered()

    class Delivered(Aggregate.Event):
        pass

    @event(Delivered)
    def _delivered(self) -> None:
        self.delivered = True


_INBOXES = uuid5(NAMESPACE_URL, "urn:kundencenter:users:erp-inboxes")


# ---- Role ------------------------------------------------------------------------------------------------


def clean_role(name: str, description: str, permissions: Iterable[str]) -> tuple[str, str, tuple[str, ...]]:
    name = " ".join((name or "").split())
    if not name or len(name) > 80:
        raise InvalidRole("A role name must have 1 to 80 characters.")
    if name.casefold() in RESERVED_ROLE_NAMES:
        raise InvalidRole(f"{name!r} is the name of a predefined role.")
    description = (description or "").strip()
    if len(description) > 500:
        raise InvalidRole("A role description has at most 500 characters.")
    perms = sorted_permissions(parse_permissions(permissions))
    if not perms:
        raise InvalidRole("A role needs at least one permission.")
    return name, description, perms


class Role(Aggregate):
    """A custom role of one company: a name for a set of permissions from the fixed catalogue."""

    @classmethod
    def define(
        cls, *, company_id: UUID, name: str, description: str, permissions: Iterable[str], by: UUID | None
    ) -> Role:
        name, description, perms = clean_role(name, description, permissions)
        return cls(company_id=company_id, name=name, description=description, permissions=perms, by=by)

    class Defined(Aggregate.Created):
        company_id: UUID
        name: str
        description: str
        permissions: Sequence[str]
        by: UUID | None

    @event(Defined)
    def __init__(
        self, company_id: UUID, name: str, description: str, permissions: Sequence[str], by: UUID | None
    ) -> None:
        self.company_id = company_id
        self.name = name
        self.description = description
        self.permissions = tuple(permissions)
        self.deleted = False

    @property
    def role_id(self) -> str:
        return str(self.id)

    def change(self, name: str, description: str, permissions: Iterable[str], by: UUID | None) -> None:
        self._check_exists()
        name, description, perms = clean_role(name, description, permissions)
        if (name, description, perms) != (self.name, self.description, self.permissions):
            self._changed(company_id=self.company_id, name=name, description=description, permissions=perms, by=by)

    class Changed(Aggregate.Event):
        company_id: UUID
        name: str
        description: str
        permissions: Sequence[str]
        by: UUID | None

    @event(Changed)
    def _changed(
        self, company_id: UUID, name: str, description: str, permissions: Sequence[str], by: UUID | None
    ) -> None:
        self.name = name
        self.description = description
        self.permissions = tuple(permissions)

    def delete(self, by: UUID | None) -> None:
        self._check_exists()
        self._deleted(company_id=self.company_id, by=by)

    class Deleted(Aggregate.Event):
        company_id: UUID
        by: UUID | None

    @event(Deleted)
    def _deleted(self, company_id: UUID, by: UUID | None) -> None:
        self.deleted = True

    def _check_exists(self) -> None:
        if self.deleted:
            raise NotFound("Not found.")


# ---- uniqueness ------------------------------------------------------------------------------------------

_CLAIMS = uuid5(NAMESPACE_URL, "urn:kundencenter:users:claims")


def email_key(email: str) -> str:
    """E-mail addresses are unique across all companies, whatever their case."""
    return "email/" + email.strip().lower()


def role_name_key(company_id: UUID, name: str) -> str:
    return f"role-name/{company_id}/{' '.join(name.split()).casefold()}"


class KeyClaim(Aggregate):
    """Who holds a unique key. Its id derives from the key, so two first claims collide in the event store;
    a released key is claimed again with a new version of the same aggregate (which collides just as well).

    An e-mail address's claim is a blind index (ADR 0035 decision 4): its id is a keyed hash of :func:`email_key`
    in :data:`EMAIL_INDEX`, which the application computes under the service's secret, so the id of a guessed
    address cannot be computed from the event store alone, and the claim keeps no address (:meth:`blind`). An
    address claimed before kept its ``uuid5`` id (:meth:`create_id`): read while the address has no blind claim
    yet, released when its claim moves there. Role names and sign-ins (not e-mail addresses) keep ``uuid5`` ids."""

    EMAIL_INDEX = "users/email"
    """the blind index's namespace, and the key a blind claim records instead of the address"""

    @staticmethod
    def create_id(key: str) -> UUID:
        return uuid5(_CLAIMS, key)

    @classmethod
    def blind(cls, index_id: UUID, owner_id: UUID) -> KeyClaim:
        """The e-mail address whose blind index id is ``index_id`` belongs to ``owner_id`` (the address itself is
        not stored)."""
        return cls._create(cls.Claimed, id=index_id, key=cls.EMAIL_INDEX, owner_id=owner_id)

    class Claimed(Aggregate.Created):
        key: str
        owner_id: UUID

    @event(Claimed)
    def __init__(self, key: str, owner_id: UUID) -> None:
        self.key = key
        self.owner_id: UUID | None = owner_id

    def claim(self, owner_id: UUID) -> None:
        if self.owner_id == owner_id:
            return
        if self.owner_id is not None:
            raise KeyTaken("Taken.")
        self._reclaimed(owner_id=owner_id)

    class Reclaimed(Aggregate.Event):
        owner_id: UUID

    @event(Reclaimed)
    def _reclaimed(self, owner_id: UUID) -> None:
        self.owner_id = owner_id

    def release(self, owner_id: UUID) -> None:
        if self.owner_id == owner_id:
            self._released()

    class Released(Aggregate.Event):
        pass

    @event(Released)
    def _released(self) -> None:
        self.owner_id = None
