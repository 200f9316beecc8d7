"""kc_kafka_requests_total against the real broker: every request a client of the service sends, by API."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import REGISTRY

from contracts.topics import APPROVAL_ORDERS
from kc_runtime.kafka import create_broker
from kc_runtime.settings import ServiceSettings
from tests.support.infra import KAFKA, random_suffix

pytestmark = pytest.mark.integration


def requests(service: str) -> dict[str, float]:
    """API → requests counted for ``service``."""
    return {
        s.labels["api"]: s.value
        for metric in REGISTRY.collect()
        if metric.name == "kc_kafka_requests"
        for s in metric.samples
        if s.name == "kc_kafka_requests_total" and s.labels["kc_service"] == service
    }


async def test_the_requests_of_the_producer_and_of_a_plain_client_are_counted_by_api(topic_prefix: str) -> None:
    other = create_broker(ServiceSettings(service_name=f"it-other-{random_suffix()}", kafka_bootstrap_servers=KAFKA))
    await other.start()  # another service's broker in the same process first: its requests are not ours
    await other.stop()
    service = f"it-requests-{random_suffix()}"
    broker = create_broker(ServiceSettings(service_name=service, kafka_bootstrap_servers=KAFKA))
    await broker.start()
    try:
        for i in range(3):
            await broker.publish(b"{}", topic=topic_prefix + APPROVAL_ORDERS.name, key=str(i).encode())
    finally:
        await broker.stop()
    counted = requests(service)
    assert counted.get("Produce", 0) >= 3, counted  # one acknowledged publish at a time: a request each
    assert counted.get("Metadata", 0) >= 1, counted

    # Any aiokafka client of the process counts under the service it is named after (the fence's offsets client
    # is "<service>-fence"), whatever other services' clients the process made before (tests make many)
    before = requests(service).get("ListOffsets", 0)
    client = AIOKafkaConsumer(bootstrap_servers=KAFKA, enable_auto_commit=False, client_id=f"{service}-fence")
    await client.start()
    try:
        await client.end_offsets([TopicPartition(topic_prefix + APPROVAL_ORDERS.name, 0)])
    finally:
        await client.stop()
    assert requests(service).get("ListOffsets", 0) >= before + 1  # (a fresh topic's leader may need a retry)
