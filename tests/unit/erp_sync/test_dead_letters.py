"""erp-sync's dead-letter reader connects with the service's Kafka security settings, as every other client does."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from erp_sync.adapters.outbound import dead_letters
from erp_sync.settings import ErpSyncSettings
from kc_runtime.kafka import client_options
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


class Recorded:
    def __init__(self) -> None:
        self.kwargs: list[dict[str, Any]] = []


def fake_clients(monkeypatch) -> Recorded:
    made = Recorded()

    class Admin:
        def __init__(self, **kwargs: Any) -> None:
            made.kwargs.append(kwargs)

        async def start(self) -> None: ...
        async def close(self) -> None: ...

        async def list_topics(self) -> list[str]:
            return ["p.erp.outbound.sales-orders.v1.dlt"]

        async def describe_topics(self, names: list[str]) -> list[dict[str, Any]]:
            return [{"topic": n, "partitions": [{"partition": 0}]} for n in names]

    class Consumer:
        def __init__(self, **kwargs: Any) -> None:
            made.kwargs.append(kwargs)

        async def start(self) -> None: ...
        async def stop(self) -> None: ...
        def assign(self, partitions: list[Any]) -> None: ...
        async def seek_to_beginning(self, *partitions: Any) -> None: ...

        async def end_offsets(self, partitions: list[Any]) -> dict[Any, int]:
            return dict.fromkeys(partitions, 0)  # empty topics: nothing to read

    monkeypatch.setattr(dead_letters, "AIOKafkaAdminClient", Admin)
    monkeypatch.setattr(dead_letters, "AIOKafkaConsumer", Consumer)
    return made


async def test_the_admin_client_and_the_consumer_get_the_settings_tls_and_sasl_options(monkeypatch):
    made = fake_clients(monkeypatch)
    letters = await dead_letters.read_dead_letters(
        client_options(sasl_settings()), ["erp.outbound.sales-orders.v1.dlt"], prefix="p."
    )
    assert letters == []
    assert len(made.kwargs) == 2  # the admin client, then the consumer
    for kwargs in made.kwargs:
        assert kwargs["bootstrap_servers"] == "kafka:9093"
        assert {k: kwargs[k] for k in SECURITY} == SECURITY
        assert kwargs["ssl_context"] is not None


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
