"""Who may change what: the delegation rules of user administration, written down once.

The main contact decides who may do what; delegation must never lead to more than the main contact allowed.
Every administrative use case asks :func:`decide` (through :func:`check`) with what it is about to do, and the
permission-matrix tests are generated from :data:`RULES` (``tests/service/users/test_permission_matrix.py``).

The rules, in the order they are checked:

1. **needs** — the permission the action needs (or the main contact, for ``MAIN_CONTACT_ONLY``);
2. **self** — an action on oneself that nobody may take (own roles, budget, approver status, deactivation, erasure);
3. **the main contact** — only the main contact acts on the main contact (name, status, roles, budget; an
   e-mail change is confirmed from the new address and started only by the user or the main contact:
   ``users.application.email_changes``);
4. **grants** — whatever the action gives (a role's permissions, a user's roles) must be held by the actor:
   nobody grants a permission they do not hold, and a custom role is defined or widened only with
   permissions its definer holds.

Whether the target exists in the actor's company (404 otherwise) is checked between 1 and 2 by the use case.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from users.domain.errors import CannotDeactivateSelf, CannotEraseSelf, Forbidden, MissingPermission, UsersError
from users.domain.permissions import Permission, sorted_permissions


class Action(StrEnum):
    VIEW_USERS = "view_users"
    CREATE_USER = "create_user"
    RENAME_USER = "rename_user"
    ACTIVATE_USER = "activate_user"
    DEACTIVATE_USER = "deactivate_user"
    SET_BUDGET = "set_budget"
    SET_ROLES = "set_roles"
    VIEW_ROLES = "view_roles"
    DEFINE_ROLE = "define_role"
    CHANGE_ROLE = "change_role"
    DELETE_ROLE = "delete_role"
    SET_APPROVERS = "set_approvers"
    TRANSFER_MAIN_CONTACT = "transfer_main_contact"
    VIEW_ERP_CONTACTS = "view_erp_contacts"
    TAKE_OVER_ERP_CONTACT = "take_over_erp_contact"
    VIEW_AUDIT = "view_audit"
    ERASE_USER = "erase_user"


MAIN_CONTACT_ONLY = "main_contact_only"
"""``Rule.needs`` of actions only the main contact may take, whatever their permissions."""


class CannotChangeOwnRoles(Forbidden):
    code = "cannot_change_own_roles"


class CannotChangeOwnBudget(Forbidden):
    code = "cannot_change_own_budget"


class CannotChangeOwnApproverStatus(Forbidden):
    code = "cannot_change_own_approver_status"


class MainContactOnly(Forbidden):
    """Acting on the main contact, or handing the role on: the main contact's own business."""

    code = "main_contact_only"


class CannotGrantUnheldPermission(Forbidden):
    code = "cannot_grant_unheld_permission"

    def __init__(self, message: str, missing: Iterable[str]) -> None:
        super().__init__(message)
        self.missing = sorted_permissions(missing)
        self.details = [{"permission": p} for p in self.missing]


@dataclass(frozen=True)
class Rule:
    needs: Permission | str | None
    """A permission; ``MAIN_CONTACT_ONLY``; None: nothing beyond being an active user."""
    on_self: type[UsersError] | None = None
    """The refusal when the target is the actor (None: allowed on oneself)."""
    main_contact_target_reserved: bool = False
    """True: when the target is the main contact, only the main contact may act."""
    grants: bool = False
    """True: every permission the action gives must be held by the actor."""
    on_target: bool = False
    """True: the action names a user of the company (self / other / main contact apply)."""


# fmt: off
RULES: dict[Action, Rule] = {
    Action.VIEW_USERS:            Rule(Permission.MANAGE_USERS),
    Action.CREATE_USER:           Rule(Permission.MANAGE_USERS, grants=True),
    Action.RENAME_USER:           Rule(Permission.MANAGE_USERS, main_contact_target_reserved=True, on_target=True),
    Action.ACTIVATE_USER:         Rule(Permission.MANAGE_USERS, main_contact_target_reserved=True, on_target=True),
    Action.DEACTIVATE_USER:       Rule(Permission.MANAGE_USERS, on_self=CannotDeactivateSelf,
                                       main_contact_target_reserved=True, on_target=True),
    Action.SET_BUDGET:            Rule(Permission.MANAGE_BUDGETS, on_self=CannotChangeOwnBudget,
                                       main_contact_target_reserved=True, on_target=True),
    Action.SET_ROLES:             Rule(Permission.MANAGE_USERS, on_self=CannotChangeOwnRoles,
                                       main_contact_target_reserved=True, grants=True, on_target=True),
    Action.VIEW_ROLES:            Rule(Permission.MANAGE_USERS),
    Action.DEFINE_ROLE:           Rule(Permission.MANAGE_USERS, grants=True),
    Action.CHANGE_ROLE:           Rule(Permission.MANAGE_USERS, grants=True),
    Action.DELETE_ROLE:           Rule(Permission.MANAGE_USERS),
    Action.SET_APPROVERS:         Rule(Permission.MANAGE_USERS, on_self=CannotChangeOwnApproverStatus, on_target=True),
    Action.TRANSFER_MAIN_CONTACT: Rule(MAIN_CONTACT_ONLY),
    Action.VIEW_ERP_CONTACTS:     Rule(Permission.MANAGE_USERS),
    Action.TAKE_OVER_ERP_CONTACT: Rule(Permission.MANAGE_USERS, grants=True),
    Action.VIEW_AUDIT:            Rule(Permission.MANAGE_USERS),
    Action.ERASE_USER:            Rule(MAIN_CONTACT_ONLY, on_self=CannotEraseSelf, on_target=True),
}
# fmt: on

_SELF_MESSAGES = {
    CannotDeactivateSelf: "Nobody can deactivate themselves.",
    CannotEraseSelf: "Nobody can erase themselves.",
    CannotChangeOwnBudget: "Nobody can change their own budget; ask another user who manages budgets.",
    CannotChangeOwnRoles: "Nobody can change their own roles; ask another user who manages users.",
    CannotChangeOwnApproverStatus: "Nobody can name or remove themselves as an approver.",
}


@dataclass(frozen=True)
class Who:
    """The actor as the policy sees them."""

    user_id: UUID
    permissions: frozenset[str]
    is_main_contact: bool


@dataclass(frozen=True)
class Target:
    """The user an action is about (already known to be of the actor's company)."""

    user_id: UUID
    is_main_contact: bool


def decide(action: Action, who: Who, target: Target | None = None, granted: Iterable[str] = ()) -> UsersError | None:
    """The refusal of ``action`` by ``who`` on ``target`` giving ``granted`` permissions, or None: allowed.

    ``target`` is None before the target is known (the permission check) and for actions without one.
    """
    rule = RULES[action]
    if rule.needs == MAIN_CONTACT_ONLY:
        if not who.is_main_contact:
            return MainContactOnly("Only the main contact can do this.")
    elif rule.needs is not None and str(rule.needs) not in who.permissions:
        return MissingPermission(f"This needs the permission {rule.needs}.")
    if target is not None:
        if rule.on_self is not None and target.user_id == who.user_id:
            return rule.on_self(_SELF_MESSAGES.get(rule.on_self, "Nobody can do this to themselves."))
        if rule.main_contact_target_reserved and target.is_main_contact and not who.is_main_contact:
            return MainContactOnly("Only the main contact can change the main contact.")
    missing = {str(p) for p in granted} - who.permissions if rule.grants else set()
    if missing:
        return CannotGrantUnheldPermission(
            "Nobody can give a permission they do not hold themselves: " + ", ".join(sorted_permissions(missing)),
            missing,
        )
    return None


def check(action: Action, who: Who, target: Target | None = None, granted: Iterable[str] = ()) -> None:
    """Raise the refusal of :func:`decide`, if any."""
    refusal = decide(action, who, target, granted)
    if refusal is not None:
        raise refusal
