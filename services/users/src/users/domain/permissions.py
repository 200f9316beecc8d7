"""The fixed catalogue of permissions, the predefined roles, and how roles add up to permissions.

Role ids are strings: the predefined roles have readable ids (``buyer``), custom roles the text of their uuid.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from users.domain.errors import UnknownPermission, UnknownRole


class Permission(StrEnum):
    PLACE_ORDERS = "place_orders"
    APPROVE_ORDERS = "approve_orders"
    VIEW_COMPANY_ORDERS = "view_company_orders"
    MANAGE_USERS = "manage_users"
    MANAGE_BUDGETS = "manage_budgets"
    VIEW_DATA_SHEETS = "view_data_sheets"
    VIEW_REPORTS = "view_reports"


CATALOGUE: tuple[Permission, ...] = tuple(Permission)

MAIN_CONTACT = "main_contact"
BUYER = "buyer"
APPROVER = "approver"
SERVICE_TECHNICIAN = "service_technician"
CONTROLLER = "controller"


@dataclass(frozen=True)
class PredefinedRole:
    id: str
    name: str
    description: str
    permissions: frozenset[Permission]


PREDEFINED_ROLES: dict[str, PredefinedRole] = {
    r.id: r
    for r in (
        PredefinedRole(
            MAIN_CONTACT,
            "Main contact",
            "Runs the company's accounts; exactly one per company, handed on by transfer only.",
            frozenset(Permission),
        ),
        PredefinedRole(
            BUYER,
            "Buyer",
            "Places orders within the budget.",
            frozenset({Permission.PLACE_ORDERS, Permission.VIEW_DATA_SHEETS}),
        ),
        PredefinedRole(
            APPROVER,
            "Approver",
            "Approves or rejects orders over budget.",
            frozenset({Permission.APPROVE_ORDERS, Permission.VIEW_COMPANY_ORDERS, Permission.VIEW_DATA_SHEETS}),
        ),
        PredefinedRole(
            SERVICE_TECHNICIAN,
            "Service technician",
            "Reads data sheets; no checkout.",
            frozenset({Permission.VIEW_DATA_SHEETS}),
        ),
        PredefinedRole(
            CONTROLLER,
            "Controller",
            "Reads the company's orders and reports.",
            frozenset({Permission.VIEW_COMPANY_ORDERS, Permission.VIEW_REPORTS}),
        ),
    )
}

RESERVED_ROLE_NAMES = frozenset(
    {r.name.casefold() for r in PREDEFINED_ROLES.values()} | {r.id.casefold() for r in PREDEFINED_ROLES.values()}
)


def parse_permissions(values: Iterable[str]) -> frozenset[Permission]:
    out = set()
    for value in values:
        try:
            out.add(Permission(value))
        except ValueError:
            raise UnknownPermission(f"Unknown permission {value!r}.") from None
    return frozenset(out)


def effective_permissions(role_ids: Iterable[str], custom_roles: Mapping[str, Iterable[str]]) -> frozenset[Permission]:
    """The union of the permissions of ``role_ids``; ``custom_roles`` maps custom role ids to their permissions."""
    out: set[Permission] = set()
    for role_id in role_ids:
        predefined = PREDEFINED_ROLES.get(role_id)
        if predefined is not None:
            out |= predefined.permissions
        elif role_id in custom_roles:
            out |= parse_permissions(custom_roles[role_id])
        else:
            raise UnknownRole(f"Unknown role {role_id!r}.")
    return frozenset(out)


def sorted_permissions(permissions: Iterable[str]) -> tuple[str, ...]:
    """Permissions in catalogue order (stable output for events, the API and the wire)."""
    order = {p.value: i for i, p in enumerate(CATALOGUE)}
    return tuple(sorted({str(p) for p in permissions}, key=lambda p: order.get(p, len(order))))
