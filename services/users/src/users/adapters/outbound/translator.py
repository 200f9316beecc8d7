"""Domain events of Company, User and Role → contract messages on the companies and users topics (USERS_*).

Both topics are keyed by company id (the approval service's read model needs a company's changes in order).
KeyClaim events are bookkeeping and stay inside.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

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
            period=p.period,  # type: ignore[arg-type]  # checked by PeriodBudget
            max_value=Money(amount=p.max_value, currency=p.currency),
            max_total_quantity=p.max_total_quantity,
        )
    return v1.Budget(max_total_quantity=b.max_total_quantity, max_order_value=value, period_budget=period)


def _user_message(event: Any) -> Message | None:
    e = vars(event)
    ids = {"user_id": event.originator_id, "company_id": e["company_id"], "changed_by": e["by"]}
    if isinstance(event, User.Created):  # type: ignore[attr-defined]  # event classes are made by @event
        return v1.UserCreated(
            **ids,
            email=e["email"],
            first_name=e["first_name"],
            last_name=e["last_name"],
            language=e["language"],
            role_ids=list(e["role_ids"]),
            permissions=list(e["permissions"]),
            budget=budget(e["budget"]),
            is_main_contact=MAIN_CONTACT in e["role_ids"],
            erp_contact_id=e["erp_contact_id"],
            created_at=e["created_at"],
        )
    if isinstance(event, User.Renamed):  # type: ignore[attr-defined]
        return v1.UserRenamed(**ids, first_name=e["first_name"], last_name=e["last_name"])
    if isinstance(event, User.EmailChanged):  # type: ignore[attr-defined]
        return v1.UserEmailChanged(**ids, email=e["email"], previous_email=e["previous_email"])
    if isinstance(event, User.Activated):  # type: ignore[attr-defined]
        return v1.UserActivated(**ids)
    if isinstance(event, User.Deactivated):  # type: ignore[attr-defined]
        return v1.UserDeactivated(**ids)
    if isinstance(event, User.BudgetSet):  # type: ignore[attr-defined]
        return v1.UserBudgetSet(**ids, budget=budget(e["budget"]))
    if isinstance(event, User.RolesSet):  # type: ignore[attr-defined]
        return v1.UserRolesSet(
            **ids,
            role_ids=list(e["role_ids"]),
            permissions=list(e["permissions"]),
            is_main_contact=MAIN_CONTACT in e["role_ids"],
        )
    if isinstance(event, User.PermissionsChanged):  # type: ignore[attr-defined]
        return v1.UserPermissionsChanged(**ids, permissions=list(e["permissions"]), cause_role_id=e["cause_role_id"])
    return None


def _company_message(event: Any) -> Message | None:
    e = vars(event)
    company_id = event.originator_id
    if isinstance(event, Company.Created):  # type: ignore[attr-defined]
        return v1.CompanyCreated(
            company_id=company_id,
            customer_number=e["customer_number"],
            name=e["name"],
            currency=e["currency"],
            main_contact_id=e["main_contact_id"],
            registration_id=e["registration_id"],
            created_at=event.timestamp,
        )
    if isinstance(event, Company.ApproversSet):  # type: ignore[attr-defined]
        return v1.ApproversSet(company_id=company_id, approver_ids=list(e["approver_ids"]), changed_by=e["by"])
    if isinstance(event, Company.ApproverRemoved):  # type: ignore[attr-defined]
        return v1.ApproverRemoved(
            company_id=company_id,
            user_id=e["user_id"],
            reason=e["reason"],
            approver_ids=list(e["approver_ids"]),
            changed_by=e["by"],
        )
    if isinstance(event, Company.MainContactTransferred):  # type: ignore[attr-defined]
        return v1.MainContactTransferred(
            company_id=company_id,
            previous_main_contact_id=e["previous_main_contact_id"],
            main_contact_id=e["main_contact_id"],
            changed_by=e["by"],
        )
    return None  # ErpContactTakenOver: the new user's UserCreated carries the ERP contact id


def _role_message(event: Any) -> Message | None:
    e = vars(event)
    common = {"company_id": e["company_id"], "role_id": str(event.originator_id), "changed_by": e["by"]}
    if isinstance(event, Role.Defined | Role.Changed):  # type: ignore[attr-defined]
        cls = v1.RoleDefined if isinstance(event, Role.Defined) else v1.RoleChanged  # type: ignore[attr-defined]
        return cls(**common, name=e["name"], description=e["description"], permissions=list(e["permissions"]))
    if isinstance(event, Role.Deleted):  # type: ignore[attr-defined]
        return v1.RoleDeleted(**common)
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
            reason=event.reason,  # type: ignore[arg-type]
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
    return [Outgoing(topic=topic, key=str(message.company_id), message=message)]  # type: ignore[attr-defined]


def make_translator(tokens: TokenIssuer, confirm_path_template: str) -> Callable[[Any], Sequence[Outgoing]]:
    """:func:`translate`, plus the e-mail change's confirmation request, whose clear token is derived again
    here from the stored nonce (the only place it exists after the request that started the change)."""

    def translate_all(event: Any) -> Sequence[Outgoing]:
        if isinstance(event, EmailChange.Requested):
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
