"""The topics to create, with partitions and configuration, declared once; ``python -m kc_runtime.topics ensure``.

:func:`declared_topics` is the one declaration of every topic the system needs: the contracts' registry
(partitions, retention, extra config) plus a dead-letter topic for each consumed topic (one partition,
:data:`DLT_RETENTION_MS`). Both ``ensure`` (local stack, compose, tests) and the Strimzi ``KafkaTopic``
objects (``scripts/deploy_check.py generate``) are made from it, so the two cannot disagree.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from typing import Any, Literal

from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic

from contracts.topics import TOPICS, Topic

DAY_MS = 24 * 3600 * 1000
DLT_RETENTION_MS = 30 * DAY_MS
"""Dead letters wait for an operator: kept longer than the messages of the topics they come from."""
DLT_PARTITIONS = 1
MAX_MIN_INSYNC_REPLICAS = 2
"""With three replicas: acks=all writes survive one broker down, and no acknowledged write lives on one only."""


@dataclass(frozen=True)
class TopicDeclaration:
    name: str
    partitions: int
    config: dict[str, str]
    kind: Literal["domain", "dead-letter"]
    topic: Topic
    """The registry's topic (for a dead-letter topic: the topic whose dead letters it keeps)."""

    def config_for(self, replication: int) -> dict[str, str]:
        """The configuration with ``min.insync.replicas`` for a replication factor."""
        min_insync = max(1, min(MAX_MIN_INSYNC_REPLICAS, replication - 1))
        return {**self.config, "min.insync.replicas": str(min_insync)}


def declared_topics() -> list[TopicDeclaration]:
    out: list[TopicDeclaration] = []
    for topic in TOPICS:
        config = {"retention.ms": str(topic.retention_ms), **{k: str(v) for k, v in topic.config.items()}}
        out.append(TopicDeclaration(topic.name, topic.partitions, config, "domain", topic))
    for topic in TOPICS:
        if topic.consumers:  # only what someone consumes can be dead-lettered
            config = {"retention.ms": str(DLT_RETENTION_MS)}
            out.append(TopicDeclaration(topic.dlt, DLT_PARTITIONS, config, "dead-letter", topic))
    return out


async def ensure(
    bootstrap: str, replication: int = 1, prefix: str = "", options: dict[str, Any] | None = None
) -> list[str]:
    """Create the missing declared topics (``prefix`` + name) and grow partitions declared larger since.

    ``options``: connection options of the admin client (TLS, SASL; :func:`kc_runtime.kafka.client_options`).
    """
    admin = AIOKafkaAdminClient(**{**(options or {}), "bootstrap_servers": bootstrap}, request_timeout_ms=15_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        declared = declared_topics()
        wanted = [(prefix + d.name, d.partitions) for d in declared]
        missing = [
            NewTopic(
                prefix + d.name,
                num_partitions=d.partitions,
                replication_factor=replication,
                topic_configs=d.config_for(replication),
            )
            for d in declared
            if prefix + d.name not in existing
        ]
        if missing:
            await admin.create_topics(missing)
        # Grow partitions that were declared larger since (Kafka cannot shrink them).
        # (only topics that existed before: metadata of just-created ones may still be incomplete)
        described = await admin.describe_topics([name for name, _ in wanted if name in existing])
        current = {d["topic"]: len(d["partitions"]) for d in described}
        grow = {name: NewPartitions(p) for name, p in wanted if current.get(name, p) < p}
        if grow:
            await admin.create_partitions(grow)
        return [t.name for t in missing]
    finally:
        await admin.close()


def main(argv: list[str] | None = None) -> int:
    from kc_runtime.kafka import client_options
    from kc_runtime.settings import ServiceSettings

    parser = argparse.ArgumentParser(prog="kc_runtime.topics")
    sub = parser.add_subparsers(dest="command", required=True)
    e = sub.add_parser("ensure", help="create missing topics from the contracts registry")
    e.add_argument("--bootstrap", default=None, help="default: <settings-prefix>KAFKA_BOOTSTRAP_SERVERS")
    e.add_argument("--replication", type=int, default=1)
    e.add_argument("--prefix", default="", help="topic name prefix (isolated test runs)")
    e.add_argument(
        "--settings-prefix",
        default="KC_",
        help="read the Kafka connection settings (security protocol, SASL, TLS files) from these environment "
        "variables, e.g. APPROVAL_ to use a service's",
    )
    args = parser.parse_args(argv)
    settings = ServiceSettings.under(args.settings_prefix)
    bootstrap = args.bootstrap or settings.kafka_bootstrap_servers
    created = asyncio.run(ensure(bootstrap, args.replication, args.prefix, client_options(settings)))
    print(
        f"topics: {len(declared_topics())} declared, {len(created)} created"
        + (f": {', '.join(created)}" if created else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
