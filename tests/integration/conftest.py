"""Integration fixtures: the real Kafka broker and PostgreSQL that `make test` starts.

Each test session works in its own topic namespace (a random topic prefix) and its own databases, so runs
never see each other's messages, and real service processes are started, killed and restarted as needed.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from kc_runtime.topics import ensure
from tests.support.infra import KAFKA, PG_ADMIN_DSN, ServiceProcess, dsn_for, random_suffix

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
async def infra() -> None:
    try:
        conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
        await conn.close()
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL at {PG_ADMIN_DSN} unreachable ({exc!r}): run `make infra-up` or `make test`")
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, request_timeout_ms=5000)
    try:
        await asyncio.wait_for(consumer.start(), 15)
    except Exception as exc:
        pytest.fail(f"Kafka at {KAFKA} unreachable ({exc!r}): run `make infra-up` or `make test`")
    finally:
        await consumer.stop()


@pytest.fixture
async def topic_prefix(infra: None) -> AsyncIterator[str]:
    """A topic namespace of this test's own, deleted afterwards."""
    prefix = f"it-{random_suffix()}."
    await ensure(KAFKA, prefix=prefix)
    yield prefix
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    try:
        await admin.delete_topics([t for t in await admin.list_topics() if t.startswith(prefix)])
    finally:
        await admin.close()


@pytest.fixture
async def database(infra: None) -> AsyncIterator[Callable[[str], asyncpg.Connection]]:
    """``await database("approval")`` → the DSN of a fresh database, dropped after the test."""
    created: list[str] = []

    async def make(service: str) -> str:
        name = f"it_{service.replace('-', '_')}_{random_suffix()}"
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        created.append(name)
        return dsn_for(name)

    yield make  # type: ignore[misc]
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        for name in created:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
def processes() -> AsyncIterator[list[ServiceProcess]]:
    started: list[ServiceProcess] = []
    yield started
    for p in started:
        p.kill()


def service_env(dsn: str, prefix: str, **extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": dsn,
        "KAFKA_BOOTSTRAP_SERVERS": KAFKA,
        "TOPIC_PREFIX": prefix,
        "CONSUMER_BACKOFF_INITIAL_S": "0.05",
        "RELAY_IDLE_INTERVAL_S": "0.05",
        "LOG_LEVEL": os.environ.get("KC_TEST_SERVICE_LOG_LEVEL", "INFO"),
        **extra,
    }


async def read_topic(topic: str, *, key: bytes | None = None, timeout: float = 10.0) -> list:
    """Every record of ``topic`` (optionally only those with ``key``), from the beginning to the current end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
        await admin.start()
        try:
            (described,) = await admin.describe_topics([topic])
        finally:
            await admin.close()
        partitions = [TopicPartition(topic, p["partition"]) for p in described["partitions"]]
        assert partitions, f"topic {topic} does not exist"
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        records = []
        remaining = {tp for tp in partitions if end[tp] > 0}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while remaining:
            assert loop.time() < deadline, f"could not read {topic} to its end within {timeout}s"
            batch = await consumer.getmany(timeout_ms=200)
            for tp, recs in batch.items():
                records.extend(r for r in recs if key is None or r.key == key)
                if recs and recs[-1].offset + 1 >= end[tp]:
                    remaining.discard(tp)
        return records
    finally:
        await consumer.stop()
