"""``python -m kc_runtime.topics ensure``: create the contracts' topics with their partition counts."""

from __future__ import annotations

import argparse
import asyncio
import sys

from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic

from contracts.topics import TOPICS, all_topic_names


async def ensure(bootstrap: str, replication: int = 1, prefix: str = "") -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        retention = {t.name: t.retention_ms for t in TOPICS}
        wanted = [(prefix + name, partitions) for name, partitions in all_topic_names()]
        missing = [
            NewTopic(
                name,
                num_partitions=partitions,
                replication_factor=replication,
                topic_configs={"retention.ms": str(retention.get(name.removeprefix(prefix), 30 * 24 * 3600 * 1000))},
            )
            for name, partitions in wanted
            if name not in existing
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
    parser = argparse.ArgumentParser(prog="kc_runtime.topics")
    sub = parser.add_subparsers(dest="command", required=True)
    e = sub.add_parser("ensure", help="create missing topics from the contracts registry")
    e.add_argument("--bootstrap", default="127.0.0.1:19092")
    e.add_argument("--replication", type=int, default=1)
    e.add_argument("--prefix", default="", help="topic name prefix (isolated test runs)")
    args = parser.parse_args(argv)
    created = asyncio.run(ensure(args.bootstrap, args.replication, args.prefix))
    print(
        f"topics: {len(all_topic_names())} declared, {len(created)} created"
        + (f": {', '.join(created)}" if created else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
