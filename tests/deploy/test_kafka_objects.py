"""Kafka topics and ACLs in the deploy artefacts follow the topic registry exactly — derived, never typed."""

from __future__ import annotations

import pytest

from contracts.topics import TOPICS, all_topic_names
from kc_runtime.topics import declared_topics
from tests.deploy.conftest import named

BUILDS = ("base", "overlays/dev", "overlays/prod")


EXTERNAL = {"erp"}


def expected_acls(principal: str, group_of: dict[str, str]) -> set[tuple[str, str, str]]:
    """What a principal may do, from the registry alone: write its own topics and the dead-letter topics of
    what it consumes, read what it consumes and its consumer group; our services also read back the dead
    letters they write (operator retry), and park what an external consumer could not take in its own
    topics' dead-letter topics."""
    acls: set[tuple[str, str, str]] = set()
    ours = principal not in EXTERNAL
    for topic in TOPICS:
        if topic.owner == principal:
            acls.add(("topic", topic.name, "Write"))
            if ours and EXTERNAL & set(topic.consumers):
                acls.add(("topic", topic.dlt, "Write"))
                acls.add(("topic", topic.dlt, "Read"))
        if principal in topic.consumers:
            acls.add(("topic", topic.name, "Read"))
            acls.add(("topic", topic.dlt, "Write"))
            acls.add(("group", group_of.get(principal, principal), "Read"))
            if ours:
                acls.add(("topic", topic.dlt, "Read"))
    return acls


def granted(user: dict) -> set[tuple[str, str, str]]:
    return {
        (rule["resource"]["type"], rule["resource"]["name"], operation)
        for rule in user["spec"]["authorization"]["acls"]
        for operation in rule["operations"]
    }


def test_committed_generated_files_equal_a_fresh_generation(deploy):
    stale = [str(path.relative_to(deploy.ROOT)) for path in deploy.stale_generated_files()]
    assert stale == [], "run `.venv/bin/python scripts/deploy_check.py generate` and commit the result"


@pytest.mark.parametrize("build", BUILDS)
def test_kafka_topics_are_exactly_the_registry_with_its_partition_counts(rendered, build):
    topics = named(rendered[build], "KafkaTopic")
    declared = {t["spec"]["topicName"]: t["spec"]["partitions"] for t in topics.values()}
    assert declared == dict(all_topic_names())
    assert all(name == t["spec"]["topicName"] for name, t in topics.items())


def test_kafka_topics_keep_the_retention_of_the_registry(rendered):
    topics = {t["spec"]["topicName"]: t for t in named(rendered["base"], "KafkaTopic").values()}
    for topic in TOPICS:
        assert topics[topic.name]["spec"]["config"]["retention.ms"] == str(topic.retention_ms)


def test_kafka_topics_have_the_configuration_topics_ensure_creates(rendered):
    """One declaration (kc_runtime.topics) for the local stack and for Strimzi: retention of dead letters too."""
    topics = {t["spec"]["topicName"]: t for t in named(rendered["base"], "KafkaTopic").values()}
    for declared in declared_topics():
        spec = topics[declared.name]["spec"]
        assert spec["config"] == declared.config_for(spec["replicas"]), declared.name


def test_every_producer_and_consumer_has_a_kafka_user(rendered):
    users = named(rendered["overlays/prod"], "KafkaUser")
    principals = {t.owner for t in TOPICS} | {c for t in TOPICS for c in t.consumers}
    assert set(users) == principals


@pytest.mark.parametrize("build", BUILDS)
def test_acls_cover_exactly_what_each_principal_publishes_and_consumes(deploy, rendered, build):
    group_of = {c.name: c.group_id for c in deploy.components().values()}
    for name, user in named(rendered[build], "KafkaUser").items():
        assert granted(user) == expected_acls(name, group_of), name


def test_consumer_groups_in_acls_are_the_services_own_group_ids(deploy, rendered):
    users = named(rendered["base"], "KafkaUser")
    for component in deploy.services():
        groups = (
            {name for kind, name, _ in granted(users[component.name]) if kind == "group"}
            if component.name in users
            else set()
        )
        assert groups <= {component.group_id}


def test_production_topics_are_replicated_and_development_topics_are_not(rendered):
    for topic in named(rendered["overlays/prod"], "KafkaTopic").values():
        assert topic["spec"]["replicas"] >= 3
        assert int(topic["spec"]["config"]["min.insync.replicas"]) >= 2
    for topic in named(rendered["overlays/dev"], "KafkaTopic").values():
        assert topic["spec"]["replicas"] == 1
        assert topic["spec"]["config"]["min.insync.replicas"] == "1"


def test_keda_scales_each_consuming_worker_up_to_its_partitions_on_its_own_group(deploy, rendered):
    objects = rendered["overlays/prod"]
    scaled = named(objects, "ScaledObject")
    for component in deploy.services():
        consumed = [t for t in TOPICS if component.name in t.consumers]
        worker = f"{component.name}-worker"
        if not consumed:
            assert worker not in scaled
            continue
        spec = scaled[worker]["spec"]
        assert spec["scaleTargetRef"]["name"] == worker
        assert spec["maxReplicaCount"] == max(2, *(t.partitions for t in consumed))
        assert {t["metadata"]["topic"] for t in spec["triggers"]} == {t.name for t in consumed}
        assert {t["metadata"]["consumerGroup"] for t in spec["triggers"]} == {component.group_id}
        assert "replicas" not in named(objects, "Deployment")[worker]["spec"], "KEDA owns the worker's count"
