"""Exactly-once effects on at-least-once delivery, proven by killing real processes at the worst moments."""

from __future__ import annotations

import asyncio
import signal

import pytest
from pydantic import SecretStr

from approval.application.orders import Orders
from contracts import Headers
from contracts.topics import APPROVAL_ORDERS, ERP_OUTBOUND_SALES_ORDERS
from erp_sync.application.exchanges import Exchanges
from kc_runtime.settings import ServiceSettings
from tests.conftest import eventually
from tests.integration.conftest import read_topic, service_env
from tests.support.approval import Company
from tests.support.infra import ServiceProcess, random_suffix
from tests.support.orders import order_request

pytestmark = pytest.mark.integration


def es_env(dsn: str) -> dict[str, str]:
    return ServiceSettings(database_url=SecretStr(dsn), db_pool_size=2).eventsourcing_env()


async def start(p: ServiceProcess, processes: list, failpoints: str = "") -> ServiceProcess:
    processes.append(p.start(failpoints=failpoints))
    return await asyncio.to_thread(p.wait_ready)


async def ready(p: ServiceProcess, processes: list) -> ServiceProcess:
    """Wait for an already started process."""
    processes.append(p)
    return await asyncio.to_thread(p.wait_ready)


def approval_process(dsn: str, prefix: str, **extra: str) -> ServiceProcess:
    env = service_env(dsn, prefix, CONSUMER_GROUP=f"it-approval-{random_suffix()}", **extra)
    return ServiceProcess("approval", "APPROVAL_", env, name="approval")


def erp_sync_process(dsn: str, prefix: str, group: str) -> ServiceProcess:
    return ServiceProcess("erp_sync", "ERP_SYNC_", service_env(dsn, prefix, CONSUMER_GROUP=group), name="erp-sync")


async def test_an_event_is_applied_once_when_the_relay_dies_after_publishing_and_before_saving_its_position(
    database, topic_prefix, processes
):
    approval_dsn, erp_dsn = await database("approval"), await database("erp-sync")
    erp = await start(erp_sync_process(erp_dsn, topic_prefix, f"it-erp-sync-{random_suffix()}"), processes)
    orders = Orders(env=es_env(approval_dsn))
    order = orders.submit(Company(orders).buyer(), order_request())
    key = str(order.id).encode()

    doomed = approval_process(approval_dsn, topic_prefix)
    processes.append(doomed.start(failpoints="relay.after_publish"))
    assert await asyncio.to_thread(doomed.wait_exit) == -signal.SIGKILL
    assert len(await read_topic(topic_prefix + APPROVAL_ORDERS.name, key=key)) == 1

    await ready(doomed.restarted(), processes)

    async def republished() -> bool:
        return len(await read_topic(topic_prefix + APPROVAL_ORDERS.name, key=key)) == 2

    await eventually(republished, what="the restarted relay to publish the order again")
    await eventually(
        lambda: asyncio.to_thread(erp.metric, "kc_consumer_messages_total", outcome="duplicate"),
        what="erp-sync to recognise the republished copy",
    )
    exchanges = Exchanges(env=es_env(erp_dsn))
    assert exchanges.sales_order(order.id).version == 1
    assert exchanges.max_notification_id() == 1
    outbound = await eventually(
        lambda: read_topic(topic_prefix + ERP_OUTBOUND_SALES_ORDERS.name, key=key), what="the ERP request"
    )
    assert len(outbound) == 1
    orders.close()
    exchanges.close()


async def test_an_event_is_applied_once_when_the_consumer_dies_after_its_commit_and_before_the_offset_commit(
    database, topic_prefix, processes
):
    approval_dsn, erp_dsn = await database("approval"), await database("erp-sync")
    group = f"it-erp-sync-{random_suffix()}"
    doomed = await start(erp_sync_process(erp_dsn, topic_prefix, group), processes, failpoints="consumer.after_commit")
    await start(approval_process(approval_dsn, topic_prefix), processes)
    orders = Orders(env=es_env(approval_dsn))
    order = orders.submit(Company(orders).buyer(), order_request())

    assert await asyncio.to_thread(doomed.wait_exit) == -signal.SIGKILL
    exchanges = Exchanges(env=es_env(erp_dsn))
    assert exchanges.sales_order(order.id).version == 1  # the database commit happened before the kill

    erp = await ready(doomed.restarted(), processes)
    await eventually(
        lambda: asyncio.to_thread(erp.metric, "kc_consumer_messages_total", outcome="duplicate"),
        what="the redelivered message to be recognised as a duplicate",
    )
    assert exchanges.sales_order(order.id).version == 1
    assert exchanges.max_notification_id() == 1
    outbound = await eventually(
        lambda: read_topic(topic_prefix + ERP_OUTBOUND_SALES_ORDERS.name, key=str(order.id).encode()),
        what="the ERP request",
    )
    # erp-sync's own relay may have published before the kill and again after it: every copy is the same
    # request (same event id, same idempotency key), which the ERP deduplicates.
    assert len({dict(r.headers)[Headers.EVENT_ID] for r in outbound}) == 1
    orders.close()
    exchanges.close()
