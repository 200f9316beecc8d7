"""Fuzzing every operation of the services' OpenAPI documents through the gateway (schemathesis + Hypothesis).

Callers are the main contact, a buyer and a service technician of company A (registration's public
operations: nobody). Generated requests are valid (positive) and invalid (negative) by the documents; path,
query and body ids are now and then replaced by ids of A's own data (spare users, its role, its orders, its
ERP contacts) and of company B's, so the fuzzer reaches past "not found" and tries the other company's data.

For every response: no 5xx; every 4xx carries ``{"error": {"code": ...}}``; a 2xx matches the document; no
response to A contains an id, address or number of B's data that A did not send itself, and no success shows
any of B's data at all; a request naming B's data in its path never succeeds.

Examples per operation and caller: ``KC_FUZZ_EXAMPLES`` (default 20, well under a minute; ``scripts/fuzz.sh``
runs 300).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.journeys.test_registration_support import random_ip
from tests.support.infra import GATEWAY, ROOT
from tests.support.orders import order_body
from tests.support.security import Tenant, error_code, request_text, tenant
from tests.support.users import UsersApi, journey_fixtures

pytestmark = pytest.mark.journey

registrar, users_api = journey_fixtures()

EXAMPLES = int(os.environ.get("KC_FUZZ_EXAMPLES", "20"))
API_DIR = ROOT / "docs" / "api"
SERVICES = ("registration", "users", "approval", "erp-sync", "notifications")
CALLERS = ("main_contact", "buyer", "service_technician")


def _document(service: str) -> dict[str, Any]:
    return json.loads(Path(API_DIR / f"{service}.openapi.json").read_text())


def _hinted(node: Any) -> Any:
    """A copy of a document with two hints for the generator, so that more valid requests get past input
    validation into the use cases (the documents themselves say less than the code checks):

    - a decimal amount is documented as ``number`` or any ``string``; strings get the decimal pattern;
    - e-mail fields checked by a validator but documented as plain strings get ``format: email``.
    """
    if isinstance(node, list):
        return [_hinted(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _hinted(v) for k, v in node.items()}
    branches = out.get("anyOf")
    if isinstance(branches, list) and {b.get("type") for b in branches if isinstance(b, dict)} >= {"number", "string"}:
        out["anyOf"] = [
            {**b, "pattern": r"^[0-9]{1,6}(\.[0-9]{1,2})?$"} if b.get("type") == "string" and "pattern" not in b else b
            for b in branches
        ]
    properties = out.get("properties")
    if isinstance(properties, dict):
        for name, prop in properties.items():
            if "email" in name and isinstance(prop, dict) and prop.get("type") == "string" and "format" not in prop:
                prop["format"] = "email"
    return out


DOCUMENTS = {service: _document(service) for service in SERVICES}
SCHEMAS = {service: schemathesis.openapi.from_dict(_hinted(doc)) for service, doc in DOCUMENTS.items()}


def _operations(service: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, ops in DOCUMENTS[service]["paths"].items()
        for method, op in ops.items()
        if method in ("get", "put", "post", "delete", "patch")
    ]


def _public(path: str) -> bool:
    """Routed by the gateway; ``/ops/...`` is the support view on the internal ports only."""
    return path.startswith("/api/")


FUZZED = [
    pytest.param(service, caller, f"{method} {path}", id=f"{service}-{caller}-{method} {path}")
    for service in SERVICES
    for method, path, _ in _operations(service)
    if _public(path)
    for caller in (("anonymous",) if service == "registration" else CALLERS)
]
INTERNAL = [
    pytest.param(method, path, id=f"{service}-{method} {path}")
    for service in SERVICES
    for method, path, _ in _operations(service)
    if not _public(path)
]

# Where ids go, by the name the documents give them: path parameters, query parameters, body fields.
PATH_IDS = ("user_id", "role_id", "order_id", "erp_contact_id")
QUERY_IDS = {"subject_id": ("user_id", "role_id"), "role": ("role_id",)}
BODY_IDS = {"user_id": "user_id", "user_ids": "user_id", "role_ids": "role_id", "roles_for_previous": "role_id"}


@pytest.fixture(scope="module")
async def companies(gateway, token, registrar) -> tuple[Tenant, Tenant]:
    """Company A (the fuzzing callers) and company B (data A must never see)."""
    api = UsersApi(gateway, token, registrar)
    return await tenant(api, spare_users=3), await tenant(api, spare_users=1)


@pytest.fixture(scope="module")
def http() -> Any:
    with requests.Session() as session:
        yield session


class Injected:
    """Which of company B's ids a case carries in its path (it must fail then)."""

    def __init__(self) -> None:
        self.others_in_path: list[str] = []


def _inject(case: Any, data: st.DataObject, own: dict[str, list[str]], other: dict[str, list[str]]) -> Injected:
    """Replace some generated ids of ``case`` by ids of A's own data (``own``) or of B's (``other``).

    A's users go into paths and queries only: a body naming one of them could hand the main-contact role
    to a spare user and leave the rest of the run without a main contact to fuzz with."""
    seen = Injected()

    def pick(kinds: tuple[str, ...], own_allowed: bool) -> tuple[str | None, bool]:
        sources = ["generated", "other", *(["own"] if own_allowed else [])]
        source = data.draw(st.sampled_from(sources))
        pool = [i for kind in kinds for i in (own if source == "own" else other).get(kind, [])]
        if source == "generated" or not pool:
            return None, False
        return data.draw(st.sampled_from(pool)), source == "other"

    for name in PATH_IDS:
        if case.path_parameters and name in case.path_parameters:
            value, theirs = pick((name,), own_allowed=True)
            if value is not None:
                case.path_parameters[name] = value
                if theirs:
                    seen.others_in_path.append(value)
    for name, kinds in QUERY_IDS.items():
        if isinstance(case.query, dict) and name in case.query:
            value, _ = pick(kinds, own_allowed=True)
            if value is not None:
                case.query[name] = value
    if isinstance(case.body, dict):
        for name, kind in BODY_IDS.items():
            current = case.body.get(name)
            if not (isinstance(current, str) or (isinstance(current, list) and current)):
                continue
            value, _ = pick((kind,), own_allowed=kind == "role_id")
            if value is None:
                continue
            if isinstance(current, list):
                current[data.draw(st.integers(0, len(current) - 1))] = value
            else:
                case.body[name] = value
    return seen


def _has_input(service: str, label: str) -> bool:
    method, path = label.split(" ", 1)
    op = DOCUMENTS[service]["paths"][path][method.lower()]
    return bool(op.get("parameters") or op.get("requestBody"))


def _body(case: Any) -> Any:
    return case.body if isinstance(case.body, (dict, list, str, bytes)) else None


def _trace(*fields: Any) -> None:
    """With ``KC_FUZZ_TRACE=<file>``, one JSON line per request (service, caller, operation, status, error
    code): ``scripts/fuzz.sh`` sums them up into what the fuzzer reached."""
    path = os.environ.get("KC_FUZZ_TRACE")
    if path:
        with open(path, "a") as trace:
            trace.write(json.dumps(fields) + "\n")


def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


@pytest.mark.parametrize(("service", "caller", "label"), FUZZED)
def test_fuzz_through_the_gateway(companies: tuple[Tenant, Tenant], http: Any, service: str, caller: str, label: str):
    a, b = companies
    operation = SCHEMAS[service].find_operation_by_label(label)
    assert operation is not None, label
    strategies = [operation.as_strategy(GenerationMode.POSITIVE)]
    if _has_input(service, label):
        strategies.append(operation.as_strategy(GenerationMode.NEGATIVE))
    cases = st.one_of(strategies)
    auth = {} if caller == "anonymous" else a.callers[caller]
    own, other = a.targets, b.ids

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=False,
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def fuzz(data: st.DataObject) -> None:
        case = data.draw(cases, label="case")
        injected = _inject(case, data, own, other) if caller != "anonymous" else Injected()
        headers = dict(auth)
        if service == "registration":
            # A fresh client address per request: the fuzzer must not lock the test machine out.
            headers["X-Forwarded-For"] = random_ip()
        response = case.call(base_url=GATEWAY, session=http, headers=headers, timeout=30)
        status, body = response.status_code, _json(response)
        _trace(service, caller, label, status, error_code(body))
        sent = request_text(case.method, response.request.url or "", _body(case))
        # the answer as text, whatever it is: JSON, CSV, or a workbook (XLSX is a zip: binary, not UTF-8)
        text = response.content.decode("utf-8", errors="replace")
        where = f"{sent[:500]} -> {status} {text[:500]}"
        assert status < 500, f"server error: {where}"
        if 400 <= status < 500:
            assert error_code(body), f'a 4xx without {{"error": {{"code": ...}}}}: {where}'
        if caller != "anonymous":
            # An error may repeat what A sent ("unknown role ..."); a success never shows B's data at all.
            leaked = b.found_in(text, unless_in=sent if status >= 400 else "")
            assert not leaked, f"company B's data {sorted(leaked)} in an answer to company A: {where}"
            if injected.others_in_path:
                assert status >= 400, f"company A succeeded on company B's data {injected.others_in_path}: {where}"
        if 200 <= status < 300 and body is not None:  # a JSON answer; CSV and XLSX exports have no JSON schema
            case.validate_response(response, checks=[response_schema_conformance])

    fuzz()


@pytest.mark.parametrize(("method", "path"), INTERNAL)
def test_internal_operations_are_not_reachable_through_the_gateway(http: Any, method: str, path: str):
    """The support views (``/ops/...``) live on the services' internal ports. Asked with GET whatever their
    method: should the gateway ever route them, a probe must not replay or retry anything."""
    r = http.get(GATEWAY + re.sub(r"{\w+}", "x", path), timeout=10)
    assert (r.status_code, error_code(_json(r))) == (404, "not_found"), r.text
    assert _json(r)["error"]["message"] == "no route for this path"


@pytest.mark.parametrize("label", sorted({p.values[2] for p in FUZZED}))
def test_every_fuzzed_operation_reaches_its_service(http: Any, label: str):
    """The fuzzer's answers come from the services, not from the gateway's "no route" (which would pass every
    check above without testing anything)."""
    method, path = label.split(" ", 1)
    r = http.request(method, GATEWAY + re.sub(r"{\w+}", "x", path), timeout=10)
    assert (_json(r) or {}).get("error", {}).get("message") != "no route for this path", r.text


# ---- what the fuzzer found, kept as plain regression tests -----------------------------------------------------

NUL = "\u0000"
NUL_INPUTS = [
    ("POST", "/api/roles", {"name": f"Rolle{NUL}X", "permissions": ["view_reports"]}),
    ("POST", "/api/users", {"email": "nul@example.com", "first_name": f"Bea{NUL}", "last_name": "Buyer"}),
    (
        "POST",
        "/api/users",
        {"email": "nul@example.com", "first_name": "Bea", "last_name": "B", "role_ids": [f"buy{NUL}er"]},
    ),
    ("PUT", "/api/company/approvers", {"user_ids": [f"{NUL}"]}),
    ("POST", "/api/orders", {**order_body(), "reference": f"PO{NUL}4711"}),
    ("POST", "/api/orders/evaluate", {**order_body(), "payment_method": f"invoice{NUL}"}),
]


@pytest.mark.parametrize(
    ("method", "path", "body"), NUL_INPUTS, ids=[f"{m} {p} {i}" for i, (m, p, _) in enumerate(NUL_INPUTS)]
)
def test_a_nul_character_in_any_text_is_refused(
    companies: tuple[Tenant, Tenant], http: Any, method: str, path: str, body: Any
):
    """Found by the fuzzer: PostgreSQL cannot store a NUL character. users answered 500 (and committed the
    events without their read model); approval stored the order and its order-summary projection stopped for
    every company. Now refused like any invalid input, and nothing is stored."""
    a, _ = companies
    before = http.get(GATEWAY + "/api/orders", headers=a.callers["main_contact"], timeout=10).json()["total"]
    r = http.request(method, GATEWAY + path, json=body, headers=a.callers["main_contact"], timeout=10)
    # invalid_characters where the text rules of names and one-line texts apply (contracts.common), else the rest
    assert r.status_code == 422 and error_code(_json(r)) in ("invalid_request", "invalid_characters"), r.text
    assert http.get(GATEWAY + "/api/orders", headers=a.callers["main_contact"], timeout=10).json()["total"] == before
    roles = http.get(GATEWAY + "/api/roles", headers=a.callers["main_contact"], timeout=10).json()
    assert not [role for role in roles if NUL in role["name"]]
