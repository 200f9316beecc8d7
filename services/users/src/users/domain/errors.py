"""Errors of the users domain. Each carries a machine-readable ``code``; its base class decides the HTTP status."""

from __future__ import annotations


class UsersError(Exception):
    code = "users_error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class Unauthenticated(UsersError):
    """The token is valid, but names nobody we know (401)."""

    code = "unknown_user"


class Forbidden(UsersError):
    """The caller is known but may not do this (403)."""

    code = "forbidden"


class UserInactive(Forbidden):
    code = "user_inactive"


class MissingPermission(Forbidden):
    code = "missing_permission"


class NotFound(UsersError):
    """Unknown, or another company's: indistinguishable on purpose (404)."""

    code = "not_found"


class Conflict(UsersError):
    """The request is valid but contradicts the current state (409)."""

    code = "conflict"


class EmailTaken(Conflict):
    code = "email_taken"


class RoleNameTaken(Conflict):
    code = "role_name_taken"


class RoleInUse(Conflict):
    code = "role_in_use"


class CannotDeactivateSelf(Conflict):
    code = "cannot_deactivate_self"


class CannotDeactivateMainContact(Conflict):
    code = "cannot_deactivate_main_contact"


class CannotEraseSelf(Conflict):
    code = "cannot_erase_self"


class CannotEraseMainContact(Conflict):
    code = "cannot_erase_main_contact"


class UserNotDeactivated(Conflict):
    """Erasure needs a deactivated user: nobody is erased while they can still sign in."""

    code = "user_not_deactivated"


class UserErased(Conflict):
    """The user was erased: nothing about them changes any more."""

    code = "user_erased"


class InvalidTransfer(Conflict):
    code = "invalid_transfer"


class KeyTaken(Conflict):
    """A unique key (an e-mail address, a role name) belongs to someone else."""

    code = "key_taken"


class Gone(UsersError):
    """Known, but gone for good (410)."""

    code = "gone"


class PersonErased(Gone):
    """The person was erased: their key is destroyed (ADR 0035)."""

    code = "person_erased"


class Invalid(UsersError):
    """The request breaks a rule of the domain (422)."""

    code = "invalid"


class InvalidBudget(Invalid):
    code = "invalid_budget"


class InvalidName(Invalid):
    code = "invalid_name"


class InvalidEmail(Invalid):
    code = "invalid_email"


class UnknownRole(Invalid):
    code = "unknown_role"


class UnknownPermission(Invalid):
    code = "unknown_permission"


class MainContactRoleReserved(Invalid):
    code = "main_contact_role_reserved"


class InvalidRole(Invalid):
    code = "invalid_role"


class InvalidApprover(Invalid):
    code = "invalid_approver"


class VersionMismatch(UsersError):
    """``If-Match`` named another version than the current one (412)."""

    code = "version_mismatch"
