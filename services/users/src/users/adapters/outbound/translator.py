"""Domain events of Company, User and Role → contract messages on the companies and users topics (USERS_*).

Both topics are keyed by company id (the approval service's read model needs a company's changes in order).
KeyClaim events are bookkeeping and stay inside.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable
from uuid import UUID

from contracts.base import Message, Money
from contracts.topics import USERS_COMPANIES, USERS_USERS
from contracts.users import v1
from kc_runtime.relay import Outgoing
from kc_runtime.tokens import TokenIssuer
from users.domain.email_change import EmailChange
from users.domain.identity import SignIn
from users.domain.model import Budget, Company, Role, User
from users.domain.permissions import MAIN_CONTACT
from users.domain.refusal import RegistrationRefusal


def budget(b: Budget) -> v1.Budget:
    value = period = None
    if b.max_order_value is not None and b.currency is not None:
        value = Money(amount=b.max_order_value, currency=b.currency)
    if (p := b.period) is not None:
        period = v1.PeriodBudget(
            period=p.period,
            max_value=Money(amount=p.max_value, currency=p.currency),
            max_total_quantity=p.max_total_quantity,
        )
    return v1.Budget(max_total_quantity=b.max_total_quantity, max_order_value=value, period_budget=period)


class _Administered(Protocol):
    """What every User event carries: the company and who did it."""

    @property
    def originator_id(self) -> UUID: ...
    @property
    def company_id(self) -> UUID: ...
    @property
    def by(self) -> UUID | None: ...


def _ids(event: _Administered) -> dict[str, Any]:
    return {"user_id": event.originator_id, "company_id": event.company_id, "changed_by": event.by}


@runtime_checkable
class _OfCompany(Protocol):
    company_id: UUID


def _erased(*values: object) -> bool:
    """Whether a person's values were sealed with a key that no longer exists (ADR 0035): the event store opens
    them as None. Their messages are not made again (a replay after the erasure): the person's ids still come with
    their other events and with ``UserErased``."""
    return any(v is None for v in values)


def _user_message(event: User.Event) -> Message | None:
    if isinstance(event, User.Created | User.Renamed | User.EmailChanged) and _erased(
        *(getattr(event, f) for f in ("email", "first_name", "last_name", "previous_email") if hasattr(event, f))
    ):
        return None
    if isinstance(event, User.Created):
        return v1.UserCreated(
            **_ids(event),
            email=event.email,
            first_name=event.first_name,
            last_name=event.last_name,
            language=event.language,
            role_ids=list(event.role_ids),
            permissions=list(event.permissions),
            budget=budget(event.budget),
            is_main_contact=MAIN_CONTACT in event.role_ids,
            erp_contact_id=event.erp_contact_id,
            created_at=event.created_at,
        )
    if isinstance(event, User.Renamed):
        return v1.UserRenamed(**_ids(event), first_name=event.first_name, last_name=event.last_name)
    if isinstance(event, User.EmailChanged):
        return v1.UserEmailChanged(**_ids(event), email=event.email, previous_email=event.previous_email)
    if isinstance(event, User.Activated):
        return v1.UserActivated(**_ids(event))
    if isinstance(event, User.Deactivated):
        return v1.UserDeactivated(**_ids(event))
    if isinstance(event, User.BudgetSet):
        return v1.UserBudgetSet(**_ids(event), budget=budget(event.budget))
    if isinstance(event, User.RolesSet):
        return v1.UserRolesSet(
            **_ids(event),
            role_ids=list(event.role_ids),
            permissions=list(event.permissions),
            is_main_contact=MAIN_CONTACT in event.role_ids,
        )
    if isinstance(event, User.Erased):
        return v1.UserErased(**_ids(event), erased_at=event.erased_at)
    if isinstance(event, User.PermissionsChanged):
        return v1.UserPermissionsChanged(
            **_ids(event), permissions=list(event.permissions), cause_role_id=event.cause_role_id
        )
    return None


def _company_message(event: Company.Event) -> Message | None:
    company_id = event.originator_id
    if isinstance(event, Company.Created):
        return v1.CompanyCreated(
            company_id=company_id,
            customer_number=event.customer_number,
            name=event.name,
            currency=event.currency,
            main_contact_id=event.main_contact_id,
            registration_id=event.registration_id,
            created_at=event.timestamp,
        )
    if isinstance(event, Company.ApproversSet):
        return v1.ApproversSet(company_id=company_id, approver_ids=list(event.approver_ids), changed_by=event.by)
    if isinstance(event, Company.ApproverRemoved):
        return v1.ApproverRemoved(
            company_id=company_id,
            user_id=event.user_id,
            reason=event.reason,
            approver_ids=list(event.approver_ids),
            changed_by=event.by,
        )
    if isinstance(event, Company.MainContactTransferred):
        return v1.MainContactTransferred(
            company_id=company_id,
            previous_main_contact_id=event.previous_main_contact_id,
            main_contact_id=event.main_contact_id,
            changed_by=event.by,
        )
    return None  # ErpContactTakenOver: the new user's UserCreated carries the ERP contact id


def _role_message(event: Role.Event) -> Message | None:
    if isinstance(event, Role.Defined | Role.Changed | Role.Deleted):
        common: dict[str, Any] = {
            "company_id": event.company_id,
            "role_id": str(event.originator_id),
            "changed_by": event.by,
        }
        if isinstance(event, Role.Deleted):
            return v1.RoleDeleted(**common)
        cls = v1.RoleDefined if isinstance(event, Role.Defined) else v1.RoleChanged
        return cls(**common, name=event.name, description=event.description, permissions=list(event.permissions))
    return None


def translate(event: Any) -> Sequence[Outgoing]:
    if isinstance(event, User.Event):
        message = _user_message(event)
        topic = USERS_USERS
    elif isinstance(event, Company.Event):
        message = _company_message(event)
        topic = USERS_COMPANIES
    elif isinstance(event, Role.Event):
        message = _role_message(event)
        topic = USERS_COMPANIES
    elif isinstance(event, RegistrationRefusal.Refused):
        message = v1.CompanyRegistrationRefused(
            company_id=event.company_id,
            registration_id=event.registration_id,
            customer_number=event.customer_number,
            reason=event.reason,
            refused_at=event.refused_at,
        )
        topic = USERS_COMPANIES
    elif isinstance(event, SignIn.Bound):
        message = v1.UserSignInBound(
            user_id=event.user_id,
            company_id=event.company_id,
            issuer=event.issuer,
            subject=event.subject,
            bound_at=event.bound_at,
        )
        topic = USERS_USERS
    else:
        return []
    if message is None:
        return []
    assert isinstance(message, _OfCompany), "every message of users names its company: its key"
    return [Outgoing(topic=topic, key=str(message.company_id), message=message)]


def make_translator(tokens: TokenIssuer, confirm_path_template: str) -> Callable[[Any], Sequence[Outgoing]]:
    """:func:`translate`, plus the e-mail change's confirmation request, whose clear token is derived again
    here from the stored nonce (the only place it exists after the request that started the change)."""

    def translate_all(event: Any) -> Sequence[Outgoing]:
        if isinstance(event, EmailChange.Requested):
            if _erased(event.email, event.previous_email, event.first_name, event.last_name):
                return []
            token = tokens.token_for(event.user_id, event.token_nonce)
            message = v1.UserEmailChangeRequested(
                change_id=event.originator_id,
                user_id=event.user_id,
                company_id=event.company_id,
                email=event.email,
                previous_email=event.previous_email,
                first_name=event.first_name,
                last_name=event.last_name,
                language=event.language,
                token=token,
                expires_at=event.expires_at,
                confirm_path=confirm_path_template.format(change_id=event.originator_id, token=token),
                changed_by=event.by,
            )
            return [Outgoing(topic=USERS_USERS, key=str(event.company_id), message=message)]
        return translate(event)

    return translate_all
