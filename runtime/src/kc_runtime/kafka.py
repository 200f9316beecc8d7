"""The faststream Kafka broker: idempotent producer (acks=all), consumers with manual acknowledgement."""

from __future__ import annotations

from faststream.kafka import KafkaBroker

from kc_runtime.settings import ServiceSettings


def create_broker(settings: ServiceSettings) -> KafkaBroker:
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=settings.service_name,
        enable_idempotence=True,  # implies acks=all; no duplicates or reordering from producer retries
        request_timeout_ms=15_000,
        linger_ms=2,
        logger=None,
    )


def decode_headers(raw: object) -> dict[str, str]:
    """Headers of an aiokafka record as a str→str dict (undecodable values are dropped)."""
    out: dict[str, str] = {}
    for key, value in getattr(raw, "headers", None) or ():
        if isinstance(value, bytes | bytearray):
            try:
                out[key] = value.decode()
            except UnicodeDecodeError:
                continue
        elif value is not None:
            out[key] = str(value)
    return out
