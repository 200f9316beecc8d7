"""The ERP simulator without Kafka and PostgreSQL: it answers /healthz but is not ready, stops cleanly, and
interprets messages as the ERP would (the exchange with the real broker is tested with the local stack)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import httpx

from contracts.common import Address, Money, OrderLine
from contracts.envelope import Envelope
from contracts.erp.v1 import SalesOrderRequested
from contracts.topics import ERP_OUTBOUND_SALES_ORDERS, consumed_by
from standins.erp_simulator.consumer import ERP_CONSUMER, ErpConsumer
from standins.erp_simulator.settings import ErpSimulatorSettings


def _closed_port(free_port: Any) -> int:
    return free_port()  # nothing listens there


def test_not_ready_without_database_and_broker_and_stops_cleanly(standin: Any, free_port: Any) -> None:
    env = {
        "ERP_SIMULATOR_DATABASE_URL": f"postgresql://erp:erp@127.0.0.1:{_closed_port(free_port)}/erp",
        "ERP_SIMULATOR_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{_closed_port(free_port)}",
    }
    simulator = standin("standins.erp_simulator", "ERP_SIMULATOR_", env, wait=False)
    simulator.wait_ready(path="/healthz")
    ready = httpx.get(f"{simulator.url}/readyz", timeout=5)
    assert ready.status_code == 503
    assert ready.json()["database"] == "not connected"
    assert httpx.get(f"{simulator.url}/stats", timeout=5).status_code == 503
    simulator.stop_cleanly()


def _sales_order() -> SalesOrderRequested:
    address = Address(name="Muster GmbH", street="Hauptstr. 1", postal_code="10115", city="Berlin", country="DE")
    price = Money(amount=Decimal("12.50"), currency="EUR")
    order_id = uuid.uuid4()
    return SalesOrderRequested(
        idempotency_key=f"sales-order:{order_id}",
        order_id=order_id,
        company_id=uuid.uuid4(),
        buyer_id=uuid.uuid4(),
        lines=[OrderLine(sku="A-1", description="Schraube", quantity=2, unit_price=price, line_total=price)],
        total=Money(amount=Decimal("25.00"), currency="EUR"),
        delivery_address=address,
        billing_address=address,
        payment_method="invoice",
        shipping_method="standard",
        requested_at=datetime.now(UTC),
    )


def _envelope() -> Envelope:
    return Envelope(
        event_id=uuid.uuid4(),
        event_type=SalesOrderRequested.event_type,
        schema_version=SalesOrderRequested.schema_version,
        occurred_at=datetime.now(UTC),
        correlation_id="corr-1",
        causation_id="cause-1",
        producer="erp-sync",
        source_notification_id=7,
    )


def _interpret(headers: dict[str, str], body: bytes) -> tuple[dict[str, Any], dict[str, Any] | None]:
    from kc_runtime.kafka import create_broker

    consumer = ErpConsumer(create_broker(ErpSimulatorSettings()), group_id="erp-simulator")
    raw = SimpleNamespace(topic=ERP_OUTBOUND_SALES_ORDERS.name, partition=3, offset=41, key=b"k", timestamp=1)
    position = {"topic": raw.topic, "partition": 3, "offset": 41}
    return consumer._interpret(ERP_OUTBOUND_SALES_ORDERS, headers, body, raw, position)


def test_consumes_the_topics_of_the_erp() -> None:
    assert ERP_OUTBOUND_SALES_ORDERS in consumed_by(ERP_CONSUMER)


def test_a_sales_order_request_becomes_a_sales_order() -> None:
    message = _sales_order()
    row, order = _interpret(_envelope().to_headers(), message.model_dump_json().encode())
    assert order is not None
    assert order["idempotency_key"] == message.idempotency_key
    assert order["order_id"] == message.order_id
    assert order["correlation_id"] == "corr-1"
    assert row["idempotency_key"] == message.idempotency_key
    assert row["payload"] == json.loads(message.model_dump_json())
    assert (row["partition"], row["offset"], row["key"]) == (3, 41, "k")


def test_invalid_messages_are_recorded_but_create_nothing() -> None:
    row, order = _interpret({}, _sales_order().model_dump_json().encode())
    assert order is None and row["outcome"] == "invalid" and "envelope" in row["error"]

    row, order = _interpret(_envelope().to_headers(), b'{"not": "a sales order"}')
    assert order is None and row["outcome"] == "invalid"

    row, order = _interpret(_envelope().to_headers(), b"\xff not json")
    assert order is None and row["payload"] is None and row["payload_text"]
