"""Republishing a service's outgoing messages since a point in time, exactly as its outbox relay published them.

A replay reads the notification log page by page, translates each event stored at or after the instant with the
relay's translator and envelope (:class:`kc_runtime.relay.OutboxRelay`: the same event ids from
``EVENT_ID_NAMESPACE``, the same keys, headers and source notification ids), and publishes the page, waiting for
every acknowledgement before it reads the next. Consumers take the copies for what they are: duplicates of what
they have (a consumer's tracking record, an outside system's idempotency key). A replay done again (after a crash
half-way) repeats nothing harmful.

By default the whole log is read (each event decoded to see when it was stored); a service that replays often keeps
an index of its log by time and hands its reader in (erp-sync: ADR 0008).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from eventsourcing.persistence import Notification
from faststream.kafka import KafkaBroker

from kc_runtime.eventstore import MetadataMapper
from kc_runtime.faults import failpoint
from kc_runtime.follower import Batch
from kc_runtime.relay import OutboxRelay

Prepared = list[tuple[str, bytes, bytes, dict[str, str]]]
"""Messages ready to publish: (topic without the prefix, key, body, headers)."""

PageReader = Callable[[int, int], Sequence[Notification]]
"""``(after, limit)`` → up to ``limit`` notifications with ids above ``after``, in log order (blocking: it runs in
the event store's worker pool). It may leave out what the replay would pass over anyway."""


@dataclass(frozen=True)
class Replayed:
    published: int
    by_topic: dict[str, int]
    """Messages republished per topic (each topic of ``topics`` listed, if given)."""


async def replay(
    relay: OutboxRelay,
    since: datetime,
    *,
    read: PageReader | None = None,
    topics: Collection[str] | None = None,
    page: int = 500,
) -> Replayed:
    """Republish the messages ``relay`` published for the events stored at or after ``since`` (only those on
    ``topics``, if given), page by page, each page acknowledged by the broker before the next is read.

    ``read``: the pages of the log to look at (default: the whole log, from its start).
    """
    app = relay.app
    if read is None:
        recorder = app.recorder

        def read_log(after: int, limit: int) -> Sequence[Notification]:
            return recorder.select_notifications(start=after, limit=limit, inclusive_of_start=False)

        read = read_log
    by_topic = dict.fromkeys(sorted(topics or ()), 0)
    position, published = 0, 0
    while True:
        entries, position, more = await relay.blocking.run(_page, relay, read, position, page, since)
        prepared = [p for p in await relay.blocking.run(relay.prepare, entries) if topics is None or p[0] in topics]
        await publish(relay.broker, prepared, relay.topic_prefix)
        failpoint("replay.after_publish")
        published += len(prepared)
        for topic, *_ in prepared:
            by_topic[topic] = by_topic.get(topic, 0) + 1
        if not more:
            return Replayed(published, by_topic)


def _page(relay: OutboxRelay, read: PageReader, after: int, limit: int, since: datetime) -> tuple[Batch, int, bool]:
    """The next page: its events stored at or after ``since``, decoded; the position after it; whether there may
    be more."""
    mapper = relay.app.mapper
    assert isinstance(mapper, MetadataMapper)
    notifications = read(after, limit)
    entries: Batch = []
    for n in notifications:
        event, meta = mapper.to_domain_event_with_meta(n)
        if event.timestamp >= since:
            entries.append((n, event, meta))
    last = notifications[-1].id if notifications else after
    return entries, last, len(notifications) == limit


async def publish(broker: KafkaBroker, prepared: Prepared, topic_prefix: str = "") -> None:
    """Publish every message, then wait until the broker acknowledged each (acks=all)."""
    futures = []
    for topic, key, body, headers in prepared:
        futures.append(
            await broker.publish(body, topic=topic_prefix + topic, key=key, headers=headers, no_confirm=True)
        )
    for fut in futures:
        if asyncio.isfuture(fut):
            await fut
