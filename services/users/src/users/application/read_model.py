"""The read model of the users service (lists, look-ups by e-mail, the audit log): its rows, its port, and an
in-memory implementation for tests and API documents.

Rows are derived from the aggregates' state (and audit entries from the events) by :func:`project`; the
PostgreSQL implementation (``users.adapters.outbound.read_model``) writes them in the same transaction as the
events, so a command's effect is visible to the next query, including the look-up that authenticates a
request. See ``docs/adr/0004-users-read-model.md``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Literal, Protocol
from uuid import UUID

from users.domain.email_change import EmailChange
from users.domain.identity import SignIn
from users.domain.model import (
    Budget,
    Company,
    ErpContact,
    PeriodBudget,
    Role,
    User,
    UserStatus,
    email_key,
)
from users.domain.permissions import MAIN_CONTACT
from users.domain.refusal import RegistrationRefusal

READ_MODEL_KWARG = "read_model_changes"
"""The keyword under which a save hands its read-model changes to the event recorder."""


# ---- rows ------------------------------------------------------------------------------------------------

SubjectType = Literal["user", "company", "role"]
"""What an audit entry is about."""


@dataclass(frozen=True)
class UserRow:
    """A user as the API shows them; an erased user (``erased_at``) has no e-mail address and no name."""

    user_id: UUID
    company_id: UUID
    email: str | None
    first_name: str | None
    last_name: str | None
    language: str
    status: str
    role_ids: tuple[str, ...]
    permissions: tuple[str, ...]
    budget: Budget
    erp_contact_id: str | None
    created_at: datetime
    updated_at: datetime
    version: int
    erased_at: datetime | None = None

    @property
    def email_key(self) -> str | None:
        return email_key(self.email) if self.email is not None else None

    @property
    def is_erased(self) -> bool:
        return self.erased_at is not None

    @property
    def is_active(self) -> bool:
        return self.status == UserStatus.ACTIVE.value

    @property
    def is_main_contact(self) -> bool:
        return MAIN_CONTACT in self.role_ids


@dataclass(frozen=True)
class CompanyRow:
    company_id: UUID
    customer_number: str
    name: str
    currency: str
    main_contact_id: UUID
    approver_ids: tuple[UUID, ...]
    erp_contacts: tuple[ErpContact, ...]
    taken_over: Mapping[str, UUID]
    registered_at: datetime
    version: int


@dataclass(frozen=True)
class RoleRow:
    role_id: UUID
    company_id: UUID
    name: str
    description: str
    permissions: tuple[str, ...]
    deleted: bool
    version: int


@dataclass(frozen=True)
class AuditDraft:
    """An audit entry before it knows its place in the log (the notification id of its event)."""

    event_index: int
    company_id: UUID
    at: datetime
    actor_id: UUID | None
    action: str
    subject_type: SubjectType
    subject_id: UUID
    details: dict[str, Any]


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    company_id: UUID
    at: datetime
    actor_id: UUID | None
    action: str
    subject_type: SubjectType
    subject_id: UUID
    details: dict[str, Any]


@dataclass(frozen=True)
class RowChange:
    """What one event changes in one row: a new row (``row``), or new values of some fields (``values``),
    plus entries to merge into mapping fields (``merge``). ``version`` is the aggregate's version after the
    event: a change applies only to a row at a lower version, which makes replays harmless."""

    table: str  # "users" | "companies" | "roles"
    key: UUID
    version: int
    at: datetime
    row: UserRow | CompanyRow | RoleRow | None = None
    values: dict[str, Any] = field(default_factory=dict)
    merge: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Changes:
    rows: tuple[RowChange, ...] = ()
    audit: tuple[AuditDraft, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.rows or self.audit)

    @property
    def company_ids(self) -> set[UUID]:
        return {d.company_id for d in self.audit}

    def audit_entries(self, notification_ids: Sequence[int]) -> list[AuditEntry]:
        return [
            AuditEntry(
                seq=notification_ids[d.event_index],
                **{f.name: getattr(d, f.name) for f in fields(d) if f.name != "event_index"},
            )
            for d in self.audit
        ]


@dataclass(frozen=True)
class UserPage:
    items: list[UserRow]
    total: int


# ---- projection ------------------------------------------------------------------------------------------


def user_row(user: User) -> UserRow:
    erased = user.is_erased
    return UserRow(
        user_id=user.id,
        company_id=user.company_id,
        email=None if erased else user.email,
        first_name=None if erased else user.first_name,
        last_name=None if erased else user.last_name,
        language=user.language,
        status=user.status.value,
        role_ids=tuple(user.role_ids),
        permissions=tuple(user.permissions),
        budget=user.budget,
        erp_contact_id=user.erp_contact_id,
        created_at=user.created_at,
        updated_at=user.modified_on,
        version=user.version,
        erased_at=user.erased_at,
    )


def company_row(company: Company) -> CompanyRow:
    return CompanyRow(
        company_id=company.id,
        customer_number=company.customer_number,
        name=company.name,
        currency=company.currency,
        main_contact_id=company.main_contact_id,
        approver_ids=tuple(company.approver_ids),
        erp_contacts=tuple(company.erp_contacts),
        taken_over=dict(company.taken_over),
        registered_at=company.registered_at,
        version=company.version,
    )


def role_row(role: Role) -> RoleRow:
    return RoleRow(
        role_id=role.id,
        company_id=role.company_id,
        name=role.name,
        description=role.description,
        permissions=tuple(role.permissions),
        deleted=role.deleted,
        version=role.version,
    )


_SUBJECTS: dict[str, SubjectType] = {"User": "user", "Company": "company", "Role": "role"}


def _owner(event: Any) -> str:
    return type(event).__qualname__.split(".")[0]


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def jsonable(value: Any) -> Any:
    """Event attributes as JSON values (for audit details)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Budget | PeriodBudget | ErpContact):
        return {f.name: jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


_NOT_DETAILS = {"originator_id", "originator_version", "originator_topic", "timestamp", "by", "company_id"}


def _about_a_user(index: int, event: Any) -> AuditDraft | None:
    """Events of aggregates of their own that are about a user (or a refused registration); a confirmed change
    is audited as the user's own EmailChanged, saved with it. Any other event (KeyClaim's bookkeeping, a
    confirmation): no audit entry."""
    match event:
        case RegistrationRefusal.Refused():
            return AuditDraft(
                event_index=index,
                company_id=event.company_id,
                at=event.timestamp,
                actor_id=None,
                action="company.registration_refused",
                subject_type="company",
                subject_id=event.company_id,
                details={"registration_id": str(event.registration_id), "reason": event.reason},
            )
        case SignIn.Bound():
            details = {"issuer": event.issuer, "subject": event.subject}
            return _user_entry(index, event, event.user_id, "user.sign_in_bound", details)
        case EmailChange.Requested():
            details = {"email": event.email, "previous_email": event.previous_email,
                       "expires_at": jsonable(event.expires_at)}  # fmt: skip
            return _user_entry(index, event, event.by, "user.email_change_requested", details)
        case _:
            return None


def _user_entry(
    index: int, event: SignIn.Bound | EmailChange.Requested, actor_id: UUID | None, action: str, details: dict[str, Any]
) -> AuditDraft:
    return AuditDraft(
        event_index=index,
        company_id=event.company_id,
        at=event.timestamp,
        actor_id=actor_id,
        action=action,
        subject_type="user",
        subject_id=event.user_id,
        details=details,
    )


def audit_draft(index: int, event: Any) -> AuditDraft | None:
    subject = _SUBJECTS.get(_owner(event))
    if subject is None:  # KeyClaim: bookkeeping, not administration; sign-ins, e-mail changes: about a user
        return _about_a_user(index, event)
    attrs = vars(event)
    return AuditDraft(
        event_index=index,
        company_id=event.originator_id if subject == "company" else attrs["company_id"],
        at=event.timestamp,
        actor_id=attrs.get("by"),
        action=f"{subject}.{_snake(type(event).__name__)}",
        subject_type=subject,
        subject_id=event.originator_id,
        details={k: jsonable(v) for k, v in attrs.items() if k not in _NOT_DETAILS and not k.startswith("__")},
    )


def row_change(event: Any) -> RowChange | None:
    """The read-model change of one event. Each event names the whole new value of what it changes."""
    key, version, at = event.originator_id, event.originator_version, event.timestamp

    def update(table: str, **values: Any) -> RowChange:
        return RowChange(table, key, version, at, values=values)

    match event:
        case User.Created():
            user = UserRow(
                user_id=key,
                company_id=event.company_id,
                email=event.email,
                first_name=event.first_name,
                last_name=event.last_name,
                language=event.language,
                status=UserStatus.ACTIVE.value,
                role_ids=tuple(event.role_ids),
                permissions=tuple(event.permissions),
                budget=event.budget,
                erp_contact_id=event.erp_contact_id,
                created_at=event.created_at,
                updated_at=at,
                version=version,
            )
            return RowChange("users", key, version, at, row=user)
        case User.Renamed():
            return update("users", first_name=event.first_name, last_name=event.last_name)
        case User.EmailChanged():
            return update("users", email=event.email)
        case User.Activated():
            return update("users", status=UserStatus.ACTIVE.value)
        case User.Deactivated():
            return update("users", status=UserStatus.INACTIVE.value)
        case User.BudgetSet():
            return update("users", budget=event.budget)
        case User.RolesSet():
            return update("users", role_ids=tuple(event.role_ids), permissions=tuple(event.permissions))
        case User.PermissionsChanged():
            return update("users", permissions=tuple(event.permissions))
        case User.Erased():
            return update("users", email=None, first_name=None, last_name=None, erased_at=event.erased_at)
        case Company.Created():
            company = CompanyRow(
                company_id=key,
                customer_number=event.customer_number,
                name=event.name,
                currency=event.currency,
                main_contact_id=event.main_contact_id,
                approver_ids=(),
                erp_contacts=tuple(event.erp_contacts),
                taken_over={},
                registered_at=event.registered_at,
                version=version,
            )
            return RowChange("companies", key, version, at, row=company)
        case Company.ApproversSet() | Company.ApproverRemoved():
            return update("companies", approver_ids=tuple(event.approver_ids))
        case Company.MainContactTransferred():
            return update("companies", main_contact_id=event.main_contact_id)
        case Company.ErpMasterDataChanged():
            return update("companies", name=event.name, currency=event.currency)
        case Company.ErpContactRecorded():
            return update("companies", erp_contacts=tuple(event.erp_contacts))
        case Company.ErpContactTakenOver():
            return RowChange("companies", key, version, at, merge={"taken_over": {event.erp_contact_id: event.user_id}})
        case Role.Defined():
            role = RoleRow(
                role_id=key,
                company_id=event.company_id,
                name=event.name,
                description=event.description,
                permissions=tuple(event.permissions),
                deleted=False,
                version=version,
            )
            return RowChange("roles", key, version, at, row=role)
        case Role.Changed():
            return update("roles", name=event.name, description=event.description, permissions=tuple(event.permissions))
        case Role.Deleted():
            return update("roles", deleted=True)
        case User.Event() | Company.Event() | Role.Event():
            raise TypeError(f"the read model does not know {type(event).__qualname__}")
    return None


PERSONAL_DETAILS = ("email", "previous_email", "first_name", "last_name", "issuer", "subject")
"""Audit details that name or identify a person: dropped from an erased user's entries (ADR 0035)."""


def erased_user(change: RowChange) -> UUID | None:
    """The user ``change`` erases, if it does."""
    return change.key if change.table == "users" and change.values.get("erased_at") is not None else None


def scrubbed(details: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in details.items() if k not in PERSONAL_DETAILS}


def project(events: Sequence[Any]) -> Changes:
    """The read-model changes of saving ``events`` (in order): row changes and an audit entry per event."""
    rows = tuple(c for e in events if (c := row_change(e)) is not None)
    audit = tuple(d for i, e in enumerate(events) if (d := audit_draft(i, e)) is not None)
    return Changes(rows, audit)


def apply_change(current: Any, change: RowChange) -> Any:
    """A row after ``change`` (``current`` is None for a row not seen yet); unchanged when the change is old."""
    if change.row is not None:
        return current if current is not None else change.row
    if current is None or current.version >= change.version:
        return current
    merged = {k: {**getattr(current, k), **v} for k, v in change.merge.items()}
    values = dict(change.values)
    if "updated_at" in {f.name for f in fields(current)}:
        values["updated_at"] = change.at
    return replace(current, **values, **merged, version=change.version)


# ---- the port --------------------------------------------------------------------------------------------


class ReadModel(Protocol):
    def record(self, changes: Changes, notification_ids: Sequence[int]) -> None:
        """Called after a save committed. (The PostgreSQL read model has written them in its transaction.)"""

    def write(self, changes: Changes, notification_ids: Sequence[int]) -> None:
        """Write changes in a transaction of their own (catching up, rebuilding)."""

    def position(self) -> int:
        """The notification id up to which the read model has applied the log."""

    def clear(self) -> None:
        """Forget everything (before a rebuild)."""

    def user(self, user_id: UUID) -> UserRow | None: ...

    def user_by_email(self, email: str) -> UserRow | None: ...

    def users(
        self, company_id: UUID, *, status: str | None, role_id: str | None, limit: int, offset: int
    ) -> UserPage: ...

    def users_by_ids(self, company_id: UUID, user_ids: Sequence[UUID]) -> list[UserRow]: ...

    def user_ids_with_role(self, company_id: UUID, role_id: str) -> list[UUID]: ...

    def company(self, company_id: UUID) -> CompanyRow | None: ...

    def roles(self, company_id: UUID) -> list[RoleRow]: ...

    def audit(
        self, company_id: UUID, *, subject_id: UUID | None, before: int | None, limit: int
    ) -> list[AuditEntry]: ...


def sort_key(row: UserRow) -> tuple[str, str, str]:
    return ((row.last_name or "").casefold(), (row.first_name or "").casefold(), str(row.user_id))


@dataclass
class InMemoryReadModel:
    """The read model in dictionaries: for the in-memory event store (tests, API documents)."""

    _users: dict[UUID, UserRow] = field(default_factory=dict)
    _companies: dict[UUID, CompanyRow] = field(default_factory=dict)
    _roles: dict[UUID, RoleRow] = field(default_factory=dict)
    _audit: dict[int, AuditEntry] = field(default_factory=dict)
    _position: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, changes: Changes, notification_ids: Sequence[int]) -> None:
        self.write(changes, notification_ids)

    def write(self, changes: Changes, notification_ids: Sequence[int]) -> None:
        tables: dict[str, dict[UUID, Any]] = {"users": self._users, "companies": self._companies, "roles": self._roles}
        with self._lock:
            for change in changes.rows:
                table = tables[change.table]
                row = apply_change(table.get(change.key), change)
                if row is not None:
                    table[change.key] = row
            for entry in changes.audit_entries(notification_ids):
                self._audit[entry.seq] = entry
            for erased in filter(None, map(erased_user, changes.rows)):
                for seq, entry in self._audit.items():
                    if entry.subject_id == erased:
                        self._audit[seq] = replace(entry, details=scrubbed(entry.details))
            if notification_ids:
                self._position = max(self._position, max(notification_ids))

    def position(self) -> int:
        return self._position

    def clear(self) -> None:
        with self._lock:
            self._users.clear()
            self._companies.clear()
            self._roles.clear()
            self._audit.clear()
            self._position = 0

    def user(self, user_id: UUID) -> UserRow | None:
        return self._users.get(user_id)

    def user_by_email(self, email: str) -> UserRow | None:
        key = email_key(email)
        found = [u for u in self._users.values() if u.email_key == key]
        return max(found, key=lambda u: u.updated_at) if found else None

    def users(self, company_id: UUID, *, status: str | None, role_id: str | None, limit: int, offset: int) -> UserPage:
        rows = sorted(
            (
                u
                for u in self._users.values()
                if u.company_id == company_id
                and (status is None or u.status == status)
                and (role_id is None or role_id in u.role_ids)
            ),
            key=sort_key,
        )
        return UserPage(items=rows[offset : offset + limit], total=len(rows))

    def users_by_ids(self, company_id: UUID, user_ids: Sequence[UUID]) -> list[UserRow]:
        return [u for i in user_ids if (u := self._users.get(i)) is not None and u.company_id == company_id]

    def user_ids_with_role(self, company_id: UUID, role_id: str) -> list[UUID]:
        return [u.user_id for u in self._users.values() if u.company_id == company_id and role_id in u.role_ids]

    def company(self, company_id: UUID) -> CompanyRow | None:
        return self._companies.get(company_id)

    def roles(self, company_id: UUID) -> list[RoleRow]:
        return sorted(
            (r for r in self._roles.values() if r.company_id == company_id and not r.deleted),
            key=lambda r: r.name.casefold(),
        )

    def audit(self, company_id: UUID, *, subject_id: UUID | None, before: int | None, limit: int) -> list[AuditEntry]:
        entries = [
            e
            for seq, e in sorted(self._audit.items(), reverse=True)
            if e.company_id == company_id
            and (subject_id is None or e.subject_id == subject_id)
            and (before is None or seq < before)
        ]
        return entries[:limit]
