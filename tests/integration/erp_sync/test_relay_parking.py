"""One bad record never stops the flow (real Kafka and PostgreSQL, erp-sync's whole app in this process).

erp-sync stores a contact whose outgoing message cannot be built — as on the stack before the limits were unified:
a 230-character e-mail address that the contract of that time (200) refused. The relay parks it with its reason
(and the contact's next event behind it), released orders of other companies still reach the ERP, the metric
counts it, the operator API lists it (with the operator token only), and after the fix is deployed an operator's
retry publishes both, in their order, exactly once.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import httpx
import pytest
from prometheus_client import REGISTRY
from pydantic import BaseModel, Field

import erp_sync.main as erp_sync_main
from contracts import Envelope, Headers
from contracts.approval.v1 import OrderReleased
from contracts.erp.v1 import ContactChanged, ContactCreated
from contracts.topics import APPROVAL_ORDERS, ERP_OUTBOUND_CONTACTS, ERP_OUTBOUND_SALES_ORDERS, USERS_USERS
from contracts.users import v1 as users
from erp_sync.adapters.inbound.kafka import consumer_specs, exchange_consumer_specs
from erp_sync.adapters.outbound.translator import translate
from erp_sync.settings import ErpSyncSettings
from kc_runtime.consumer import Inbound
from kc_runtime.relay import Outgoing
from tests.conftest import eventually
from tests.integration.conftest import read_topic
from tests.service.erp_sync.test_erp_exchange import released, user_created
from tests.support.infra import KAFKA
from tests.support.ops import ops_headers

pytestmark = pytest.mark.integration

LONG_EMAIL = "a" * 218 + "@example.com"  # 230 characters: a valid address, over the old contract's 200


class ContactOfTheOldContract(BaseModel):
    email: str = Field(max_length=200)


def translate_with_the_old_limit(event: Any) -> Sequence[Outgoing]:
    """The translator as it was before the fix: a contact's e-mail address over 200 characters cannot be sent."""
    out = translate(event)
    for o in out:
        if isinstance(o.message, ContactCreated | ContactChanged):
            ContactOfTheOldContract(email=o.message.email)
    return out


def parked_total(kind: str) -> float:
    return (
        REGISTRY.get_sample_value("kc_parked_events_total", {"kc_service": "erp-sync", "follower": "relay", "kind": kind})
        or 0.0
    )


@asynccontextmanager
async def erp_sync(dsn: str, prefix: str) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    settings = ErpSyncSettings(
        database_url=dsn,
        kafka_bootstrap_servers=KAFKA,
        topic_prefix=prefix,
        consumer_group=f"it-parking-{uuid4().hex[:8]}",
        relay_idle_interval_s=0.05,
        process_roles=["api", "relay"],
    )
    http = erp_sync_main.create_app(settings)
    async with http.router.lifespan_context(http):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=http), base_url="http://erp-sync") as client:
            yield http.state.runtime, client


def inbound(message: Any, topic: Any) -> Inbound:
    envelope = Envelope(
        event_id=uuid4(), event_type=message.event_type, schema_version=1, occurred_at=datetime.now(UTC),
        correlation_id="c", causation_id="c", producer="test", source_notification_id=1,
    )  # fmt: skip
    return Inbound(message=message, envelope=envelope, topic=topic.name, partition=0, offset=0)


async def store(runtime: Any, handle: Callable[[Inbound], list[Any]], message: Any, topic: Any) -> None:
    """As erp-sync's consumer would: the handler's aggregates saved in the event store."""
    aggregates = await runtime.blocking.run(handle, inbound(message, topic))
    await runtime.blocking.run(runtime.app.save, *aggregates)


async def records(prefix: str, topic: Any, key: Any) -> list[Any]:
    return await read_topic(prefix + topic.name, key=str(key).encode())


async def test_a_contact_whose_message_cannot_be_built_is_parked_and_later_orders_of_other_companies_reach_the_erp(
    database, topic_prefix, monkeypatch
):
    dsn = await database("erp-sync")
    poison_company, user_id = uuid4(), uuid4()
    poison_before, held_before = parked_total("poison"), parked_total("held")

    monkeypatch.setattr(erp_sync_main, "translate", translate_with_the_old_limit)
    async with erp_sync(dsn, topic_prefix) as (runtime, client):
        exchanges = runtime.app
        on_user = exchange_consumer_specs(exchanges)
        users_spec = next(s for s in on_user if s.topic is USERS_USERS)
        on_order = consumer_specs(exchanges)[0].handlers[OrderReleased]
        created = user_created(poison_company, user_id=user_id, email=LONG_EMAIL)
        await store(runtime, users_spec.handlers[users.UserCreated], created, USERS_USERS)
        renamed = users.UserRenamed(user_id=user_id, company_id=poison_company, first_name="Beate", last_name="Buyer")
        await store(runtime, users_spec.handlers[users.UserRenamed], renamed, USERS_USERS)
        orders = [released(uuid4(), uuid4()) for _ in range(3)]
        for order in orders:
            await store(runtime, on_order, order, APPROVAL_ORDERS)

        # Every other company's order reaches the ERP behind the bad contact.
        for order in orders:
            await eventually(
                lambda o=order: records(topic_prefix, ERP_OUTBOUND_SALES_ORDERS, o.order_id),
                timeout=30,
                what=f"order {order.order_id} on the ERP's topic",
            )

        async def listed() -> list[dict]:
            r = await client.get("/ops/parked", headers=ops_headers("erp-sync"))
            assert r.status_code == 200, r.text
            mine = [p for p in r.json() if p["aggregate_id"] == str(created_id(exchanges, user_id))]
            return mine if len(mine) == 2 else []

        parked = await eventually(listed, timeout=30, what="the contact's two events in the parked list")
        head, behind = parked
        assert "email" in head["reason"] and "string_too_long" in head["reason"]
        assert LONG_EMAIL not in head["reason"]  # the reason names the field, never the address
        assert head["blocked_by"] is None and head["event_type"].endswith("Created")
        assert behind["blocked_by"] == head["notification_id"] and behind["event_type"].endswith("Changed")
        assert parked_total("poison") == poison_before + 1 and parked_total("held") == held_before + 1
        assert await records(topic_prefix, ERP_OUTBOUND_CONTACTS, user_id) == []
        refused = await client.get("/ops/parked")
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_ops_token"

    # The fix is deployed (the contract carries what the API accepts); the operator retries.
    monkeypatch.undo()
    async with erp_sync(dsn, topic_prefix) as (runtime, client):
        r = await client.post("/ops/parked/retry", json={}, headers=ops_headers("erp-sync"))
        assert r.status_code == 202 and r.json() == {"requested": 2}, r.text

        async def both_published() -> list[Any]:
            found = await records(topic_prefix, ERP_OUTBOUND_CONTACTS, user_id)
            return found if len(found) >= 2 else []

        sent = await eventually(both_published, timeout=30, what="the parked contact's messages on the ERP's topic")

        async def nothing_parked() -> bool:
            r = await client.get("/ops/parked", headers=ops_headers("erp-sync"))
            return r.status_code == 200 and r.json() == []

        await eventually(nothing_parked, timeout=30, what="the parked list to be empty")
        again = await client.post("/ops/parked/retry", json={}, headers=ops_headers("erp-sync"))
        assert again.json() == {"requested": 0}

    sent = await records(topic_prefix, ERP_OUTBOUND_CONTACTS, user_id)
    types = [dict(r.headers)[Headers.EVENT_TYPE].decode() for r in sent]
    assert types == ["ContactCreated", "ContactChanged"]  # once each, in the contact's order
    assert json.loads(sent[0].value)["email"] == LONG_EMAIL
    ids = [int(dict(r.headers)[Headers.SOURCE_NOTIFICATION_ID].decode()) for r in sent]
    assert ids[0] < ids[1]


def created_id(exchanges: Any, user_id: Any) -> Any:
    from erp_sync.domain.model import ContactExchange

    return ContactExchange.create_id(user_id)
