"""The replay index on PostgreSQL: written with the events, filled once with what the log held before it, and
read from an instant on — a replay reads what it republishes, not the log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from erp_sync.adapters.outbound.replay_index import IndexingRecorder, PostgresReplayIndex
from erp_sync.application.exchanges import Exchanges
from erp_sync.domain.customers import Customer
from erp_sync.domain.model import SalesOrderExchange
from kc_runtime.sealing import KeyRing
from tests.integration.test_exactly_once import es_env

pytestmark = pytest.mark.integration


def indexed(dsn: str, key_ring: KeyRing | None = None) -> Exchanges:
    env = {**es_env(dsn), "PROCESS_RECORDER_TOPIC": f"{IndexingRecorder.__module__}:{IndexingRecorder.__qualname__}"}
    return Exchanges(env=env, replay_index_factory=PostgresReplayIndex, key_ring=key_ring)


def order(exchanges: Exchanges, company_id) -> SalesOrderExchange:
    exchange = SalesOrderExchange(
        order_id=uuid4(), company_id=company_id, request={}, requested_at=datetime.now(UTC), awaits_answer=True
    )
    exchanges.save(exchange)
    return exchange


def noise(exchanges: Exchanges, n: int) -> None:
    """Events no replay republishes (the ERP's customers)."""
    exchanges.save(*(Customer(str(uuid4()), None, True, None, datetime.now(UTC)) for _ in range(n)))


def orders_of(page) -> list:
    return [n.originator_id for n in page]


async def test_only_the_messages_since_the_instant_are_read_and_the_old_log_is_indexed_once(database):
    dsn = await database("erp-sync")
    a, b = uuid4(), uuid4()
    before_the_index = Exchanges(env=es_env(dsn))  # the first version: no index
    old = [order(before_the_index, a), order(before_the_index, b)]
    noise(before_the_index, 5)
    before_the_index.close()

    exchanges = indexed(dsn)
    index = exchanges.replay_index
    earlier = order(exchanges, a)
    noise(exchanges, 5)
    since = datetime.now(UTC)
    later = [order(exchanges, a), order(exchanges, b)]
    noise(exchanges, 5)

    assert orders_of(index.page(since, None, 0, 100)) == [x.id for x in later]
    assert orders_of(index.page(since, a, 0, 100)) == [later[0].id]
    assert orders_of(index.page(since, None, 0, 1)) == [later[0].id]  # paged by notification id
    first = index.page(since, None, 0, 1)[0].id
    assert orders_of(index.page(since, None, first, 1)) == [later[1].id]

    everything = since - timedelta(hours=1)
    assert orders_of(index.page(everything, None, 0, 100)) == [earlier.id, *(x.id for x in later)]
    assert index.backfill(exchanges.mapper) == 2
    assert index.backfill(exchanges.mapper) == 0
    assert orders_of(index.page(everything, None, 0, 100)) == [x.id for x in (*old, earlier, *later)]
    exchanges.close()
