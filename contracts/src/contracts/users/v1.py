"""``users.companies.v1`` and ``users.users.v1``: companies, their users, roles and approvers.

Both topics are keyed by **company id**, so everything that happens within one company keeps its order on
each topic. Every message carries ``company_id`` and the complete new value of what it changes (all role ids
and effective permissions, the whole budget, the whole approver list), so a consumer keeps a read model by
overwriting, never by computing. ``changed_by`` is the user who made the change (null: the system, e.g. a
completed registration).

Role ids are strings: the predefined roles ``main_contact``, ``buyer``, ``approver``, ``service_technician``,
``controller``, and the uuids of a company's custom roles. Permissions come from a fixed catalogue:
``place_orders``, ``approve_orders``, ``view_company_orders``, ``manage_users``, ``manage_budgets``,
``view_data_sheets``, ``view_reports``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contracts.base import Message, Money
from contracts.common import ShortText

UserStatus = Literal["active", "inactive"]


class PeriodBudget(BaseModel):
    """What a user may order per calendar period (Europe/Berlin): a value, and optionally a total quantity."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    period: Literal["month", "quarter", "year"]
    max_value: Money = Field(description="Total value of the orders of one period")
    max_total_quantity: int | None = Field(default=None, ge=0, description="Total quantity of the orders of one period")


class Budget(BaseModel):
    """A user's per-order limits, and optionally a budget per period. A null limit means unlimited."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    max_total_quantity: int | None = Field(default=None, ge=0, description="Total quantity of one order")
    max_order_value: Money | None = Field(default=None, description="Total value of one order")
    period_budget: PeriodBudget | None = Field(default=None, description="The budget per period (null: none)")


# ---- users.users.v1 --------------------------------------------------------------------------------------


class UserCreated(Message):
    """A user exists: the company's main contact (from a registration), a user created by an administrator, or
    an ERP contact taken over. Carries the user's whole state."""

    event_type = "UserCreated"
    personal = (("email", "user_id"), ("first_name", "user_id"), ("last_name", "user_id"))

    user_id: UUID
    company_id: UUID
    email: str
    first_name: ShortText
    last_name: ShortText
    language: str = Field(description="de or en")
    status: UserStatus = "active"
    role_ids: list[str]
    permissions: list[str] = Field(description="The effective permissions of the roles")
    budget: Budget
    is_main_contact: bool
    erp_contact_id: str | None = Field(default=None, description="The ERP's contact this user was taken over from")
    changed_by: UUID | None = None
    created_at: datetime


class UserRenamed(Message):
    event_type = "UserRenamed"
    personal = (("first_name", "user_id"), ("last_name", "user_id"))

    user_id: UUID
    company_id: UUID
    first_name: ShortText
    last_name: ShortText
    changed_by: UUID | None = None


class UserEmailChanged(Message):
    """The user's e-mail address changed (it identifies the user at the shop's identity provider)."""

    event_type = "UserEmailChanged"
    personal = (("email", "user_id"), ("previous_email", "user_id"))

    user_id: UUID
    company_id: UUID
    email: str
    previous_email: str
    changed_by: UUID | None = None


class UserActivated(Message):
    event_type = "UserActivated"

    user_id: UUID
    company_id: UUID
    changed_by: UUID | None = None


class UserDeactivated(Message):
    """Refuse this user from now on, whatever their token says."""

    event_type = "UserDeactivated"

    user_id: UUID
    company_id: UUID
    changed_by: UUID | None = None


class UserBudgetSet(Message):
    event_type = "UserBudgetSet"

    user_id: UUID
    company_id: UUID
    budget: Budget
    changed_by: UUID | None = None


class UserRolesSet(Message):
    """The user's roles were replaced (by an administrator, or by a transfer of the main-contact role)."""

    event_type = "UserRolesSet"

    user_id: UUID
    company_id: UUID
    role_ids: list[str]
    permissions: list[str] = Field(description="The new effective permissions")
    is_main_contact: bool
    changed_by: UUID | None = None


class UserPermissionsChanged(Message):
    """A custom role the user holds was redefined: the user's new effective permissions."""

    event_type = "UserPermissionsChanged"

    user_id: UUID
    company_id: UUID
    permissions: list[str]
    cause_role_id: str = Field(description="The redefined role")
    changed_by: UUID | None = None


class UserSignInBound(Message):
    """The user signed in for the first time and is bound to the identity provider's (issuer, subject) for good.

    From now on this binding identifies the user, not the token's e-mail: a token with the user's e-mail but
    another subject names nobody. Until it arrives, a consumer may accept the user's *verified* e-mail for a user
    not bound yet (the users service stays the authority)."""

    event_type = "UserSignInBound"

    user_id: UUID
    company_id: UUID
    issuer: str = Field(max_length=2048, description="The token's `iss`")
    subject: str = Field(max_length=255, description="The token's `sub`")
    bound_at: datetime


class UserEmailChangeRequested(Message):
    """A change of the user's e-mail address was started: send the **new** address a single-use confirmation.

    The clear ``token`` travels only here (users stores a SHA-256 hash of it). The mail links to the shop's
    ``confirm_path`` (relative to the shop's base URL), whose page posts the token to
    ``POST /api/email-changes/{change_id}/confirm``. The address changes (``UserEmailChanged``) only then; the
    old address stays until that moment."""

    event_type = "UserEmailChangeRequested"
    personal = (
        ("email", "user_id"),
        ("previous_email", "user_id"),
        ("first_name", "user_id"),
        ("last_name", "user_id"),
    )

    change_id: UUID
    user_id: UUID
    company_id: UUID
    email: str = Field(description="The new address, which must confirm")
    previous_email: str
    first_name: ShortText
    last_name: ShortText
    language: str = Field(description="de or en")
    token: ShortText
    expires_at: datetime
    confirm_path: ShortText = Field(description="Shop page of the confirmation link, relative, with id and token")
    changed_by: UUID | None = None


class UserErased(Message):
    """The user was erased on the main contact's request (ADR 0035): their key is destroyed, so every value
    sealed with it is unreadable from now on. Drop a cached key of the person and scrub what you keep of them in
    plain form (names, e-mail address → null, ``erased: true``); keep the user id, so an audit trail still reads
    "an erased user of this company". Carries no personal data. The user was deactivated before."""

    event_type = "UserErased"

    user_id: UUID
    company_id: UUID
    erased_at: datetime
    changed_by: UUID | None = None


# ---- users.companies.v1 ----------------------------------------------------------------------------------


class CompanyRegistrationRefused(Message):
    """A completed registration was refused: its main contact's address belongs to a user already (taken between
    registration's own check and the completion). Nothing was created; registration tells the applicant, and
    the customer may register again with another address."""

    event_type = "CompanyRegistrationRefused"

    company_id: UUID
    registration_id: UUID
    customer_number: ShortText
    reason: Literal["email_taken"]
    refused_at: datetime


class CompanyCreated(Message):
    """A customer completed its registration: the company exists, with its main contact (see UserCreated)."""

    event_type = "CompanyCreated"

    company_id: UUID
    customer_number: ShortText
    name: ShortText
    currency: str
    main_contact_id: UUID
    registration_id: UUID | None = None
    created_at: datetime


class ApproversSet(Message):
    """The company's approvers, all of them. Empty: the main contact decides."""

    event_type = "ApproversSet"

    company_id: UUID
    approver_ids: list[UUID]
    changed_by: UUID | None = None


class ApproverRemoved(Message):
    """An approver left the list because they were deactivated or lost the approve permission."""

    event_type = "ApproverRemoved"

    company_id: UUID
    user_id: UUID
    reason: Literal["approver_deactivated", "approve_permission_lost"]
    approver_ids: list[UUID] = Field(description="The approvers that remain; empty: the main contact decides")
    changed_by: UUID | None = None


class MainContactTransferred(Message):
    """The main-contact role went to another user (their roles follow as UserRolesSet on users.users.v1)."""

    event_type = "MainContactTransferred"

    company_id: UUID
    previous_main_contact_id: UUID
    main_contact_id: UUID
    changed_by: UUID | None = None


class RoleDefined(Message):
    """A custom role of the company."""

    event_type = "RoleDefined"

    company_id: UUID
    role_id: str
    name: ShortText
    description: str = ""
    permissions: list[str]
    changed_by: UUID | None = None


class RoleChanged(Message):
    """A custom role was redefined; its holders' new permissions follow as UserPermissionsChanged."""

    event_type = "RoleChanged"

    company_id: UUID
    role_id: str
    name: ShortText
    description: str = ""
    permissions: list[str]
    changed_by: UUID | None = None


class RoleDeleted(Message):
    event_type = "RoleDeleted"

    company_id: UUID
    role_id: str
    changed_by: UUID | None = None


USER_MESSAGES: tuple[type[Message], ...] = (
    UserCreated,
    UserRenamed,
    UserEmailChanged,
    UserActivated,
    UserDeactivated,
    UserBudgetSet,
    UserRolesSet,
    UserPermissionsChanged,
    UserSignInBound,
    UserEmailChangeRequested,
    UserErased,
)

COMPANY_MESSAGES: tuple[type[Message], ...] = (
    CompanyCreated,
    ApproversSet,
    ApproverRemoved,
    MainContactTransferred,
    RoleDefined,
    RoleChanged,
    RoleDeleted,
    CompanyRegistrationRefused,
)
