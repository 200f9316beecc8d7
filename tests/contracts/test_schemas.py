"""The wire is a promise: committed JSON Schema snapshots hold every message to compatible change."""

import copy

import pytest

from contracts.snapshot import committed_schemas, current_schemas, incompatibilities
from contracts.topics import TOPICS, all_topic_names

CURRENT = current_schemas()
COMMITTED = committed_schemas()


@pytest.mark.parametrize("key", sorted(COMMITTED))
def test_committed_message_is_still_readable_by_old_consumers(key):
    assert key in CURRENT, f"{key} was removed; a removed message type needs a new major topic"
    assert incompatibilities(COMMITTED[key], CURRENT[key]) == []


@pytest.mark.parametrize("key", sorted(CURRENT))
def test_every_message_has_a_committed_snapshot(key):
    assert key in COMMITTED, f"{key} has no snapshot: run `.venv/bin/python -m contracts.snapshot write`"
    assert COMMITTED[key] == CURRENT[key], (
        f"{key} changed compatibly but its snapshot is stale: run `.venv/bin/python -m contracts.snapshot write`"
    )


def _a_schema():
    return copy.deepcopy(CURRENT["approval.orders.v1/OrderReleased"])


def test_removing_a_field_is_incompatible():
    new = _a_schema()
    del new["properties"]["buyer_comment"]
    assert any("buyer_comment: field removed" in p for p in incompatibilities(_a_schema(), new))


def test_a_new_required_field_is_incompatible():
    new = _a_schema()
    new["properties"]["priority"] = {"type": "integer"}
    new["required"].append("priority")
    assert any("priority: new required field" in p for p in incompatibilities(_a_schema(), new))


def test_a_new_optional_field_is_compatible():
    new = _a_schema()
    new["properties"]["priority"] = {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None}
    assert incompatibilities(_a_schema(), new) == []


def test_changing_a_type_is_incompatible():
    new = _a_schema()
    new["properties"]["total_quantity"] = {"type": "string"}
    assert any("total_quantity: type changed" in p for p in incompatibilities(_a_schema(), new))


def test_a_nested_change_is_found_through_references():
    new = _a_schema()
    del new["$defs"]["Address"]["properties"]["city"]
    assert any("city: field removed" in p for p in incompatibilities(_a_schema(), new))


def test_topic_names_follow_the_naming_rule_and_are_unique():
    names = [t.name for t in TOPICS]
    assert len(names) == len(set(names))
    for t in TOPICS:
        assert t.name.endswith(".v1") or t.name.rsplit(".v", 1)[1].isdigit()
        if t.owner != "erp-sync" or not t.name.startswith("erp."):
            assert t.name.startswith(t.owner + ".") or t.name.startswith("erp.inbound.")


def test_domain_topics_have_at_least_three_partitions():
    for t in TOPICS:
        assert t.partitions >= 3, t.name


def test_every_consumed_topic_has_a_dead_letter_topic():
    names = {n for n, _ in all_topic_names()}
    for t in TOPICS:
        if t.consumers:
            assert t.dlt in names
