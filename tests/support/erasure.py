"""Searching a service's database for a person's marker values (ADR 0035's erasure tests): every column that can
hold text — text, json, arrays, bytes — of every table but those skipped (an event store, plain until sealed)."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

import asyncpg

SEARCHED_TYPES = ("text", "character varying", "character", "jsonb", "json", "ARRAY", "bytea")


def forms(marker: str) -> set[str]:
    """The marker as a search finds it: plain, URL-encoded, base64 (standard and URL-safe)."""
    raw = marker.encode()
    return {
        marker,
        quote(marker, safe=""),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    }


def holds_any(text: str, markers: list[str]) -> list[str]:
    """The markers ``text`` holds in one of their forms (case-insensitive)."""
    return [m for m in markers if any(f.lower() in text.lower() for f in forms(m))]


async def found_in_tables(dsn: str, markers: list[str], skip: set[str]) -> list[tuple[str, str, str]]:
    """(table, column, marker) for every searched column of every table of the database but ``skip`` whose values
    contain a marker in one of its forms (case-insensitive for text; bytes as they are for bytea)."""
    conn = await asyncpg.connect(dsn)
    try:
        columns = await conn.fetch(
            "SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c"
            " JOIN information_schema.tables t USING (table_schema, table_name)"
            " WHERE c.table_schema NOT IN ('pg_catalog', 'information_schema') AND t.table_type = 'BASE TABLE'"
            " AND c.data_type = ANY($1::text[])",
            list(SEARCHED_TYPES),
        )
        hits = []
        for table, column, data_type in columns:
            if table in skip:
                continue
            for marker in markers:
                for form in forms(marker):
                    if data_type == "bytea":
                        sql = f'SELECT count(*) FROM "{table}" WHERE position($1::bytea IN "{column}") > 0'
                        arg: Any = form.encode()
                    else:
                        sql = f'SELECT count(*) FROM "{table}" WHERE "{column}"::text ILIKE $1'
                        arg = "%" + form.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                    if await conn.fetchval(sql, arg):
                        hits.append((table, column, marker))
        return hits
    finally:
        await conn.close()


async def topic_ends(bootstrap: str, topics: list[str]) -> dict[Any, int]:
    """The end offset of every partition of ``topics`` now (what a later search starts from)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        partitions = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        return dict(await consumer.end_offsets(partitions)) if partitions else {}
    finally:
        await consumer.stop()


async def found_in_topics(bootstrap: str, since: dict[Any, int], markers: list[str]) -> list[tuple[str, str]]:
    """(topic, marker) for every record written to a partition of ``since`` after its offset there whose key, value
    or headers hold a marker in one of its forms."""
    import asyncio

    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    hits: set[tuple[str, str]] = set()
    try:
        partitions = list(since)
        ends = await consumer.end_offsets(partitions)
        todo = {tp for tp in partitions if ends[tp] > since[tp]}
        if not todo:
            return []
        consumer.assign(sorted(todo, key=lambda tp: (tp.topic, tp.partition)))
        for tp in todo:
            consumer.seek(tp, since[tp])
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while todo:
            assert loop.time() < deadline, f"could not read {sorted(t.topic for t in todo)} to their ends"
            for tp, records in (await consumer.getmany(timeout_ms=200)).items():
                for r in records:
                    text = b" ".join([r.key or b"", r.value or b"", *(v for _, v in r.headers)]).decode(
                        "utf-8", "replace"
                    )
                    hits.update((tp.topic, m) for m in holds_any(text, markers))
                if records and records[-1].offset + 1 >= ends[tp]:
                    todo.discard(tp)
        return sorted(hits)
    finally:
        await consumer.stop()


async def nothing_left(
    bootstrap: str, since: dict[Any, int], markers: list[str], databases: dict[str, str], plain_topics: set[str]
) -> None:
    """Wait (30 s at most) until no table of ``databases`` (name → DSN; event stores included) and no record written
    to a topic of ``since`` after its offset there — but ``plain_topics`` — holds a marker; fail naming where one
    still was. Projections and consumers may lag a moment behind an erasure."""
    import pytest

    from tests.conftest import eventually

    async def where_found() -> list[tuple[str, str, str]]:
        found: list[tuple[str, str, str]] = []
        for name, dsn in databases.items():
            found += [(name, table, marker) for table, _, marker in await found_in_tables(dsn, markers, skip=set())]
        on_topics = await found_in_topics(bootstrap, since, markers)
        found += [("kafka", topic, marker) for topic, marker in on_topics if topic not in plain_topics]
        return found

    async def nothing_found() -> bool:
        return await where_found() == []

    try:
        await eventually(nothing_found, what="no marker in any store or topic of ours", timeout=30, interval=1)
    except AssertionError:
        pytest.fail(f"still found after the erasure: {sorted(set(await where_found()))}")
