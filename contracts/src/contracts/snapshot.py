"""JSON Schema snapshots of every wire message, and the compatibility rules they are held to.

``python -m contracts.snapshot write`` writes ``contracts/schemas/<topic>/<EventType>.json``; a test compares
the committed snapshots with the code and fails on an incompatible change. Compatible within a major
version: new optional fields, looser constraints. Incompatible: a removed field, a changed type, a new
required field, a removed message type.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from contracts.topics import TOPICS

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


def current_schemas() -> dict[str, dict[str, Any]]:
    """``{"<topic>/<EventType>": json_schema}`` for every message of every topic."""
    out: dict[str, dict[str, Any]] = {}
    for topic in TOPICS:
        for message in topic.messages:
            schema = message.model_json_schema(mode="serialization")
            schema["x-event-type"] = message.event_type
            schema["x-schema-version"] = message.schema_version
            schema["x-topic"] = topic.name
            out[f"{topic.name}/{message.event_type}"] = schema
    return out


def committed_schemas(root: Path = SCHEMA_DIR) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(root.glob("*/*.json")):
        out[f"{path.parent.name}/{path.stem}"] = json.loads(path.read_text())
    return out


def write(root: Path = SCHEMA_DIR) -> list[str]:
    written = []
    for key, schema in current_schemas().items():
        path = root / f"{key}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(schema, indent=2, sort_keys=True) + "\n"
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            written.append(key)
    return written


def incompatibilities(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Why a consumer built against ``old`` could not read messages valid under ``new`` (empty: compatible)."""
    problems: list[str] = []
    _compare(old, new, old.get("$defs", {}), new.get("$defs", {}), "$", problems)
    if new.get("x-schema-version", 1) < old.get("x-schema-version", 1):
        problems.append("$: schema version went down")
    return problems


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref and ref.startswith("#/$defs/"):
        return defs.get(ref.removeprefix("#/$defs/"), {})
    return schema


def _types(schema: dict[str, Any], defs: dict[str, Any]) -> set[str]:
    schema = _resolve(schema, defs)
    if "anyOf" in schema:
        return set().union(*(_types(s, defs) for s in schema["anyOf"]))
    t = schema.get("type")
    if isinstance(t, list):
        return set(t)
    if t:
        return {t}
    if "properties" in schema:
        return {"object"}
    return {"any"}


def _compare(
    old: dict[str, Any],
    new: dict[str, Any],
    old_defs: dict[str, Any],
    new_defs: dict[str, Any],
    path: str,
    out: list[str],
) -> None:
    old = _resolve(old, old_defs)
    new = _resolve(new, new_defs)
    old_t, new_t = _types(old, old_defs), _types(new, new_defs)
    if "any" not in old_t and not new_t <= old_t:
        out.append(f"{path}: type changed from {sorted(old_t)} to {sorted(new_t)}")
        return
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name in old_props:
        if name not in new_props:
            out.append(f"{path}.{name}: field removed")
    for name in set(new.get("required", [])) - set(old.get("required", [])):
        out.append(f"{path}.{name}: new required field")
    for name, old_prop in old_props.items():
        if name in new_props:
            _compare(old_prop, new_props[name], old_defs, new_defs, f"{path}.{name}", out)
    for key in ("items",):
        if key in old and key in new:
            _compare(old[key], new[key], old_defs, new_defs, f"{path}[]", out)
    for opt in [s for s in old.get("anyOf", []) if "$ref" in s or "properties" in s]:
        for new_opt in [s for s in new.get("anyOf", []) if "$ref" in s or "properties" in s]:
            _compare(opt, new_opt, old_defs, new_defs, path, out)


def main(argv: list[str]) -> int:
    if argv[:1] == ["write"]:
        written = write()
        print(f"schemas: {len(written)} written" + (f": {', '.join(written)}" if written else ""))
        return 0
    print("usage: python -m contracts.snapshot write", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
