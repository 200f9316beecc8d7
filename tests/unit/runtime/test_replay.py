"""kc_runtime.replay on an in-memory event store: the messages of the events stored since an instant are published
again exactly as the outbox relay published them (event ids, keys, bodies, headers), page by page, each page
acknowledged before the next is read, filtered by topic and read through a service's own reader if it has one."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, ClassVar
from uuid import UUID

import pytest
from eventsourcing.domain import Aggregate, event

from contracts import Headers, Message
from contracts.topics import Topic
from kc_runtime.eventstore import ServiceApplication, WorkerPool
from kc_runtime.relay import OutboxRelay, Outgoing
from kc_runtime.replay import replay
from tests.conftest import eventually

MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


class ItemMade(Message):
    event_type: ClassVar[str] = "ItemMade"
    item_id: UUID
    name: str


class ItemRenamed(Message):
    event_type: ClassVar[str] = "ItemRenamed"
    item_id: UUID
    name: str


ITEMS = Topic(name="shop.items.v1", owner="shop", partitions=3, key="item id", messages=(ItemMade, ItemRenamed))
AUDIT = Topic(name="shop.audit.v1", owner="shop", partitions=1, key="item id", messages=(ItemMade,))


class Item(Aggregate):
    class Created(Aggregate.Created):
        name: str

    @event(Created)
    def __init__(self, name: str) -> None:
        self.name = name

    class Renamed(Aggregate.Event):
        name: str

    @event(Renamed)
    def rename(self, name: str) -> None:
        self.name = name


def translate(e: Any) -> list[Outgoing]:
    match e:
        case Item.Created():
            made = ItemMade(item_id=e.originator_id, name=e.name)
            return [Outgoing(ITEMS, str(e.originator_id), made), Outgoing(AUDIT, str(e.originator_id), made)]
        case Item.Renamed():
            return [Outgoing(ITEMS, str(e.originator_id), ItemRenamed(item_id=e.originator_id, name=e.name))]
    return []


class Items(ServiceApplication):
    pass


@dataclass
class Broker:
    """Records what is published; with ``acks`` set, each publish returns a future the test resolves."""

    published: list[tuple[str, bytes, bytes, dict[str, str]]]
    acks: list[asyncio.Future[None]] | None = None

    async def publish(self, body, topic, key=None, headers=None, no_confirm=False):
        self.published.append((topic, key, body, dict(headers or {})))
        if self.acks is not None:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self.acks.append(fut)
            return fut
        return None


@pytest.fixture
def shop():
    app = Items(env=MEMORY)
    blocking = WorkerPool(2)
    broker = Broker([])
    relay = OutboxRelay(
        service="shop", app=app, broker=broker, translate=translate, dsn="memory://", blocking=blocking,
        topic_prefix="p.",
    )  # fmt: skip
    yield SimpleNamespace(app=app, relay=relay, broker=broker)
    blocking.shutdown()


def made(app: Items, *names: str) -> list[Item]:
    items = []
    for name in names:
        item = Item(name)
        app.save(item)
        items.append(item)
    return items


async def test_a_replay_publishes_what_the_relay_published_for_the_events_since_the_instant(shop):
    (early,) = made(shop.app, "early")
    since = datetime.now(UTC)
    (late,) = made(shop.app, "late")
    late.rename("later")
    shop.app.save(late)
    await shop.relay.process(shop.app.notifications(0, 100))
    as_relayed = [p for p in shop.broker.published if p[1] == str(late.id).encode()]
    shop.broker.published.clear()

    done = await replay(shop.relay, since)

    assert shop.broker.published == as_relayed  # same topics (prefixed), keys, bodies, event ids and headers
    assert [(t, h[Headers.EVENT_TYPE]) for t, _, _, h in as_relayed] == [
        ("p.shop.items.v1", "ItemMade"), ("p.shop.audit.v1", "ItemMade"), ("p.shop.items.v1", "ItemRenamed"),
    ]  # fmt: skip
    assert (done.published, done.by_topic) == (3, {"shop.items.v1": 2, "shop.audit.v1": 1})
    assert str(early.id).encode() not in {k for _, k, _, _ in shop.broker.published}


async def test_a_replay_reads_the_log_page_by_page_to_its_end(shop):
    items = made(shop.app, *(f"item {i}" for i in range(7)))
    pages: list[tuple[int, int]] = []
    recorder = shop.app.recorder

    def read(after: int, limit: int):
        pages.append((after, limit))
        return recorder.select_notifications(start=after, limit=limit, inclusive_of_start=False)

    done = await replay(shop.relay, datetime.now(UTC) - timedelta(minutes=1), read=read, page=3)

    assert pages == [(0, 3), (3, 3), (6, 3)]
    assert done.published == 14
    keys = [k for t, k, _, _ in shop.broker.published if t == "p.shop.items.v1"]
    assert keys == [str(i.id).encode() for i in items]  # in log order


async def test_a_replay_publishes_only_the_topics_asked_for_and_counts_each_of_them(shop):
    made(shop.app, "a", "b")

    done = await replay(
        shop.relay, datetime.now(UTC) - timedelta(minutes=1), topics={"shop.audit.v1", "shop.elsewhere.v1"}
    )

    assert {t for t, *_ in shop.broker.published} == {"p.shop.audit.v1"}
    assert (done.published, done.by_topic) == (2, {"shop.audit.v1": 2, "shop.elsewhere.v1": 0})


async def test_a_replay_publishes_nothing_stored_before_the_instant_even_when_its_reader_hands_it_over(shop):
    made(shop.app, "old")
    recorder = shop.app.recorder

    def everything(after: int, limit: int):
        return recorder.select_notifications(start=after, limit=limit, inclusive_of_start=False)

    done = await replay(shop.relay, datetime.now(UTC) + timedelta(minutes=1), read=everything)
    assert (done.published, shop.broker.published) == (0, [])


async def test_a_service_reader_decides_what_is_looked_at(shop):
    wanted, _ = made(shop.app, "wanted", "passed over")
    recorder = shop.app.recorder

    def only_wanted(after: int, limit: int):
        found = recorder.select_notifications(start=after, limit=limit, inclusive_of_start=False)
        return [n for n in found if n.originator_id == wanted.id]

    done = await replay(shop.relay, datetime.now(UTC) - timedelta(minutes=1), read=only_wanted)
    assert done.published == 2
    assert {k for _, k, _, _ in shop.broker.published} == {str(wanted.id).encode()}


async def test_the_next_page_is_read_only_once_the_broker_acknowledged_the_page(shop):
    made(shop.app, "a", "b")
    shop.broker.acks = []
    reads: list[int] = []
    recorder = shop.app.recorder

    def read(after: int, limit: int):
        reads.append(after)
        return recorder.select_notifications(start=after, limit=limit, inclusive_of_start=False)

    running = asyncio.create_task(replay(shop.relay, datetime.now(UTC) - timedelta(minutes=1), read=read, page=1))

    async def first_page_sent():
        return len(shop.broker.acks or []) == 2

    await eventually(first_page_sent, what="the first page's two messages to be published")
    assert reads == [0] and not running.done()
    for fut in shop.broker.acks or []:
        fut.set_result(None)

    async def second_page_sent():
        return len(shop.broker.acks or []) == 4

    await eventually(second_page_sent, what="the second page's two messages to be published")
    assert reads == [0, 1] and not running.done()
    for fut in (shop.broker.acks or [])[2:]:
        fut.set_result(None)
    done = await asyncio.wait_for(running, timeout=10)
    assert done.published == 4 and reads == [0, 1, 2]


async def test_a_message_the_broker_refuses_fails_the_replay(shop):
    made(shop.app, "a")
    shop.broker.acks = []
    running = asyncio.create_task(replay(shop.relay, datetime.now(UTC) - timedelta(minutes=1)))

    async def sent():
        return len(shop.broker.acks or []) == 2

    await eventually(sent, what="the page to be published")
    (shop.broker.acks or [])[0].set_exception(ConnectionError("broker away"))
    (shop.broker.acks or [])[1].set_result(None)
    with pytest.raises(ConnectionError):
        await asyncio.wait_for(running, timeout=10)
