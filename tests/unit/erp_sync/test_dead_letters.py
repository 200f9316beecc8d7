"""erp-sync's dead letters: the listing reads with the service's Kafka security settings, as every other client does,
and its scope is what erp-sync consumes (its own group's records) plus the ERP-facing topics it writes (every record).
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from contracts import Headers
from contracts.topics import APPROVAL_ORDERS, ERP_OUTBOUND_SALES_ORDERS, ERP_SYNC_SALES_ORDERS
from erp_sync.adapters.outbound.dead_letters import dead_letter_scope, is_ours
from erp_sync.settings import ErpSyncSettings
from kc_runtime.dead_letters import DeadLetter
from tests.support.ops import ops_headers

SECURITY = {
    "security_protocol": "SASL_SSL",
    "sasl_mechanism": "SCRAM-SHA-512",
    "sasl_plain_username": "erp-sync",
    "sasl_plain_password": "s3cret",
}


def sasl_settings() -> ErpSyncSettings:
    return ErpSyncSettings(
        kafka_bootstrap_servers="kafka:9093",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_username="erp-sync",
        kafka_sasl_password=SecretStr("s3cret"),
    )


async def test_the_dead_letter_listing_reads_with_the_services_client_options(monkeypatch):
    from fastapi import FastAPI
    from httpx import ASGITransport, AsyncClient

    from erp_sync.adapters.inbound import http as http_module

    settings = sasl_settings()
    seen: list[dict[str, Any]] = []

    async def read(client, topics, prefix="", timeout_s=20.0):
        seen.append(client)
        return []

    monkeypatch.setattr(http_module, "read_dead_letters", read)
    app = FastAPI()
    app.include_router(http_module.ops_router(None, None, states=None, settings=settings))  # type: ignore[arg-type]
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://erp-sync") as client:
        response = await client.get("/ops/dead-letters", headers=ops_headers("erp-sync"))
    assert response.status_code == 200, response.text
    assert seen and {k: seen[0][k] for k in SECURITY} == SECURITY


def letter(topic: str, group: str) -> DeadLetter:
    return DeadLetter(topic, 0, 0, b"k", b"{}", {Headers.DLT_CONSUMER_GROUP: group}, 0)


def test_the_scope_is_the_consumed_topics_and_the_erp_facing_topics_erp_sync_writes():
    scope = dead_letter_scope("erp-sync")
    assert scope[APPROVAL_ORDERS.dlt] == APPROVAL_ORDERS  # consumed
    assert scope[ERP_OUTBOUND_SALES_ORDERS.dlt] == ERP_OUTBOUND_SALES_ORDERS  # written, for the ERP
    assert ERP_SYNC_SALES_ORDERS.dlt not in scope  # written, for the other services: theirs


def test_a_consumed_topics_dead_letter_is_ours_only_if_our_group_left_it_an_erp_facing_one_always():
    assert is_ours(letter(APPROVAL_ORDERS.dlt, "erp-sync"), "erp-sync")
    assert not is_ours(letter(APPROVAL_ORDERS.dlt, "notifications"), "erp-sync")
    assert is_ours(letter(ERP_OUTBOUND_SALES_ORDERS.dlt, "erp"), "erp-sync")
