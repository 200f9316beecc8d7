"""HTTP routes of the users service. Thin: request → use case → response.

Every route needs the shop's JWT; the token's ``email`` claim names the user, and everything else — company,
roles, permissions, whether the user is active — comes from our own state (``Directory.authenticate``).
"""

import asyncio
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from pydantic import BaseModel, EmailStr, Field, StringConstraints

from contracts.common import MultilineText, PlainText
from contracts.limits import EMAIL_MAX, NAME_MAX
from kc_runtime.auth import Caller, bearer_token
from kc_runtime.errors import ApiError
from kc_runtime.eventstore import WorkerPool
from kc_runtime.models import Strict
from kc_runtime.tokens import TokenIssuer
from users.application import email_changes
from users.application.directory import Actor, Approvers, Directory, Me, RoleView
from users.application.read_model import AuditEntry, CompanyRow, UserRow
from users.domain.model import Budget, ErpContact, PeriodBudget
from users.domain.permissions import BUYER, CATALOGUE, Permission

# Limits from contracts.limits (what the messages carry); names refuse control and bidi-override characters.
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX), PlainText]
EmailAddress = Annotated[EmailStr, StringConstraints(max_length=EMAIL_MAX)]
RoleId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Language = Literal["de", "en"]


# ---- bodies ----------------------------------------------------------------------------------------------


class MoneyIO(Strict):
    amount: Decimal = Field(ge=0, le=Decimal("1000000000000"), max_digits=18, decimal_places=4, allow_inf_nan=False)
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class PeriodBudgetIO(Strict):
    """A budget per calendar period (Europe/Berlin): what the user's orders of one month, quarter or year may come
    to. Orders that do not fit into what is left go to approval (reason `period_budget`)."""

    period: Literal["month", "quarter", "year"]
    max_value: MoneyIO
    max_total_quantity: int | None = Field(default=None, ge=0, le=1_000_000_000, description="null: unlimited")

    def to_domain(self) -> PeriodBudget:
        return PeriodBudget(self.period, self.max_value.amount, self.max_value.currency, self.max_total_quantity)

    @classmethod
    def of(cls, p: PeriodBudget) -> "PeriodBudgetIO":
        return cls(
            period=p.period,
            max_value=MoneyIO(amount=p.max_value, currency=p.currency),
            max_total_quantity=p.max_total_quantity,
        )


class BudgetIO(Strict):
    """Per-order limits; null (or absent) means unlimited. ``period_budget``: the budget per period; when setting a
    budget, absent keeps the user's period budget as it is and null removes it."""

    max_total_quantity: int | None = Field(default=None, ge=0, le=1_000_000_000)
    max_order_value: MoneyIO | None = None
    period_budget: PeriodBudgetIO | None = None

    def to_domain(self) -> Budget:
        v, p = self.max_order_value, self.period_budget
        return Budget(
            self.max_total_quantity, v.amount if v else None, v.currency if v else None, p.to_domain() if p else None
        )

    @property
    def keeps_period_budget(self) -> bool:
        return "period_budget" not in self.model_fields_set

    @classmethod
    def of(cls, b: Budget) -> "BudgetIO":
        value = None
        if b.max_order_value is not None and b.currency is not None:
            value = MoneyIO(amount=b.max_order_value, currency=b.currency)
        period = PeriodBudgetIO.of(b.period) if b.period is not None else None
        return cls(max_total_quantity=b.max_total_quantity, max_order_value=value, period_budget=period)


class UserIn(Strict):
    email: EmailAddress
    first_name: Name
    last_name: Name
    language: Language = "de"
    role_ids: list[RoleId] = Field(default_factory=lambda: [BUYER], max_length=20)
    budget: BudgetIO | None = None


class NameIn(Strict):
    first_name: Name
    last_name: Name


class EmailIn(Strict):
    email: EmailAddress


class ConfirmIn(Strict):
    token: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class EmailChangeOut(BaseModel):
    """A change of a user's e-mail address that the new address confirms (the link mailed to it)."""

    id: UUID = Field(description="Confirm with POST /api/email-changes/{id}/confirm")
    user_id: UUID
    email: str = Field(description="The new address, which must confirm")
    current_email: str = Field(description="The user's address until the change is confirmed")
    status: Literal["pending", "confirmed"]
    expires_at: datetime


class RolesIn(Strict):
    role_ids: list[RoleId] = Field(max_length=20)


class RoleIn(Strict):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80), PlainText]
    description: Annotated[str, StringConstraints(max_length=500), MultilineText] = ""
    permissions: list[Permission] = Field(min_length=1, max_length=len(CATALOGUE))


class ApproversIn(Strict):
    user_ids: list[UUID] = Field(max_length=100, description="Empty: the main contact decides")


class TransferIn(Strict):
    user_id: UUID = Field(description="The active user who becomes the main contact")
    roles_for_previous: list[RoleId] | None = Field(
        default=None,
        max_length=20,
        description="The roles the previous main contact keeps; default: their other roles (buyer if none)",
    )


class TakeOverIn(Strict):
    """Anything given here replaces what the ERP knows about the contact."""

    email: EmailAddress | None = None
    first_name: Name | None = None
    last_name: Name | None = None
    language: Language = "de"
    role_ids: list[RoleId] = Field(default_factory=lambda: [BUYER], max_length=20)


# ---- answers ---------------------------------------------------------------------------------------------


class UserOut(BaseModel):
    id: UUID
    company_id: UUID
    email: str | None = Field(description="null once the user is erased")
    first_name: str | None = Field(description="null once the user is erased")
    last_name: str | None = Field(description="null once the user is erased")
    language: str
    status: Literal["active", "inactive"]
    role_ids: list[str]
    permissions: list[str]
    budget: BudgetIO
    is_main_contact: bool
    erp_contact_id: str | None
    created_at: datetime
    updated_at: datetime
    version: int
    erased: bool = Field(default=False, description="Erased (ADR 0035): no name, no e-mail address any more")


class UserPageOut(BaseModel):
    items: list[UserOut]
    total: int
    limit: int
    offset: int


class RoleOut(BaseModel):
    id: str
    name: str
    description: str
    permissions: list[str]
    predefined: bool
    version: int | None = None


class PermissionOut(BaseModel):
    id: str


class CompanyOut(BaseModel):
    id: UUID
    customer_number: str
    name: str
    currency: str
    main_contact_id: UUID
    approver_ids: list[UUID]


class MeOut(BaseModel):
    """What the shop needs to decide what to show the caller."""

    user: UserOut
    company: CompanyOut
    roles: list[RoleOut]
    permissions: list[str]
    budget: BudgetIO
    is_main_contact: bool
    is_approver: bool


class ApproversOut(BaseModel):
    approvers: list[UserOut]
    main_contact_decides: bool = Field(description="True when no approver is named")
    main_contact: UserOut | None


class ErpContactOut(BaseModel):
    erp_contact_id: str
    email: str | None
    first_name: str
    last_name: str
    phone: str | None


class AuditEntryOut(BaseModel):
    seq: int = Field(description="Position in the log; pass as `before` to page further back")
    at: datetime
    actor_id: UUID | None = Field(description="Who made the change; null: the system (e.g. a registration)")
    action: str
    subject_type: Literal["user", "company", "role"]
    subject_id: UUID
    details: dict[str, Any]


class AuditPageOut(BaseModel):
    items: list[AuditEntryOut]
    next_before: int | None = Field(description="`before` for the next (older) page; null at the end")


def user_out(u: UserRow) -> UserOut:
    return UserOut(
        id=u.user_id,
        company_id=u.company_id,
        email=u.email,
        first_name=u.first_name,
        last_name=u.last_name,
        language=u.language,
        status="active" if u.status == "active" else "inactive",
        role_ids=list(u.role_ids),
        permissions=list(u.permissions),
        budget=BudgetIO.of(u.budget),
        is_main_contact=u.is_main_contact,
        erp_contact_id=u.erp_contact_id,
        created_at=u.created_at,
        updated_at=u.updated_at,
        version=u.version,
        erased=u.is_erased,
    )


def role_out(r: RoleView) -> RoleOut:
    return RoleOut(
        id=r.role_id,
        name=r.name,
        description=r.description,
        permissions=list(r.permissions),
        predefined=r.predefined,
        version=r.version,
    )


def company_out(c: CompanyRow) -> CompanyOut:
    return CompanyOut(
        id=c.company_id,
        customer_number=c.customer_number,
        name=c.name,
        currency=c.currency,
        main_contact_id=c.main_contact_id,
        approver_ids=list(c.approver_ids),
    )


def me_out(me: Me) -> MeOut:
    return MeOut(
        user=user_out(me.user),
        company=company_out(me.company),
        roles=[role_out(r) for r in me.roles],
        permissions=list(me.user.permissions),
        budget=BudgetIO.of(me.user.budget),
        is_main_contact=me.user.is_main_contact,
        is_approver=me.is_approver,
    )


def approvers_out(a: Approvers) -> ApproversOut:
    return ApproversOut(
        approvers=[user_out(u) for u in a.users],
        main_contact_decides=a.main_contact_decides,
        main_contact=user_out(a.main_contact) if a.main_contact else None,
    )


def contact_out(c: ErpContact) -> ErpContactOut:
    return ErpContactOut(
        erp_contact_id=c.erp_contact_id,
        email=c.email,
        first_name=c.first_name,
        last_name=c.last_name,
        phone=c.phone,
    )


def audit_out(e: AuditEntry) -> AuditEntryOut:
    return AuditEntryOut(
        seq=e.seq,
        at=e.at,
        actor_id=e.actor_id,
        action=e.action,
        subject_type=e.subject_type,
        subject_id=e.subject_id,
        details=e.details,
    )


def parse_if_match(value: str | None) -> int | None:
    if value is None:
        return None
    v = value.strip().removeprefix("W/").strip('"')
    if not v.isdigit() or len(v) > 9:
        raise ApiError(400, "invalid_if_match", 'If-Match must be the current version, e.g. "3".')
    return int(v)


IfMatch = Annotated[
    str | None, Header(alias="If-Match", description='The version the change is meant for, e.g. "3" (optional)')
]


def _tagged(response: Response, user: UserRow) -> UserOut:
    response.headers["ETag"] = f'"{user.version}"'
    return user_out(user)


# ---- routes ----------------------------------------------------------------------------------------------


def users_routers(
    directory: Directory,
    blocking: WorkerPool,
    verify_token: Callable[[str], Caller],
    tokens: TokenIssuer | None = None,
    email_change_ttl: timedelta = email_changes.CONFIRMATION_TTL,
) -> list[APIRouter]:
    """The routers of ``/api/me``, ``/api/users``, ``/api/roles``, ``/api/company``, ``/api/erp-contacts``,
    ``/api/email-changes`` and ``/api/audit``. ``verify_token`` checks a JWT against the issuer's key set and
    returns the caller; ``tokens`` derives the e-mail changes' confirmation tokens (the relay's translator must
    use the same secret)."""
    tokens = tokens or TokenIssuer(secrets.token_bytes(32))

    async def current_actor(request: Request) -> Actor:
        caller = await asyncio.to_thread(verify_token, bearer_token(request))
        return await blocking.run(directory.authenticate, caller)

    Who = Annotated[Actor, Depends(current_actor)]

    me = APIRouter(prefix="/api/me", tags=["me"])

    @me.get("", response_model=MeOut, summary="The caller: company, roles, effective permissions, budget")
    async def get_me(who: Who) -> MeOut:
        return me_out(await blocking.run(directory.me, who))

    users = APIRouter(prefix="/api/users", tags=["users"])

    @users.get("", response_model=UserPageOut, summary="The company's users (filter by status and role; paged)")
    async def list_users(
        who: Who,
        status_: Annotated[Literal["active", "inactive"] | None, Query(alias="status")] = None,
        role: Annotated[str | None, Query(max_length=64, description="A role id")] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> UserPageOut:
        page = await blocking.run(directory.list_users, who, status=status_, role_id=role, limit=limit, offset=offset)
        return UserPageOut(items=[user_out(u) for u in page.items], total=page.total, limit=limit, offset=offset)

    @users.post("", status_code=status.HTTP_201_CREATED, response_model=UserOut, summary="Create a user")
    async def create_user(body: UserIn, who: Who, response: Response) -> UserOut:
        user = await blocking.run(
            directory.create_user,
            who,
            email=str(body.email),
            first_name=body.first_name,
            last_name=body.last_name,
            language=body.language,
            role_ids=body.role_ids,
            budget=body.budget.to_domain() if body.budget else None,
        )
        response.headers["Location"] = f"/api/users/{user.user_id}"
        return _tagged(response, user)

    @users.get("/{user_id}", response_model=UserOut, summary="One user of the company")
    async def get_user(user_id: UUID, who: Who, response: Response) -> UserOut:
        return _tagged(response, await blocking.run(directory.get_user, who, user_id))

    @users.put("/{user_id}/name", response_model=UserOut, summary="Change the user's name")
    async def rename(user_id: UUID, body: NameIn, who: Who, response: Response, if_match: IfMatch = None) -> UserOut:
        user = await blocking.run(
            directory.rename_user, who, user_id, body.first_name, body.last_name, parse_if_match(if_match)
        )
        return _tagged(response, user)

    @users.put(
        "/{user_id}/email",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=EmailChangeOut,
        summary="Start a change of the user's e-mail address (the user themselves or the main contact); it takes "
        "effect when the new address confirms it",
    )
    async def change_email(
        user_id: UUID, body: EmailIn, who: Who, response: Response, if_match: IfMatch = None
    ) -> EmailChangeOut:
        change = await blocking.run(
            email_changes.start,
            directory,
            tokens,
            who,
            user_id,
            str(body.email),
            parse_if_match(if_match),
            email_change_ttl,
        )
        response.headers["Location"] = f"/api/email-changes/{change.id}"
        return EmailChangeOut(
            id=change.id,
            user_id=change.user_id,
            email=change.email,
            current_email=change.previous_email,
            status=change.status.value,
            expires_at=change.expires_at,
        )

    changes = APIRouter(prefix="/api/email-changes", tags=["users"])

    @changes.post(
        "/{change_id}/confirm",
        response_model=UserOut,
        summary="Confirm an e-mail change with the token mailed to the new address (no sign-in needed)",
    )
    async def confirm_email_change(change_id: UUID, body: ConfirmIn, response: Response) -> UserOut:
        return _tagged(response, await blocking.run(email_changes.confirm, directory, change_id, body.token))

    @users.post("/{user_id}/activate", response_model=UserOut, summary="Activate the user")
    async def activate(user_id: UUID, who: Who, response: Response, if_match: IfMatch = None) -> UserOut:
        user = await blocking.run(directory.activate_user, who, user_id, parse_if_match(if_match))
        return _tagged(response, user)

    @users.post(
        "/{user_id}/deactivate",
        response_model=UserOut,
        summary="Deactivate the user (not oneself, not the main contact); refused at once from then on",
    )
    async def deactivate(user_id: UUID, who: Who, response: Response, if_match: IfMatch = None) -> UserOut:
        user = await blocking.run(directory.deactivate_user, who, user_id, parse_if_match(if_match))
        return _tagged(response, user)

    @users.post(
        "/{user_id}/erasure",
        response_model=UserOut,
        summary="Erase a deactivated user: their name and e-mail address become unreadable everywhere (ADR 0035)",
        description="Only the main contact; never themselves (409 `cannot_erase_self`), never the main contact "
        "(409 `cannot_erase_main_contact`); the user must be deactivated first (409 `user_not_deactivated`). "
        "Answers with the erased user (no name, no e-mail address, `erased: true`); repeated, with the same "
        "answer. Publishes `UserErased`.",
    )
    async def erase(user_id: UUID, who: Who, response: Response) -> UserOut:
        return _tagged(response, await blocking.run(directory.erase_user, who, user_id))

    @users.put(
        "/{user_id}/budget",
        response_model=UserOut,
        summary="Set the user's per-order budget and budget per period",
        description="Nobody sets their own budget (403 `cannot_change_own_budget`); it needs `manage_budgets`, and "
        "only the main contact sets the main contact's. `period_budget` absent: the period budget stays as it is; "
        "null: removed.",
    )
    async def set_budget(
        user_id: UUID, body: BudgetIO, who: Who, response: Response, if_match: IfMatch = None
    ) -> UserOut:
        user = await blocking.run(
            directory.set_budget, who, user_id, body.to_domain(), parse_if_match(if_match), body.keeps_period_budget
        )
        return _tagged(response, user)

    @users.put("/{user_id}/roles", response_model=UserOut, summary="Replace the user's roles")
    async def set_roles(
        user_id: UUID, body: RolesIn, who: Who, response: Response, if_match: IfMatch = None
    ) -> UserOut:
        user = await blocking.run(directory.set_roles, who, user_id, body.role_ids, parse_if_match(if_match))
        return _tagged(response, user)

    roles = APIRouter(prefix="/api/roles", tags=["roles"])

    @roles.get("", response_model=list[RoleOut], summary="Predefined and custom roles")
    async def list_roles(who: Who) -> list[RoleOut]:
        return [role_out(r) for r in await blocking.run(directory.roles, who)]

    @roles.get("/permissions", response_model=list[PermissionOut], summary="The catalogue of permissions")
    async def permissions(who: Who) -> list[PermissionOut]:
        return [PermissionOut(id=p.value) for p in CATALOGUE]

    @roles.post("", status_code=status.HTTP_201_CREATED, response_model=RoleOut, summary="Define a custom role")
    async def define_role(body: RoleIn, who: Who, response: Response) -> RoleOut:
        role = await blocking.run(
            directory.define_role,
            who,
            name=body.name,
            description=body.description,
            permissions=[p.value for p in body.permissions],
        )
        response.headers["Location"] = f"/api/roles/{role.role_id}"
        return role_out(role)

    @roles.get("/{role_id}", response_model=RoleOut, summary="One role")
    async def get_role(role_id: RoleId, who: Who) -> RoleOut:
        return role_out(await blocking.run(directory.role, who, role_id))

    @roles.put("/{role_id}", response_model=RoleOut, summary="Redefine a custom role (its holders follow)")
    async def change_role(role_id: RoleId, body: RoleIn, who: Who, if_match: IfMatch = None) -> RoleOut:
        role = await blocking.run(
            directory.change_role,
            who,
            role_id,
            name=body.name,
            description=body.description,
            permissions=[p.value for p in body.permissions],
            expected_version=parse_if_match(if_match),
        )
        return role_out(role)

    @roles.delete("/{role_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a custom role nobody holds")
    async def delete_role(role_id: RoleId, who: Who, if_match: IfMatch = None) -> Response:
        await blocking.run(directory.delete_role, who, role_id, parse_if_match(if_match))
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    company = APIRouter(prefix="/api/company", tags=["company"])

    @company.get("", response_model=CompanyOut, summary="The caller's company")
    async def get_company(who: Who) -> CompanyOut:
        return company_out(await blocking.run(directory.company, who))

    @company.get("/approvers", response_model=ApproversOut, summary="The company's approvers")
    async def get_approvers(who: Who) -> ApproversOut:
        return approvers_out(await blocking.run(directory.approvers, who))

    @company.put("/approvers", response_model=ApproversOut, summary="Name the approvers (empty: the main contact)")
    async def set_approvers(body: ApproversIn, who: Who) -> ApproversOut:
        return approvers_out(await blocking.run(directory.set_approvers, who, body.user_ids))

    @company.post(
        "/main-contact", response_model=CompanyOut, summary="Hand the main-contact role to another active user"
    )
    async def transfer(body: TransferIn, who: Who) -> CompanyOut:
        row = await blocking.run(directory.transfer_main_contact, who, body.user_id, body.roles_for_previous)
        return company_out(row)

    contacts = APIRouter(prefix="/api/erp-contacts", tags=["erp-contacts"])

    @contacts.get("", response_model=list[ErpContactOut], summary="Contacts the ERP knows that are not users yet")
    async def list_contacts(who: Who) -> list[ErpContactOut]:
        return [contact_out(c) for c in await blocking.run(directory.erp_contacts, who)]

    @contacts.post(
        "/{erp_contact_id}/take-over",
        status_code=status.HTTP_201_CREATED,
        response_model=UserOut,
        summary="Make an ERP contact a user (prefilled; 200 with the same user when repeated)",
    )
    async def take_over(
        erp_contact_id: Annotated[str, StringConstraints(min_length=1, max_length=200)],
        who: Who,
        response: Response,
        body: TakeOverIn | None = None,
    ) -> UserOut:
        body = body or TakeOverIn()
        user, created = await blocking.run(
            directory.take_over_erp_contact,
            who,
            erp_contact_id,
            email=str(body.email) if body.email else None,
            first_name=body.first_name,
            last_name=body.last_name,
            language=body.language,
            role_ids=body.role_ids,
        )
        if not created:
            response.status_code = status.HTTP_200_OK
        response.headers["Location"] = f"/api/users/{user.user_id}"
        return _tagged(response, user)

    audit = APIRouter(prefix="/api/audit", tags=["audit"])

    @audit.get("", response_model=AuditPageOut, summary="Who changed what about whom, and when (newest first)")
    async def get_audit(
        who: Who,
        subject_id: Annotated[UUID | None, Query(description="Only changes of this user, role or company")] = None,
        before: Annotated[int | None, Query(ge=1)] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> AuditPageOut:
        entries = await blocking.run(directory.audit, who, subject_id=subject_id, before=before, limit=limit)
        return AuditPageOut(
            items=[audit_out(e) for e in entries],
            next_before=entries[-1].seq if len(entries) == limit else None,
        )

    return [me, users, changes, roles, company, contacts, audit]
