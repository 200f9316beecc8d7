"""Approval's own view of the people and companies it decides for, kept from the users service's events.

Permissions are ours, not the token's: who may order, who may decide, with which budget, comes from here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import cast
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from approval.domain.budget import UNLIMITED, Budget

_NS = uuid5(NAMESPACE_URL, "urn:kundencenter:approval:members")
_SIGN_INS = uuid5(NAMESPACE_URL, "urn:kundencenter:approval:sign-ins")

PLACE_ORDERS = "place_orders"
APPROVE_ORDERS = "approve_orders"
VIEW_COMPANY_ORDERS = "view_company_orders"


class Member(Aggregate):
    """A user of a customer company, as approval needs to know them. Its id is the user's id."""

    email_index: UUID | None = None
    """the id of the blind index its address claims (ADR 0035 decision 4): its claim is released on erasure even when
    the address no longer opens (sealed with a key users destroyed first); None: joined before it was kept"""

    def __init__(self, company_id: UUID, email: str, first_name: str, last_name: str, language: str) -> None:
        self.company_id = company_id
        self.email = email
        self.first_name = first_name
        self.last_name = last_name
        self.language = language
        self.active = True
        self.permissions: frozenset[str] = frozenset()
        self.budget: Budget = UNLIMITED
        self.is_main_contact = False
        self.signed_in = False
        """bound to an identity provider's (issuer, subject) by users: from then on only that identifies them"""
        self.role_ids: tuple[str, ...] | None = None
        """the user's roles (None: not known — told before approval kept them; a tier may name a role, ADR 0025)"""
        self.erased_at: datetime | None = None
        """users erased the person (ADR 0035): their names and e-mail are gone from this state for good"""

    @classmethod
    def join(
        cls,
        user_id: UUID,
        company_id: UUID,
        email: str,
        first_name: str,
        last_name: str,
        language: str,
    ) -> Member:
        return cls._create(
            cls.Joined,
            id=user_id,
            company_id=company_id,
            email=email,
            first_name=first_name,
            last_name=last_name,
            language=language,
        )

    @classmethod
    def erased_before_known(cls, user_id: UUID, company_id: UUID, at: datetime) -> Member:
        """A person users erased before approval knew them (ADR 0035): remembered as an erased member — id, company
        and the time only, no names, no e-mail — so that no later event of users about them (a re-delivered or late
        creation, rename or address change) makes them known again."""
        member = cls.join(user_id, company_id, "", "", "", "")
        member.erase(at)
        return member

    class Joined(Aggregate.Created):
        company_id: UUID
        email: str
        first_name: str
        last_name: str
        language: str

    FIELDS = (
        "email",
        "first_name",
        "last_name",
        "language",
        "active",
        "permissions",
        "budget",
        "is_main_contact",
        "signed_in",
        "role_ids",
        "email_index",
    )

    PERSONAL = ("email", "first_name", "last_name")
    """What names the person: never known again once they are erased"""

    def update(self, **changes: object) -> None:
        """Overwrite what the users service said changed (names, e-mail, status, permissions, budget…). An erased
        member's names and e-mail stay blank and it stays inactive: a change told before the erasure and delivered
        after it (a stale rename or activation) never brings them back."""
        unknown = set(changes) - set(self.FIELDS)
        if unknown:
            raise ValueError(f"not a member field: {sorted(unknown)}")
        if self.erased:  # and never active again: a late activation does not let their old sign-in back in
            changes = {k: v for k, v in changes.items() if k not in self.PERSONAL and not (k == "active" and v)}
            if not changes:
                return
        if "permissions" in changes:
            changes["permissions"] = sorted(cast("Iterable[str]", changes["permissions"]))
        self._updated(changes=changes)

    class Updated(Aggregate.Event):
        changes: dict[str, object]

    @event(Updated)
    def _updated(self, changes: dict[str, object]) -> None:
        for name, value in changes.items():
            if name == "role_ids":
                value = tuple(cast("Iterable[str]", value))
            elif name == "permissions":
                value = frozenset(cast("Iterable[str]", value))
            setattr(self, name, value)

    def erase(self, at: datetime) -> None:
        """Users erased the person (ADR 0035): forget their names and e-mail. The event names no personal value."""
        if not self.erased:
            self._erased(at=at)

    class Erased(Aggregate.Event):
        at: datetime

    @event(Erased)
    def _erased(self, at: datetime) -> None:
        self.erased_at = at
        self.email = self.first_name = self.last_name = ""
        self.email_index = None
        self.active = False

    @property
    def erased(self) -> bool:
        return self.erased_at is not None

    @property
    def name(self) -> str:
        """Their names (blank while they do not open: the key of a person being erased is gone before users says)."""
        return " ".join(n for n in (self.first_name, self.last_name) if n)

    @property
    def label(self) -> str:
        """How a message names the person at the start of a sentence: their name; "An erased user" once users erased
        them (ADR 0035); "User <id>" where no name is known — never "None", never an empty name."""
        if self.erased:
            return "An erased user"
        return self.name or f"User {self.id}"

    def can(self, permission: str) -> bool:
        return self.active and permission in self.permissions


class Names(dict[UUID, str | None]):
    """People's names as approval knows them now, by id; an erased person's name is None and their id in
    ``erased`` (views show them as an erased user, ADR 0035); an id that is absent is not known here."""

    def __init__(self) -> None:
        super().__init__()
        self.erased: set[UUID] = set()


class MemberEmail(Aggregate):
    """Which member an e-mail address (case-insensitive) belongs to: tokens name e-mails, not our ids.

    Its id is a keyed hash of the address (a blind index, ADR 0035 decision 4), which the application computes
    under the service's secret (:data:`INDEX` and :meth:`key`): the id of a guessed address cannot be computed from
    the event store alone. An address claimed before kept its :meth:`legacy_id` (a ``uuid5`` of the address):
    read while the address has no blind index yet, and released when its claim moves to the blind index."""

    INDEX = "approval/member-email"
    """the blind index's namespace"""

    @staticmethod
    def key(email: str) -> str:
        """The address as the index knows it: one address however it is spelt in case or surrounding blanks."""
        return email.strip().lower()

    @staticmethod
    def legacy_id(email: str) -> UUID:
        """The id an address's index had before the blind index (read only: never claimed again)."""
        return uuid5(_NS, MemberEmail.key(email))

    @classmethod
    def claim(cls, index_id: UUID, user_id: UUID) -> MemberEmail:
        """The address whose blind index id is ``index_id`` belongs to ``user_id`` (the address itself is not
        stored)."""
        return cls._create(cls.Claimed, id=index_id, user_id=user_id)

    class Claimed(Aggregate.Created):
        user_id: UUID

    def __init__(self, user_id: UUID) -> None:
        self.user_id: UUID | None = user_id

    class Reassigned(Aggregate.Event):
        user_id: UUID | None

    @event(Reassigned)
    def reassign(self, user_id: UUID | None) -> None:
        self.user_id = user_id


class MemberSubject(Aggregate):
    """Which member an identity provider's (issuer, subject) is bound to (users' ``UserSignInBound``)."""

    @staticmethod
    def create_id(issuer: str, subject: str) -> UUID:
        return uuid5(_SIGN_INS, f"{issuer}|{subject}")

    @classmethod
    def bind(cls, issuer: str, subject: str, user_id: UUID) -> MemberSubject:
        return cls._create(cls.Bound, id=cls.create_id(issuer, subject), user_id=user_id)

    class Bound(Aggregate.Created):
        user_id: UUID

    def __init__(self, user_id: UUID) -> None:
        self.user_id: UUID | None = user_id


class CompanyView(Aggregate):
    """A customer company: who decides over-budget orders, and whether it may order at all."""

    def __init__(self, main_contact_id: UUID | None) -> None:
        self.main_contact_id = main_contact_id
        self.approver_ids: tuple[UUID, ...] = ()
        self.ordering_allowed = True
        self.customer_number: str | None = None
        """the ERP's customer number: whose prices the company's orders are priced with"""
        self.currency: str | None = None

    @classmethod
    def open(cls, company_id: UUID, main_contact_id: UUID | None) -> CompanyView:
        return cls._create(cls.Opened, id=company_id, main_contact_id=main_contact_id)

    class Opened(Aggregate.Created):
        main_contact_id: UUID | None

    class ApproversChanged(Aggregate.Event):
        approver_ids: tuple[UUID, ...]

    @event(ApproversChanged)
    def set_approvers(self, approver_ids: tuple[UUID, ...]) -> None:
        self.approver_ids = tuple(approver_ids)

    class MainContactChanged(Aggregate.Event):
        main_contact_id: UUID

    @event(MainContactChanged)
    def set_main_contact(self, main_contact_id: UUID) -> None:
        self.main_contact_id = main_contact_id

    class CustomerKnown(Aggregate.Event):
        customer_number: str
        currency: str | None

    @event(CustomerKnown)
    def set_customer(self, customer_number: str, currency: str | None) -> None:
        self.customer_number = customer_number
        self.currency = currency

    class OrderingAllowedChanged(Aggregate.Event):
        allowed: bool

    @event(OrderingAllowedChanged)
    def set_ordering_allowed(self, allowed: bool) -> None:
        self.ordering_allowed = allowed
