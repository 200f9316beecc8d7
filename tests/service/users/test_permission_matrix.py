"""The delegation policy, enforced 100 %: endpoint × actor × company × target through the users HTTP API.

Every cell's expected answer comes from the policy module's declarative table (``users.domain.policy.RULES``
via :func:`~users.domain.policy.decide`); the HTTP API under test is the real one (routes, use cases, domain,
error mapping) on the in-memory store. Each cell gets fresh companies, so no cell depends on another.

- **actor**: the main contact; ``users_admin`` (a custom role with only ``manage_users``); ``budget_admin``
  (only ``manage_budgets``); ``admin`` (a custom role with all seven permissions, not the main contact);
  ``buyer`` (the predefined role).
- **company / target**: the actor themselves, another user of their company, their main contact; another
  company's user or main contact (always answered as if it did not exist: 404).

What the actions give (roles, a role's permissions) is fixed per endpoint, and what is *given* is computed from
it the way the use case does (permissions the target does not hold yet; a role's added permissions), so the
"nobody grants a permission they do not hold" cells follow from the table too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from tests.service.users.conftest import World, make_world
from tests.service.users.test_http import auth, verify
from tests.support.users import erp_contact, unique_email
from users.application.directory import Directory
from users.domain.permissions import BUYER, CATALOGUE, PREDEFINED_ROLES
from users.domain.policy import RULES, Action, Target, Who, decide
from users.main import DOMAIN_ERRORS, create_app
from users.settings import UsersSettings

ALL = frozenset(p.value for p in CATALOGUE)
BUYER_PERMISSIONS = frozenset(p.value for p in PREDEFINED_ROLES[BUYER].permissions)

ACTORS: dict[str, frozenset[str] | None] = {
    "main_contact": None,  # the main contact (every permission through the main-contact role)
    "users_admin": frozenset({"manage_users"}),
    "budget_admin": frozenset({"manage_budgets"}),
    "admin": ALL,
    "buyer": BUYER_PERMISSIONS,
}

OWN_TARGETS = ("self", "other", "main_contact")
OTHER_COMPANY_TARGETS = ("other", "main_contact")


@dataclass(frozen=True)
class Endpoint:
    action: Action
    method: str
    path: str
    """Placeholders: ``{user}`` (the target), ``{role}`` (a custom role of the target's company), ``{contact}``."""
    ok: int = 200
    body: Callable[[str], Any] | None = None
    """The body, given the target user's id."""
    role_permissions: tuple[str, ...] = ()
    """What the ``{role}`` holds before the call."""
    gives: frozenset[str] = frozenset()
    """The permissions the call gives (to a user or to a role)."""
    target_in_body: bool = False
    inactive_target: bool = False
    """The other user of the company is deactivated first (erasure needs it)."""

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def has_target(self) -> bool:
        return "{user}" in self.path or self.target_in_body

    @property
    def has_ids(self) -> bool:
        return self.has_target or "{role}" in self.path or "{contact}" in self.path


def _new_user(_: str) -> dict[str, Any]:
    return {"email": unique_email("mx"), "first_name": "Mia", "last_name": "Matrix", "role_ids": [BUYER]}


# fmt: off
ENDPOINTS = [
    Endpoint(Action.VIEW_USERS,            "GET",    "/api/users"),
    Endpoint(Action.VIEW_USERS,            "GET",    "/api/users/{user}"),
    Endpoint(Action.CREATE_USER,           "POST",   "/api/users", ok=201, body=_new_user, gives=BUYER_PERMISSIONS),
    Endpoint(Action.RENAME_USER,           "PUT",    "/api/users/{user}/name",
             body=lambda _: {"first_name": "Neu", "last_name": "Name"}),
    Endpoint(Action.ACTIVATE_USER,         "POST",   "/api/users/{user}/activate"),
    Endpoint(Action.DEACTIVATE_USER,       "POST",   "/api/users/{user}/deactivate"),
    Endpoint(Action.SET_BUDGET,            "PUT",    "/api/users/{user}/budget", body=lambda _: {"max_total_quantity": 7}),
    Endpoint(Action.SET_ROLES,             "PUT",    "/api/users/{user}/roles", body=lambda _: {"role_ids": [BUYER]},
             gives=BUYER_PERMISSIONS),
    Endpoint(Action.VIEW_ROLES,            "GET",    "/api/roles"),
    Endpoint(Action.VIEW_ROLES,            "GET",    "/api/roles/{role}", role_permissions=("view_data_sheets",)),
    Endpoint(Action.DEFINE_ROLE,           "POST",   "/api/roles", ok=201,
             body=lambda _: {"name": f"R {uuid4().hex[:8]}", "permissions": ["view_reports"]},
             gives=frozenset({"view_reports"})),
    Endpoint(Action.CHANGE_ROLE,           "PUT",    "/api/roles/{role}", role_permissions=("view_data_sheets",),
             body=lambda _: {"name": f"R {uuid4().hex[:8]}", "permissions": ["view_data_sheets", "view_reports"]},
             gives=frozenset({"view_reports"})),
    Endpoint(Action.DELETE_ROLE,           "DELETE", "/api/roles/{role}", ok=204, role_permissions=("view_data_sheets",)),
    Endpoint(Action.SET_APPROVERS,         "PUT",    "/api/company/approvers", body=lambda u: {"user_ids": [u]},
             target_in_body=True),
    Endpoint(Action.TRANSFER_MAIN_CONTACT, "POST",   "/api/company/main-contact", body=lambda u: {"user_id": u},
             target_in_body=True),
    Endpoint(Action.VIEW_ERP_CONTACTS,     "GET",    "/api/erp-contacts"),
    Endpoint(Action.TAKE_OVER_ERP_CONTACT, "POST",   "/api/erp-contacts/{contact}/take-over", ok=201,
             gives=BUYER_PERMISSIONS),
    Endpoint(Action.VIEW_AUDIT,            "GET",    "/api/audit"),
    Endpoint(Action.ERASE_USER,            "POST",   "/api/users/{user}/erasure", inactive_target=True),
]
# fmt: on

OPEN_TO_EVERY_USER = {"GET /api/me", "GET /api/company", "GET /api/company/approvers", "GET /api/roles/permissions"}
"""Routes the policy does not govern: every active user of the company may call them."""
GOVERNED_ELSEWHERE = {"PUT /api/users/{user}/email", "POST /api/email-changes/{change_id}/confirm"}
"""E-mail changes: started by the user or the main contact, confirmed from the new address (their own tests)."""


def _targets(endpoint: Endpoint) -> list[tuple[str, str]]:
    if endpoint.action is Action.TRANSFER_MAIN_CONTACT:
        # Handing the role to oneself or to the main contact is not a delegation question (409 invalid_transfer).
        return [("own", "other"), ("other", "other")]
    if endpoint.has_target:
        return [("own", t) for t in OWN_TARGETS] + [("other", t) for t in OTHER_COMPANY_TARGETS]
    if endpoint.has_ids:
        return [("own", "-"), ("other", "-")]
    return [("own", "-")]


CELLS = [
    pytest.param(e, actor, company, target, id=f"{e.label}|{actor}|{company}|{target}")
    for e in ENDPOINTS
    for actor in ACTORS
    for company, target in _targets(e)
]


# ---- the world of one cell ---------------------------------------------------------------------------------


@dataclass
class Company:
    world: World
    id: UUID
    main_id: UUID
    main_email: str
    contacts: list[str]


@pytest.fixture(scope="module")
async def api() -> AsyncIterator[tuple[httpx.AsyncClient, Directory]]:
    app = create_app(
        UsersSettings(database_url="memory://", process_roles=["api"], log_format="console"), verify_token=verify
    )
    directory = app.state.runtime.app
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://users") as client:
        yield client, directory


def _company(directory: Directory) -> Company:
    world = make_world(directory, erp_contacts=[erp_contact("Carla")])
    contacts = [c.erp_contact_id for c in world.registration.erp_contacts]
    return Company(world, world.company_id, world.main.user_id, world.main_email, contacts)


def _user(directory: Directory, company: Company, role_ids: list[str]) -> tuple[UUID, str]:
    user = company.world.user(role_ids=role_ids, email=unique_email("mx"))
    return user.user_id, user.email


def _role(directory: Directory, company: Company, permissions: tuple[str, ...] | frozenset[str]) -> str:
    main = company.world.main
    return directory.define_role(main, name=f"Rolle {uuid4().hex[:8]}", permissions=sorted(permissions)).role_id


def _actor(directory: Directory, company: Company, name: str) -> tuple[UUID, str, frozenset[str], bool]:
    permissions = ACTORS[name]
    if permissions is None:
        return company.main_id, company.main_email, ALL, True
    roles = [BUYER] if name == "buyer" else [_role(directory, company, permissions)]
    user_id, email = _user(directory, company, roles)
    return user_id, email, permissions, False


def _target_user(directory: Directory, company: Company, endpoint: Endpoint) -> tuple[UUID, frozenset[str]]:
    """Another user of ``company``: an approver for the approver list (only they can be named), else a user
    with no role at all (so a role given is a permission given)."""
    if endpoint.action is Action.SET_APPROVERS:
        return _user(directory, company, ["approver"])[0], frozenset(PREDEFINED_ROLES["approver"].permissions)
    return _user(directory, company, [])[0], frozenset()


# ---- the expected answer: from the policy's table ---------------------------------------------------------


def _status(refusal: Exception) -> int:
    for cls in type(refusal).__mro__:
        if cls in DOMAIN_ERRORS:
            return DOMAIN_ERRORS[cls]
    raise AssertionError(f"{type(refusal).__name__} has no HTTP status")


def expected(
    endpoint: Endpoint, who: Who, company: str, target: Target | None, target_permissions: frozenset[str]
) -> tuple[int, str | None]:
    refusal = decide(endpoint.action, who)
    if refusal is not None:
        return _status(refusal), refusal.code
    if company == "other":
        return 404, "not_found"
    rule = RULES[endpoint.action]
    gives = endpoint.gives - target_permissions if endpoint.action is Action.SET_ROLES else endpoint.gives
    refusal = decide(endpoint.action, who, target if rule.on_target else None, gives)
    if refusal is not None:
        return _status(refusal), refusal.code
    return endpoint.ok, None


@pytest.mark.parametrize(("endpoint", "actor", "company", "target"), CELLS)
async def test_the_policy_decides_every_cell(api, endpoint: Endpoint, actor: str, company: str, target: str):
    client, directory = api
    own, theirs = _company(directory), _company(directory)
    actor_id, actor_email, actor_permissions, actor_is_main = _actor(directory, own, actor)
    where = own if company == "own" else theirs

    target_id: UUID | None = None
    target_permissions: frozenset[str] = frozenset()
    if target == "self":
        target_id, target_permissions = actor_id, actor_permissions
    elif target == "main_contact":
        target_id, target_permissions = where.main_id, ALL
    elif target == "other":
        target_id, target_permissions = _target_user(directory, where, endpoint)
        if endpoint.inactive_target:
            directory.deactivate_user(where.world.main, target_id)
    is_main = target == "main_contact" or (target == "self" and actor_is_main)

    ids = {"user": str(target_id), "contact": where.contacts[0]}
    if "{role}" in endpoint.path:
        ids["role"] = _role(directory, where, endpoint.role_permissions)
    path = endpoint.path.format(**ids)
    body = endpoint.body(str(target_id)) if endpoint.body else None
    r = await client.request(endpoint.method, path, json=body, headers=auth(actor_email))

    who = Who(actor_id, actor_permissions, actor_is_main)
    status, code = expected(
        endpoint, who, company, Target(target_id, is_main) if target_id else None, target_permissions
    )
    answer = (r.status_code, r.json()["error"]["code"] if r.status_code >= 400 else None)
    assert answer == (status, code), f"{endpoint.label} as {actor} on {company}/{target}: {r.text[:300]}"


# ---- the table covers the API, and the cells cover the rules -------------------------------------------------


def test_every_route_of_users_is_in_the_matrix_or_open_to_every_user():
    app = create_app(
        UsersSettings(database_url="memory://", process_roles=["api"], log_format="console"), verify_token=verify
    )
    routes = {
        f"{method.upper()} {path}".replace("{user_id}", "{user}")
        .replace("{role_id}", "{role}")
        .replace("{erp_contact_id}", "{contact}")
        for path, operations in app.openapi()["paths"].items()
        for method in operations
        if path.startswith("/api/")
    }
    assert routes - GOVERNED_ELSEWHERE == {e.label for e in ENDPOINTS} | OPEN_TO_EVERY_USER


def test_every_action_of_the_policy_has_an_endpoint():
    assert {e.action for e in ENDPOINTS} == set(RULES)


def test_every_kind_of_refusal_occurs_in_the_matrix():
    """The matrix is not vacuous: each rule of the table refuses at least one cell."""
    codes = set()
    for param in CELLS:
        endpoint, actor, company, target = param.values
        permissions = ACTORS[actor] or ALL
        who = Who(uuid4(), permissions, ACTORS[actor] is None)
        me = target == "self"
        t = Target(who.user_id if me else uuid4(), target == "main_contact" or (me and who.is_main_contact))
        codes.add(expected(endpoint, who, company, t, frozenset())[1])
    assert {
        "missing_permission",
        "not_found",
        "main_contact_only",
        "cannot_change_own_roles",
        "cannot_change_own_budget",
        "cannot_change_own_approver_status",
        "cannot_deactivate_self",
        "cannot_erase_self",
        "cannot_grant_unheld_permission",
        None,
    } <= codes
