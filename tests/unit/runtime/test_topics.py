"""Every topic, its partitions and its configuration are declared once, for `topics ensure` and Strimzi alike."""

from __future__ import annotations

from contracts.topics import TOPICS, all_topic_names
from kc_runtime.topics import DLT_RETENTION_MS, declared_topics


def test_the_declaration_is_the_registry_and_a_dead_letter_topic_for_each_consumed_topic():
    assert sorted((d.name, d.partitions) for d in declared_topics()) == sorted(all_topic_names())
    consumed = {t.name for t in TOPICS if t.consumers}
    assert {d.topic.name for d in declared_topics() if d.kind == "dead-letter"} == consumed


def test_domain_topics_keep_the_registrys_retention_and_config_and_dead_letters_keep_theirs_longer():
    for declared in declared_topics():
        if declared.kind == "domain":
            assert declared.config == {"retention.ms": str(declared.topic.retention_ms), **declared.topic.config}
        else:
            assert declared.config == {"retention.ms": str(DLT_RETENTION_MS)}
            assert DLT_RETENTION_MS > declared.topic.retention_ms


def test_min_insync_replicas_leaves_one_replica_to_lose_and_never_exceeds_two():
    declared = declared_topics()[0]
    assert [declared.config_for(r)["min.insync.replicas"] for r in (1, 2, 3, 5)] == ["1", "1", "2", "2"]
