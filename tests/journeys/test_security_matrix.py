"""Who may call what: every endpoint of users, approval and notifications (and registration's public ones), generated from one
declarative table of (endpoint, method, what it needs), against callers of every relation, through the gateway.

For each endpoint:

- **allowed**: a caller holding just what the endpoint needs (a custom role with that one permission; for
  endpoints open to every user, one with only ``view_data_sheets``) gets the expected 2xx;
- **denied**: a caller holding every permission but that one gets 403 (404 where the order itself is hidden);
- an endpoint that answers **a result per order** (bulk decisions) answers 200, and its one order's result says
  what the single endpoint would have answered (decided; ``not_allowed``; ``not_found``);
- **other company**: company A's main contact (every permission) naming company B's data gets exactly the
  answer an id that does not exist gets (404, or an empty list);
- **tokens**: forged, expired, for another audience or issuer, none at all → 401 ``invalid_token``; a valid
  token of nobody we know → 401 ``unknown_user``; a deactivated user's token → 403 ``user_inactive``.

Lists without ids never show company B's data to company A. Registration's public endpoints answer the same
with no token, a forged one or a valid one. Enumeration and brute force at registration: the registration
journeys.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest

from tests.conftest import eventually
from tests.journeys.test_registration_support import random_ip
from tests.support.infra import ROOT
from tests.support.orders import order_body
from tests.support.security import FORGED_KINDS, bad_token, bare, error_code
from tests.support.shop import BUDGET, Shop
from tests.support.users import UsersApi, erp_contact, journey_fixtures, unique_email

pytestmark = pytest.mark.journey

registrar, users_api = journey_fixtures()

PERMISSIONS = (
    "place_orders",
    "approve_orders",
    "view_company_orders",
    "manage_users",
    "manage_budgets",
    "view_data_sheets",
    "view_reports",
)
DAY = timedelta(days=1)
ANY_USER = None
MAIN_CONTACT = "main_contact"  # the main contact, whatever the permissions
BUYER_OF_THE_ORDER = "buyer_of_the_order"


def _new_user(_: dict[str, str]) -> dict[str, Any]:
    # No role: a caller with just manage_users may not give permissions they do not hold (the delegation cells
    # themselves: tests/service/users/test_permission_matrix.py).
    return {"email": unique_email("matrix"), "first_name": "Mia", "last_name": "Matrix", "role_ids": []}


def _new_role(_: dict[str, str]) -> dict[str, Any]:
    return {"name": f"Rolle {uuid4().hex[:10]}", "permissions": ["manage_users"]}


def _order(_: dict[str, str]) -> dict[str, Any]:
    return order_body(quantity=1)


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    """With the placeholders ``{user}``, ``{role}``, ``{order}``, ``{contact}``, ``{absence}`` for the data it acts
    on."""
    needs: str | None = ANY_USER
    """A permission; ``ANY_USER``; ``MAIN_CONTACT``; ``BUYER_OF_THE_ORDER``."""
    ok: int = 200
    body: Callable[[dict[str, str]], Any] | None = None
    body_uses: tuple[str, ...] = ()
    """The placeholders the body needs (``user``, ``approver``, ``substitute``)."""
    query: dict[str, str] = field(default_factory=dict)
    denied: tuple[int, str] = (403, "missing_permission")
    order_state: str = "pending_approval"
    other: int = 404
    """What company A gets for company B's data (the same as for data that does not exist)."""
    denied_caller: str | None = None
    """For an endpoint that either of two permissions opens (``needs`` and another): a caller holding neither,
    instead of one holding every permission but ``needs``."""
    per_order: bool = False
    """Answers 200 with a result per order named in the body: ``ok``, ``denied`` and ``other`` are checked on the one
    order's result (decided, or its error code). The result names the order the caller sent, and only that."""
    echoes_ids: bool = False
    """Its error names the order the caller sent that stopped it (a bundle): repeating an id tells them nothing."""

    @property
    def uses(self) -> tuple[str, ...]:
        text = self.path + " ".join(self.query.values())
        return tuple(dict.fromkeys([*re.findall(r"{(\w+)}", text), *self.body_uses]))

    @property
    def label(self) -> str:
        query = "?" + "&".join(f"{k}={v}" for k, v in self.query.items()) if self.query else ""
        return f"{self.method} {self.path}{query}"


NOT_ALLOWED = (403, "not_allowed")
HIDDEN = (404, "not_found")


def _body(value: Any) -> Callable[[dict[str, str]], Any]:
    return lambda _: value


def _approvers(ids: dict[str, str]) -> dict[str, Any]:
    return {"user_ids": [ids["approver"]]}


def _successor(ids: dict[str, str]) -> dict[str, Any]:
    return {"user_id": ids["user"]}


def _moved(_: dict[str, str]) -> dict[str, Any]:
    return {"email": unique_email("moved")}


def _decisions(ids: dict[str, str]) -> dict[str, Any]:
    return {"decision": "approve", "order_ids": [ids["order"]], "comment": "alle ok"}


def _bundle(ids: dict[str, str]) -> dict[str, Any]:
    return {"order_ids": [ids["order"], ids["order2"]], "comment": "eine Lieferung"}


def _re_evaluation(ids: dict[str, str]) -> dict[str, Any]:
    return {"buyer_id": ids["user"], "dry_run": True}


def _resubmission(_: dict[str, str]) -> dict[str, Any]:
    return {"comment": "Jetzt weniger", "order": order_body(quantity=1)}


def _what_if_budget(ids: dict[str, str]) -> dict[str, Any]:
    return {"changes": [{"kind": "budget", "user_id": ids["user"], "budget": {"max_total_quantity": 1}}]}


def _what_if_approvers(ids: dict[str, str]) -> dict[str, Any]:
    return {"changes": [{"kind": "approvers", "approvers": [ids["approver"]]}]}


def _period(start: timedelta, length: timedelta) -> dict[str, str]:
    begin = datetime.now(UTC) + start
    return {"from": begin.isoformat(), "until": (begin + length).isoformat()}


def _absence(ids: dict[str, str]) -> dict[str, Any]:
    """An absence of the approver a month from now (never in force while the matrix runs)."""
    return {"approver_id": ids["approver"], "substitute_id": ids["substitute"], **_period(timedelta(days=30), DAY)}


# fmt: off
ENDPOINTS = [
    # ---- users ---------------------------------------------------------------------------------------------
    Endpoint("GET",    "/api/me"),
    Endpoint("GET",    "/api/company"),
    Endpoint("GET",    "/api/company/approvers"),
    Endpoint("GET",    "/api/roles/permissions"),
    Endpoint("GET",    "/api/users",                             "manage_users"),
    Endpoint("POST",   "/api/users",                             "manage_users", ok=201, body=_new_user),
    Endpoint("GET",    "/api/users/{user}",                      "manage_users"),
    Endpoint("PUT",    "/api/users/{user}/name",                 "manage_users", body=_body({"first_name": "Neu", "last_name": "Name"})),
    # only the user themselves or the main contact starts an e-mail change (confirmed from the new mailbox)
    Endpoint("PUT",    "/api/users/{user}/email",                MAIN_CONTACT, ok=202, body=_moved,
             denied=(403, "email_change_not_allowed")),
    Endpoint("POST",   "/api/users/{user}/activate",             "manage_users"),
    Endpoint("POST",   "/api/users/{user}/deactivate",           "manage_users"),
    Endpoint("PUT",    "/api/users/{user}/budget",               "manage_budgets", body=_body(BUDGET)),
    Endpoint("PUT",    "/api/users/{user}/roles",                "manage_users", body=_body({"role_ids": []})),
    # erasing a person: the main contact only, and only a deactivated user (tests/journeys/test_users_erasure.py)
    Endpoint("POST",   "/api/users/{user}/erasure",              MAIN_CONTACT, denied=(403, "main_contact_only")),
    Endpoint("GET",    "/api/roles",                             "manage_users"),
    Endpoint("POST",   "/api/roles",                             "manage_users", ok=201, body=_new_role),
    Endpoint("GET",    "/api/roles/{role}",                      "manage_users"),
    Endpoint("PUT",    "/api/roles/{role}",                      "manage_users", body=_new_role),
    Endpoint("DELETE", "/api/roles/{role}",                      "manage_users", ok=204),
    Endpoint("PUT",    "/api/company/approvers",                 "manage_users", body=_approvers, body_uses=("approver",)),
    Endpoint("POST",   "/api/company/main-contact",              MAIN_CONTACT, body=_successor, body_uses=("user",),
             denied=(403, "main_contact_only")),
    Endpoint("GET",    "/api/erp-contacts",                      "manage_users"),
    Endpoint("POST",   "/api/erp-contacts/{contact}/take-over",  "manage_users", ok=201, body=_body({"role_ids": []})),
    Endpoint("GET",    "/api/audit",                             "manage_users"),
    Endpoint("GET",    "/api/audit",                             "manage_users", query={"subject_id": "{user}"}, other=200),
    # ---- approval ------------------------------------------------------------------------------------------
    Endpoint("GET",    "/api/orders"),
    Endpoint("GET",    "/api/orders",                            "view_company_orders", query={"scope": "company"}, denied=(403, "forbidden")),
    Endpoint("GET",    "/api/approvals"),
    Endpoint("GET",    "/api/orders/period-budget"),
    Endpoint("GET",    "/api/orders/period-budget",              "manage_budgets", query={"user_id": "{approver}"},
             denied=NOT_ALLOWED),
    Endpoint("POST",   "/api/orders/evaluate",                   "place_orders", body=_order, denied=NOT_ALLOWED),
    Endpoint("POST",   "/api/orders",                            "place_orders", ok=201, body=_order, denied=NOT_ALLOWED),
    Endpoint("GET",    "/api/orders/{order}",                    "view_company_orders", denied=HIDDEN),
    Endpoint("POST",   "/api/orders/{order}/comments",           "view_company_orders", body=_body({"text": "Eilt"}), denied=HIDDEN),
    Endpoint("POST",   "/api/orders/{order}/approve",            "approve_orders", body=_body({"comment": "ok"}), denied=NOT_ALLOWED),
    Endpoint("POST",   "/api/orders/{order}/reject",             "approve_orders", body=_body({"comment": "nein"}), denied=NOT_ALLOWED),
    Endpoint("POST",   "/api/orders/decisions",                  "approve_orders", body=_decisions, body_uses=("order",),
             denied=(200, "not_allowed"), other=200, per_order=True),
    # bundles (ADR 0034): approved together as by the single approval (the approver of both orders); seen by who sees
    # one of its orders or bundled it
    Endpoint("POST",   "/api/orders/bundles",                    "approve_orders", ok=201, body=_bundle,
             body_uses=("order", "order2"), denied=NOT_ALLOWED, echoes_ids=True),
    Endpoint("GET",    "/api/orders/bundles/{bundle}",           "view_company_orders", denied=HIDDEN),
    # the company's credit at the ERP (ADR 0026): the main contact or who manages budgets; a buyer only sees why their
    # own order waits
    Endpoint("GET",    "/api/orders/credit",                     "manage_budgets", denied=NOT_ALLOWED),
    # re-evaluation of pending orders (ADR 0024): the main contact or who manages budgets; another company's buyer
    # is not found
    Endpoint("POST",   "/api/orders/re-evaluations",             "manage_budgets", body=_body({"dry_run": True}),
             denied=NOT_ALLOWED),
    Endpoint("POST",   "/api/orders/re-evaluations",             "manage_budgets", body=_re_evaluation, body_uses=("user",),
             denied=NOT_ALLOWED),
    Endpoint("POST",   "/api/orders/{order}/cancel",             BUYER_OF_THE_ORDER, body=_body({}), denied=NOT_ALLOWED),
    Endpoint("POST",   "/api/orders/{order}/resubmit",           BUYER_OF_THE_ORDER, body=_resubmission, denied=NOT_ALLOWED,
             order_state="rejected"),
    # an order's explanation (ADR 0028): the buyer, its deciders, the main contact and who reads figures; anyone else
    # who sees the order is refused
    Endpoint("GET",    "/api/orders/{order}/explanation",        "view_reports", denied=NOT_ALLOWED),
    # absences (ADR 0020): one's own if one may approve, anyone's with manage_users (or as the main contact);
    # seen by the absent person, the substitute and those who manage them — hidden from anyone else
    Endpoint("GET",    "/api/absences"),
    Endpoint("POST",   "/api/absences",                          "manage_users", ok=201, body=_absence,
             body_uses=("approver", "substitute"), denied=NOT_ALLOWED),
    Endpoint("GET",    "/api/absences/{absence}",                "manage_users", denied=HIDDEN),
    Endpoint("DELETE", "/api/absences/{absence}",                "manage_users", denied=HIDDEN),
    # the approval policy (ADR 0025): the main contact or who manages users defines it (no tiers here: the default, so
    # the matrix's orders stay routed by the approver list); always the caller's own company's
    # read by who may approve or who may define it (manage_users, the PUT below): a reporting-only caller may not
    Endpoint("GET",    "/api/approvals/policy",                  "approve_orders", denied=NOT_ALLOWED,
             denied_caller="only:view_reports"),
    Endpoint("PUT",    "/api/approvals/policy",                  "manage_users", body=_body({"tiers": []}), denied=NOT_ALLOWED),
    # the deadlines of waiting orders (ADR 0033): the main contact's alone, seen and set; always the caller's own
    # company's (none set here, so the matrix's orders take no deadline step)
    Endpoint("GET",    "/api/approvals/deadlines",               MAIN_CONTACT, denied=NOT_ALLOWED),
    Endpoint("PUT",    "/api/approvals/deadlines",               MAIN_CONTACT, body=_body({}), denied=NOT_ALLOWED),
    # the controller's figures: always the caller's company; filtering by another company's people shows nothing
    Endpoint("GET",    "/api/reports/figures",                   "view_reports", denied=NOT_ALLOWED),
    Endpoint("GET",    "/api/reports/figures",                   "view_reports", query={"format": "csv"}, denied=NOT_ALLOWED),
    Endpoint("GET",    "/api/reports/figures",                   "view_reports", query={"user_id": "{user}"}, denied=NOT_ALLOWED,
             other=200),
    Endpoint("GET",    "/api/reports/figures",                   "view_reports", query={"approver_id": "{approver}"},
             denied=NOT_ALLOWED, other=200),
    # what-if (ADR 0030): the main contact, or who could make the change — budgets: manage_budgets, the approver list
    # or the policy: manage_users (a controller with view_reports only may not); another company's people not found
    Endpoint("POST",   "/api/reports/what-if",                   "manage_budgets", body=_what_if_budget, body_uses=("user",),
             denied=NOT_ALLOWED),
    Endpoint("POST",   "/api/reports/what-if",                   "manage_users", body=_what_if_approvers,
             body_uses=("approver",), denied=NOT_ALLOWED),
    # ---- notifications -------------------------------------------------------------------------------------
    # the caller's own mail preferences (ADR 0027): every user, and only their own (no id in the path or the body)
    Endpoint("GET",    "/api/me/notification-preferences"),
    Endpoint("PUT",    "/api/me/notification-preferences",      body=_body({"preferences": {"order_approved": "digest"}})),
]
# fmt: on

WITH_IDS = [e for e in ENDPOINTS if e.uses]
WITHOUT_IDS = [e for e in ENDPOINTS if not e.uses and e.method == "GET"]
RESTRICTED = [e for e in ENDPOINTS if e.needs is not ANY_USER]


def _ids(endpoint: Endpoint) -> str:
    return endpoint.label


# ---- the world: company A with a caller per permission, company B with data A must never reach ---------------


@dataclass
class World:
    api: UsersApi
    a: Shop
    b: Shop
    callers: dict[str, dict[str, str]]
    """A's callers: ``main``, ``only:<p>`` (a custom role with just permission p), ``all_but:<p>``, ``all``
    (every permission, not the main contact), ``buyer`` (the buyer of the orders), ``deactivated``."""
    approver_id: str
    """A's named approver (``only:approve_orders``): orders over budget go to them."""
    contacts: list[str]
    """A's ERP contacts nobody took over yet."""
    b_ids: dict[str, str]
    b_markers: set[str]
    tokens: dict[str, str] = field(default_factory=dict)
    """Refused tokens by kind, all naming A's main contact."""

    @property
    def gw(self) -> httpx.AsyncClient:
        return self.api.gateway


async def _company(api: UsersApi, contacts: int) -> Shop:
    company = await api.company(erp_contacts=[erp_contact(f"E{i}") for i in range(contacts)])
    shop = Shop(api, company)
    await eventually(lambda: shop.known_to_approval(company.main), what="approval to know the main contact")
    return shop


async def _role(shop: Shop, name: str, permissions: list[str]) -> str:
    r = await shop.gw.post(
        "/api/roles", json={"name": f"{name} {uuid4().hex[:6]}", "permissions": permissions}, headers=shop.main
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def _person_with(shop: Shop, permissions: list[str], name: str) -> tuple[dict, dict]:
    return await shop.person([await _role(shop, name, permissions)])


@pytest.fixture(scope="module")
async def world(gateway, token, registrar) -> World:
    api = UsersApi(gateway, token, registrar)
    a, b = await asyncio.gather(_company(api, contacts=60), _company(api, contacts=2))
    profiles: dict[str, list[str]] = {"all": list(PERMISSIONS)}
    for p in PERMISSIONS:
        profiles[f"only:{p}"] = [p]
        profiles[f"all_but:{p}"] = [q for q in PERMISSIONS if q != p]
    made = await asyncio.gather(*(_person_with(a, perms, name) for name, perms in profiles.items()))
    people = dict(zip(profiles, made, strict=True))
    (_, buyer), (gone, gone_h) = await asyncio.gather(
        a.person(["buyer"], budget=BUDGET), a.person(["buyer"], budget=BUDGET)
    )
    approver = people["only:approve_orders"][0]
    await a.approvers(approver, seen_by=buyer)

    # The deactivated user: refused by users at once, by approval once it has heard of it.
    r = await gateway.post(f"/api/users/{gone['id']}/deactivate", headers=a.main)
    assert r.status_code == 200, r.text

    async def refused_by_approval() -> bool:
        r = await gateway.get("/api/orders", headers=gone_h)
        return r.status_code == 403 and error_code(r.json()) == "user_inactive"

    await eventually(refused_by_approval, what="approval to refuse the deactivated user")

    # Company B: a user, a custom role, an order, an ERP contact.
    b_user, b_buyer = await b.person(["buyer", "approver"], budget=BUDGET)
    b_role = await _role(b, "B-Rolle", ["view_reports"])
    b_order, b_order2 = [await b.order(b_buyer, quantity=12) for _ in range(2)]
    bundled = [(await b.order(b_buyer, quantity=12))["id"] for _ in range(2)]
    r = await b.gw.post("/api/orders/bundles", json={"order_ids": bundled}, headers=b.main)
    assert r.status_code == 201, r.text
    b_bundle = r.json()["id"]
    b_contact = b.company.registration.erp_contacts[0].erp_contact_id
    b_absence = await _recorded(b, b_user["id"], b.company.main_id)
    b_ids = {
        "user": b_user["id"],
        "approver": b_user["id"],
        "substitute": b.company.main_id,
        "role": b_role,
        "order": b_order["id"],
        "order2": b_order2["id"],
        "bundle": b_bundle,
        "contact": b_contact,
        "absence": b_absence,
    }
    w = World(
        api=api,
        a=a,
        b=b,
        callers={"main": a.main, "buyer": buyer, "deactivated": gone_h, **{k: h for k, (_, h) in people.items()}},
        approver_id=approver["id"],
        contacts=[c.erp_contact_id for c in a.company.registration.erp_contacts],
        b_ids=b_ids,
        b_markers={*b_ids.values(), b.company.id, b.company.main_id, b.company.main_email, b_user["email"]},
    )
    for kind in FORGED_KINDS:
        w.tokens[kind] = await bad_token(
            kind, gateway=gateway, token=token, valid=bare(buyer), victim_email=a.company.main_email
        )
    return w


async def _recorded(shop: Shop, approver: str, substitute: str) -> str:
    """An absence of ``approver`` recorded by the main contact (a month from now); its id."""
    body = _absence({"approver": approver, "substitute": substitute})
    r = await shop.gw.post("/api/absences", json=body, headers=shop.main)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def _fresh(world: World, endpoint: Endpoint) -> dict[str, str]:
    """Fresh data of company A for one call: a user, a custom role, an order in the state the endpoint
    needs, an ERP contact nobody took over."""
    a, ids = world.a, {}
    for name in endpoint.uses:
        if name == "user":
            r = await world.gw.post("/api/users", json=_new_user({}), headers=a.main)
            assert r.status_code == 201, r.text
            ids["user"] = r.json()["id"]
        elif name == "approver":
            ids["approver"] = world.approver_id
        elif name == "substitute":
            ids["substitute"] = a.company.main_id
        elif name == "absence":
            ids["absence"] = await _recorded(a, world.approver_id, a.company.main_id)
        elif name == "role":
            ids["role"] = await _role(a, "Ziel", ["view_reports"])
        elif name == "contact":
            ids["contact"] = world.contacts.pop()
        elif name == "bundle":
            placed = [await a.order(world.callers["buyer"], quantity=12) for _ in range(2)]
            body = {"order_ids": [o["id"] for o in placed]}
            r = await world.gw.post("/api/orders/bundles", json=body, headers=world.callers["only:approve_orders"])
            assert r.status_code == 201, r.text
            ids["bundle"] = r.json()["id"]
        elif name == "order2":
            order = await a.order(world.callers["buyer"], quantity=12)
            ids["order2"] = order["id"]
        elif name == "order":
            order = await a.order(world.callers["buyer"], quantity=12)
            assert order["status"] == "pending_approval", order
            if endpoint.order_state == "rejected":
                r = await a.do(order["id"], "reject", world.callers["only:approve_orders"], {"comment": "zu viel"})
                assert r.json()["status"] == "rejected", r.text
            ids["order"] = order["id"]
    return ids


def _missing(endpoint: Endpoint) -> dict[str, str]:
    """Ids that exist nowhere, in place of the ones ``endpoint`` uses."""
    return {name: (f"C-{uuid4().hex[:8]}" if name == "contact" else str(uuid4())) for name in endpoint.uses}


async def _call(world: World, endpoint: Endpoint, ids: dict[str, str], headers: dict[str, str]) -> httpx.Response:
    path = endpoint.path.format(**ids)
    params = {k: v.format(**ids) for k, v in endpoint.query.items()}
    body = endpoint.body(ids) if endpoint.body else None
    return await world.gw.request(endpoint.method, path, params=params, json=body, headers=headers)


def _allowed_caller(endpoint: Endpoint) -> str:
    if endpoint.needs is ANY_USER:
        return "only:view_data_sheets"
    if endpoint.needs == BUYER_OF_THE_ORDER:
        return "buyer"
    return f"only:{endpoint.needs}"


def _denied_caller(endpoint: Endpoint) -> str:
    if endpoint.denied_caller is not None:
        return endpoint.denied_caller
    if endpoint.needs in (MAIN_CONTACT, BUYER_OF_THE_ORDER):
        return "all"
    return f"all_but:{endpoint.needs}"


def _answer(endpoint: Endpoint, r: httpx.Response) -> tuple[int, str | None]:
    """The status and error code; for an endpoint with a result per order, 200 and its one order's error code
    (None: decided)."""
    if endpoint.per_order and r.status_code == 200:
        (result,) = r.json()["results"]
        return 200, (result["error"] or {}).get("code")
    return r.status_code, error_code(r.json())


def _where(r: httpx.Response) -> str:
    return f"{r.request.method} {r.request.url} -> {r.status_code} {r.text[:300]}"


# ---- the matrix ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e.needs != MAIN_CONTACT], ids=_ids)
async def test_allowed_with_just_what_the_endpoint_needs(world: World, endpoint: Endpoint):
    r = await _call(world, endpoint, await _fresh(world, endpoint), world.callers[_allowed_caller(endpoint)])
    assert r.status_code == endpoint.ok, _where(r)
    if endpoint.per_order:
        assert _answer(endpoint, r) == (endpoint.ok, None), _where(r)


async def test_the_main_contact_hands_on_the_main_contact_role(world: World):
    """An endpoint that needs the main contact rather than a permission (a company of its own: the main
    contact is gone afterwards)."""
    shop = await _company(world.api, contacts=0)
    target, _ = await world.api.user(shop.company, ["buyer"])
    (endpoint,) = [e for e in ENDPOINTS if e.needs == MAIN_CONTACT and e.path == "/api/company/main-contact"]
    r = await _call(world, endpoint, {"user": target["id"]}, shop.main)
    assert r.status_code == endpoint.ok, _where(r)
    assert r.json()["main_contact_id"] == target["id"]


@pytest.mark.parametrize("endpoint", RESTRICTED, ids=_ids)
async def test_denied_without_it(world: World, endpoint: Endpoint):
    r = await _call(world, endpoint, await _fresh(world, endpoint), world.callers[_denied_caller(endpoint)])
    assert _answer(endpoint, r) == endpoint.denied, _where(r)


@pytest.mark.parametrize("endpoint", WITH_IDS, ids=_ids)
async def test_another_companys_data_is_indistinguishable_from_missing_data(world: World, endpoint: Endpoint):
    theirs = await _call(world, endpoint, world.b_ids, world.callers["main"])
    missing = _missing(endpoint)
    nothing = await _call(world, endpoint, missing, world.callers["main"])
    assert theirs.status_code == nothing.status_code == endpoint.other, (_where(theirs), _where(nothing))
    if endpoint.per_order:
        assert _answer(endpoint, theirs) == _answer(endpoint, nothing) == (200, "not_found"), _where(theirs)
    text = theirs.text
    for name, value in world.b_ids.items():
        if name in missing:
            text = text.replace(value, missing[name])
    assert text == nothing.text
    # a result per order names the order the caller sent: repeating it tells them nothing
    echoed = {world.b_ids[name] for name in endpoint.uses} if endpoint.per_order or endpoint.echoes_ids else set()
    leaked = {m for m in world.b_markers - echoed if m in theirs.text}
    assert not leaked, _where(theirs)


@pytest.mark.parametrize("endpoint", WITHOUT_IDS, ids=_ids)
async def test_lists_show_nothing_of_another_company(world: World, endpoint: Endpoint):
    r = await _call(world, endpoint, {}, world.callers["main"])
    assert r.status_code == 200, _where(r)
    assert not {m for m in world.b_markers if m in r.text}, _where(r)


@pytest.mark.parametrize("kind", FORGED_KINDS)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_ids)
async def test_a_refused_token_gets_401(world: World, endpoint: Endpoint, kind: str):
    r = await _call(world, endpoint, await _fresh(world, endpoint), {"Authorization": f"Bearer {world.tokens[kind]}"})
    assert (r.status_code, error_code(r.json())) == (401, "invalid_token"), _where(r)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_ids)
async def test_no_token_gets_401(world: World, endpoint: Endpoint):
    r = await _call(world, endpoint, await _fresh(world, endpoint), {})
    assert (r.status_code, error_code(r.json())) == (401, "invalid_token"), _where(r)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_ids)
async def test_a_valid_token_of_nobody_we_know_gets_401(world: World, endpoint: Endpoint):
    nobody = await world.api.auth(unique_email("nobody"))
    r = await _call(world, endpoint, await _fresh(world, endpoint), nobody)
    assert (r.status_code, error_code(r.json())) == (401, "unknown_user"), _where(r)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_ids)
async def test_a_deactivated_user_gets_403(world: World, endpoint: Endpoint):
    r = await _call(world, endpoint, await _fresh(world, endpoint), world.callers["deactivated"])
    assert (r.status_code, error_code(r.json())) == (403, "user_inactive"), _where(r)


# ---- absences: the people each rule restrains try to get around it with their own tokens (ADR 0020) ------------


async def test_a_buyer_cannot_record_an_absence_naming_themselves_substitute(world: World):
    buyer_h = world.callers["buyer"]
    me = (await world.gw.get("/api/me", headers=buyer_h)).json()["user"]["id"]
    for approver in (None, world.approver_id):  # their own absence, or the approver's with themselves standing in
        body = {"substitute_id": me, **_period(timedelta(0), DAY)} | ({"approver_id": approver} if approver else {})
        r = await world.gw.post("/api/absences", json=body, headers=buyer_h)
        assert (r.status_code, error_code(r.json())) == (403, "not_allowed"), _where(r)


async def test_a_substitute_cannot_approve_their_own_order(world: World):
    a = world.a
    substitute, substitute_h = await a.person(["buyer", "approver"], budget=BUDGET)
    approver_h = world.callers["only:approve_orders"]
    r = await world.gw.post("/api/absences", json={"substitute_id": substitute["id"], **_period(timedelta(0), DAY)},
                            headers=approver_h)  # fmt: skip
    assert r.status_code == 201, r.text
    try:
        own = await a.order(substitute_h, quantity=12)
        assert [x["id"] for x in own["approvers"]] == [world.approver_id]
        for action, body in (("approve", {"comment": "passt"}), ("reject", {"comment": "nein"})):
            refused = await a.do(own["id"], action, substitute_h, body)
            assert (refused.status_code, error_code(refused.json())) == (403, "self_approval"), _where(refused)
        bulk = await world.gw.post("/api/orders/decisions", json={"decision": "approve", "order_ids": [own["id"]]},
                                   headers=substitute_h)  # fmt: skip
        assert bulk.json()["results"][0]["error"]["code"] == "self_approval", _where(bulk)
        assert (await a.get(own["id"], substitute_h)).json()["status"] == "pending_approval"
    finally:  # the absence would offer the matrix's orders to this substitute: over with it
        await world.gw.delete(f"/api/absences/{r.json()['id']}", headers=approver_h)


async def test_another_companys_main_contact_cannot_touch_an_absence(world: World):
    absence = await _recorded(world.a, world.approver_id, world.a.company.main_id)
    stranger = world.b.main
    missing = str(uuid4())
    for method in ("GET", "DELETE"):
        theirs = await world.gw.request(method, f"/api/absences/{absence}", headers=stranger)
        nothing = await world.gw.request(method, f"/api/absences/{missing}", headers=stranger)
        assert theirs.status_code == nothing.status_code == 404, _where(theirs)
        assert (error_code(theirs.json()), theirs.json()["error"]["message"]) == (
            error_code(nothing.json()), nothing.json()["error"]["message"],
        )  # fmt: skip
    body = {"approver_id": world.approver_id, "substitute_id": world.b.company.main_id, **_period(timedelta(0), DAY)}
    r = await world.gw.post("/api/absences", json=body, headers=stranger)
    assert (r.status_code, error_code(r.json())) == (404, "not_found"), _where(r)
    listed = (await world.gw.get("/api/absences", params={"include_past": "true"}, headers=stranger)).json()
    assert absence not in json.dumps(listed)
    still = (await world.gw.get(f"/api/absences/{absence}", headers=world.a.main)).json()
    assert (still["state"], still["withdrawn_by"]) == ("upcoming", None)


# ---- the approval policy: who it restrains tries to get around it with their own tokens (ADR 0025) ------------------


async def test_a_buyer_can_neither_define_nor_read_the_approval_policy(world: World):
    buyer_h = world.callers["buyer"]
    me = (await world.gw.get("/api/me", headers=buyer_h)).json()["user"]["id"]
    for tiers in ([], [{"max_value": "1000000", "approver_ids": [me]}], [{"max_value": "1", "role_id": "buyer"}]):
        r = await world.gw.put("/api/approvals/policy", json={"tiers": tiers}, headers=buyer_h)
        assert (r.status_code, error_code(r.json())) == (403, "not_allowed"), _where(r)
    r = await world.gw.get("/api/approvals/policy", headers=buyer_h)
    assert (r.status_code, error_code(r.json())) == (403, "not_allowed"), _where(r)


async def test_another_companys_main_contact_can_neither_see_nor_change_the_approval_policy(world: World):
    c = await _company(world.api, contacts=0)  # a company of its own: its tiers route none of the matrix's orders
    approver, _ = await c.person(["approver"])
    body = {"tiers": [{"max_value": "300.00", "approver_ids": [approver["id"]]}]}
    r = await world.gw.put("/api/approvals/policy", json=body, headers=c.main)
    assert r.status_code == 200, _where(r)
    stranger = world.b.main
    seen = await world.gw.get("/api/approvals/policy", headers=stranger)
    assert seen.status_code == 200, _where(seen)
    assert approver["id"] not in seen.text and c.company.main_id not in seen.text  # their own company's, not C's
    theirs = await world.gw.put("/api/approvals/policy", json=body, headers=stranger)
    nobody = await world.gw.put("/api/approvals/policy", json={"tiers": [{"max_value": "300.00",
                                "approver_ids": [str(uuid4())]}]}, headers=stranger)  # fmt: skip
    assert (theirs.status_code, error_code(theirs.json())) == (404, "not_found"), _where(theirs)
    assert theirs.json()["error"]["message"] == nobody.json()["error"]["message"]
    still = (await world.gw.get("/api/approvals/policy", headers=c.main)).json()
    assert (still["version"], still["tiers"][0]["approvers"][0]["id"]) == (1, approver["id"])


async def test_a_substitute_decides_nothing_after_the_period_ended(world: World):
    a = world.a
    substitute, substitute_h = await _person_with(a, ["approve_orders"], "Vertretung")
    approver_h = world.callers["only:approve_orders"]
    r = await world.gw.post("/api/absences", json={"substitute_id": substitute["id"],
                                                   **_period(timedelta(0), timedelta(seconds=3))}, headers=approver_h)  # fmt: skip
    assert r.status_code == 201, r.text
    absence = r.json()["id"]
    order = await a.order(world.callers["buyer"], quantity=12)
    assert (await a.get(order["id"], substitute_h)).status_code == 200  # offered while the absence lasts

    async def ended() -> bool:
        r = await world.gw.get(f"/api/absences/{absence}", headers=substitute_h)
        return r.json()["state"] == "ended"

    await eventually(ended, timeout=30, what="the absence to end")
    for action, body in (("approve", {"comment": "noch schnell"}), ("reject", {"comment": "noch schnell"})):
        refused = await a.do(order["id"], action, substitute_h, body)
        assert (refused.status_code, error_code(refused.json())) == (404, "not_found"), _where(refused)
    bulk = await world.gw.post("/api/orders/decisions", json={"decision": "approve", "order_ids": [order["id"]]},
                               headers=substitute_h)  # fmt: skip
    assert bulk.json()["results"][0]["error"]["code"] == "not_found", _where(bulk)
    assert (await a.get(order["id"], world.callers["buyer"])).json()["status"] == "pending_approval"


def test_the_table_covers_every_endpoint_of_users_approval_and_notifications():
    names = {"user_id": "user", "role_id": "role", "order_id": "order", "erp_contact_id": "contact",
             "absence_id": "absence", "bundle_id": "bundle"}  # fmt: skip
    documented = set()
    for service in ("users", "approval", "notifications"):
        doc = json.loads((ROOT / "docs" / "api" / f"{service}.openapi.json").read_text())
        for path, operations in doc["paths"].items():
            for old, new in names.items():
                path = path.replace("{" + old + "}", "{" + new + "}")
            documented |= {f"{method.upper()} {path}" for method in operations}
    assert {f"{e.method} {e.path}" for e in ENDPOINTS} == documented - PUBLIC_OF_USERS - PUBLIC_OF_APPROVAL


PUBLIC_OF_USERS = {"POST /api/email-changes/{change_id}/confirm"}
"""Public: holding the token mailed to the new address is the proof (see test_a_token_changes_nothing_…)."""

PUBLIC_OF_APPROVAL = {"POST /api/decision-links/preview", "POST /api/decision-links/decide"}
"""Public: the signed link of the approval mail is the credential (ADR 0031; tests/journeys/test_decision_links.py,
and test_a_token_changes_nothing_about_a_decision_link below)."""


# ---- registration: public, so a token neither helps nor hurts -----------------------------------------------

PUBLIC_CALLERS = ("no_token", "forged_token", "valid_token")


def _registration_body() -> dict[str, Any]:
    return {
        "customer_number": f"9{uuid4().int % 10**9}",
        "invoice_number": "R-1",
        "email": unique_email("reg"),
        "first_name": "Hanna",
        "last_name": "Hauptkontakt",
    }


async def _public_headers(world: World, caller: str) -> dict[str, str]:
    headers = {"X-Forwarded-For": random_ip()}
    if caller == "forged_token":
        headers["Authorization"] = f"Bearer {world.tokens['tampered_claims']}"
    elif caller == "valid_token":
        headers.update(world.a.main)
    return headers


@pytest.fixture(scope="module")
async def registration_id(world: World) -> str:
    r = await world.gw.post("/api/registrations", json=_registration_body(), headers={"X-Forwarded-For": random_ip()})
    assert r.status_code == 202, r.text
    rid = r.json()["id"]

    async def decided() -> bool:  # settled, so two confirmations in a row meet the same state
        status = (await world.gw.get(f"/api/registrations/{rid}")).json()["status"]
        return status != "verifying"

    await eventually(decided, what="the registration's verification to be decided")
    return rid


@pytest.mark.parametrize("caller", PUBLIC_CALLERS)
async def test_anyone_may_register(world: World, caller: str):
    r = await world.gw.post(
        "/api/registrations", json=_registration_body(), headers=await _public_headers(world, caller)
    )
    assert r.status_code == 202, r.text


@pytest.mark.parametrize("caller", PUBLIC_CALLERS)
async def test_anyone_may_read_a_registration_by_its_id(world: World, registration_id: str, caller: str):
    r = await world.gw.get(f"/api/registrations/{registration_id}", headers=await _public_headers(world, caller))
    assert r.status_code == 200, r.text
    assert r.json()["id"] == registration_id


@pytest.mark.parametrize("caller", PUBLIC_CALLERS)
async def test_a_token_changes_nothing_about_a_confirmation(world: World, registration_id: str, caller: str):
    async def confirm(headers: dict[str, str]) -> httpx.Response:
        path = f"/api/registrations/{registration_id}/confirm"
        return await world.gw.post(path, json={"token": "not-the-token"}, headers=headers)

    anonymous = await confirm({"X-Forwarded-For": random_ip()})
    r = await confirm(await _public_headers(world, caller))
    assert 400 <= r.status_code < 500, r.text
    assert (r.status_code, r.json()) == (anonymous.status_code, anonymous.json())


@pytest.mark.parametrize("caller", PUBLIC_CALLERS)
async def test_a_token_changes_nothing_about_an_email_change_confirmation(world: World, caller: str):
    async def confirm(headers: dict[str, str]) -> httpx.Response:
        path = f"/api/email-changes/{uuid4()}/confirm"
        return await world.gw.post(path, json={"token": "not-the-token"}, headers=headers)

    anonymous = await confirm({"X-Forwarded-For": random_ip()})
    r = await confirm(await _public_headers(world, caller))
    assert (r.status_code, r.json()["error"]["code"]) == (anonymous.status_code, "not_found")


@pytest.mark.parametrize("caller", PUBLIC_CALLERS)
@pytest.mark.parametrize("path", sorted(PUBLIC_OF_APPROVAL))
async def test_a_token_changes_nothing_about_a_decision_link(world: World, caller: str, path: str):
    """A bearer token (even the main contact's) never stands in for the link's signature."""
    endpoint = path.split(" ", 1)[1]

    async def use(headers: dict[str, str]) -> httpx.Response:
        return await world.gw.post(endpoint, json={"token": "not.a-link.token"}, headers=headers)

    anonymous = await use({"X-Forwarded-For": random_ip()})
    r = await use(await _public_headers(world, caller))
    assert (r.status_code, r.json()["error"]["code"]) == (anonymous.status_code, "invalid_decision_link")
