"""A value the HTTP API accepts is always one the contracts can carry.

Walks every wire message of every topic and every request body of every service's HTTP API (the documents built
from the code) and pairs fields by name: a message field ``email`` or ``main_contact_email`` carries what an API
field ``email`` accepted. Where the API accepts a longer string than a message field it may end up in (or has no
limit at all while the message has one), the message could not be built and the event would be parked: the test
names the pair. The limits themselves live once, in ``contracts.limits``.
"""

from __future__ import annotations

from typing import Any

import pytest

from contracts import limits
from contracts.snapshot import current_schemas
from scripts.apidocs import openapi

SERVICES = ["registration", "users", "approval", "erp-sync", "notifications"]

# API fields that never reach a message under the same name: an opaque token; a role's description (kept by users,
# never sent: the descriptions in messages are order lines' article descriptions).
NOT_CARRIED = {("*", "token"), ("users", "description")}


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _strings(schema: dict[str, Any], defs: dict[str, Any], name: str, out: dict[str, int | None], seen: set) -> None:
    """Every string field below ``schema`` by its field name → its maxLength (None: unlimited); the smallest wins."""
    schema = _resolve(schema, defs)
    options = schema.get("anyOf") or schema.get("oneOf") or schema.get("allOf")
    if options:
        for option in options:
            _strings(option, defs, name, out, seen)
        return
    kind = schema.get("type")
    if kind == "string" and name and "enum" not in schema and "const" not in schema and "format" not in schema:
        limit = schema.get("maxLength")
        if schema.get("pattern") is None or limit is not None:
            known = out.get(name, -1)
            out[name] = limit if known == -1 else _min(known, limit)
    elif kind == "string" and schema.get("format") == "email":
        limit = schema.get("maxLength")
        known = out.get(name, -1)
        out[name] = limit if known == -1 else _min(known, limit)
    elif kind == "array" and "items" in schema:
        _strings(schema["items"], defs, name, out, seen)
    elif kind == "object" or "properties" in schema:
        key = id(schema)
        if key in seen:
            return
        seen.add(key)
        for field, sub in schema.get("properties", {}).items():
            _strings(sub, defs, field, out, seen)


def _min(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def message_fields() -> dict[str, dict[str, int | None]]:
    """``message → {field: maxLength}`` of every wire message."""
    fields: dict[str, dict[str, int | None]] = {}
    for name, schema in current_schemas().items():
        out: dict[str, int | None] = {}
        _strings(schema, schema.get("$defs", {}), "", out, set())
        fields[name] = out
    return fields


def api_fields(service: str) -> dict[str, int | None]:
    """``field → maxLength`` of every string field in the request bodies of ``service``'s HTTP API."""
    doc = openapi(service)
    defs = doc.get("components", {}).get("schemas", {})
    out: dict[str, int | None] = {}
    for path, operations in doc.get("paths", {}).items():
        if path.startswith("/ops"):  # the operator API: nothing in it becomes a message under its name
            continue
        for operation in operations.values():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if body:
                _strings(body, defs, "", out, set())
    return out


def carried_by(api_field: str, message_field: str) -> bool:
    return message_field == api_field or message_field.endswith("_" + api_field)


def mismatches(services: list[str]) -> list[str]:
    messages = message_fields()
    found = []
    for service in services:
        for field, accepted in api_fields(service).items():
            if ("*", field) in NOT_CARRIED or (service, field) in NOT_CARRIED:
                continue
            for message, fields in messages.items():
                for carried, limit in fields.items():
                    if limit is None or not carried_by(field, carried):
                        continue
                    if accepted is None or accepted > limit:
                        shown = "unlimited" if accepted is None else accepted
                        found.append(f"{service} API {field} ({shown}) → {message}.{carried} ({limit})")
    return sorted(set(found))


def test_every_value_the_apis_accept_fits_the_messages_it_causes():
    assert mismatches(SERVICES) == []


@pytest.mark.parametrize("field", ["email", "first_name", "last_name", "reference", "comment"])
def test_the_walk_sees_the_fields_that_travel(field):
    # The walk would pass vacuously if it found nothing to compare: the fields that travel are seen on both sides.
    messages = message_fields()
    assert any(carried_by(field, f) for fields in messages.values() for f in fields), field
    assert any(field in api_fields(s) for s in SERVICES), field


def test_the_e_mail_limit_is_one_limit():
    messages = message_fields()
    email_limits = {limit for fields in messages.values() for f, limit in fields.items() if carried_by("email", f)}
    assert email_limits <= {limits.EMAIL_MAX, None}
    assert {api_fields(s).get("email") for s in ("registration", "users")} == {limits.EMAIL_MAX}


def test_the_walk_reports_the_old_e_mail_mismatch(monkeypatch):
    # Before the fix the ERP's contact e-mail carried 200 characters while the APIs accepted 254: the walk names it.
    import tests.contracts.test_field_limits as walk

    schemas = current_schemas()
    old = {
        name: schema for name, schema in schemas.items() if name.startswith("erp.outbound.contacts.v1/ContactCreated")
    }
    assert old, "the ERP's ContactCreated schema"
    for schema in old.values():
        schema["properties"]["email"] = {"type": "string", "maxLength": 200}
    monkeypatch.setattr(walk, "current_schemas", lambda: old)
    found = walk.mismatches(["registration", "users"])
    assert "registration API email (254) → erp.outbound.contacts.v1/ContactCreated.email (200)" in found
    assert "users API email (254) → erp.outbound.contacts.v1/ContactCreated.email (200)" in found
