"""The faststream Kafka broker: idempotent producer (acks=all), consumers with manual acknowledgement.

Security (TLS, SASL) comes from the settings, once, as a faststream security object; every Kafka client the
runtime creates (the broker's producer and consumers, the admin client of ``kc_runtime.topics``) gets the
same connection options from :func:`client_options`.
"""

from __future__ import annotations

import asyncio
import ssl
from itertools import chain
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.conn import AIOKafkaConnection
from aiokafka.errors import ConsumerStoppedError, KafkaError
from faststream.kafka import KafkaBroker
from faststream.kafka.security import parse_security
from faststream.kafka.subscriber.usecase import BatchSubscriber
from faststream.message import StreamMessage
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from kc_runtime import metrics
from kc_runtime.settings import ServiceSettings

log = structlog.get_logger("kc.kafka")

_SASL = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}


class KafkaSecurityError(ValueError):
    pass


def ssl_context(settings: ServiceSettings) -> ssl.SSLContext:
    """TLS towards the brokers: verified against the CA file (or the system's CAs), with a client certificate
    for mutual TLS when one is configured."""
    context = ssl.create_default_context(cafile=settings.kafka_ssl_ca_file)
    if settings.kafka_ssl_cert_file:
        context.load_cert_chain(settings.kafka_ssl_cert_file, settings.kafka_ssl_key_file)
    elif settings.kafka_ssl_key_file:
        raise KafkaSecurityError("kafka_ssl_key_file is set without kafka_ssl_cert_file")
    return context


def kafka_security(settings: ServiceSettings) -> BaseSecurity | None:
    """The faststream security object of the settings (None: plaintext, unauthenticated)."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = ssl_context(settings) if protocol.endswith("SSL") else None
    if protocol == "SSL":
        return BaseSecurity(ssl_context=context, use_ssl=True)
    if not settings.kafka_sasl_username or settings.kafka_sasl_password is None:
        raise KafkaSecurityError(f"{protocol} needs kafka_sasl_username and kafka_sasl_password")
    return _SASL[settings.kafka_sasl_mechanism](
        username=settings.kafka_sasl_username,
        password=settings.kafka_sasl_password.get_secret_value(),
        ssl_context=context,
        use_ssl=context is not None,
    )


def client_options(settings: ServiceSettings) -> dict[str, Any]:
    """Connection keyword arguments for an aiokafka client (producer, consumer, admin) created directly."""
    return {"bootstrap_servers": settings.kafka_bootstrap_servers, **parse_security(kafka_security(settings))}


KAFKA_APIS = {
    0: "Produce", 1: "Fetch", 2: "ListOffsets", 3: "Metadata", 8: "OffsetCommit", 9: "OffsetFetch",
    10: "FindCoordinator", 11: "JoinGroup", 12: "Heartbeat", 13: "LeaveGroup", 14: "SyncGroup", 15: "DescribeGroups",
    16: "ListGroups", 17: "SaslHandshake", 18: "ApiVersions", 19: "CreateTopics", 20: "DeleteTopics",
    22: "InitProducerId", 24: "AddPartitionsToTxn", 25: "AddOffsetsToTxn", 26: "EndTxn", 28: "TxnOffsetCommit",
    32: "DescribeConfigs", 33: "AlterConfigs", 36: "SaslAuthenticate", 37: "CreatePartitions",
}  # fmt: skip
"""Kafka's names of the APIs our clients use, by API key (the protocol's, as the broker's metrics name them)."""

_counted_send: Any = None

FENCE_CLIENT_SUFFIX = "-fence"
"""The read fence's client is ``<service>-fence`` (its requests count under the service)."""


def count_requests() -> None:
    """Count every request this process's Kafka clients send, by API (``kc_kafka_requests_total``): aiokafka keeps
    no such figures, and the broker's CPU goes mostly per request. Wraps ``AIOKafkaConnection.send`` once per
    process (the producer, the consumers, the fence's and the admin clients all send through it); the service is
    the client's id (our clients are named after their service; the read fence's ``<service>-fence``)."""
    global _counted_send
    if _counted_send is not None:
        return
    send = AIOKafkaConnection.send
    children: dict[tuple[str, type], Any] = {}

    def counted(self: AIOKafkaConnection, request: Any, expect_response: bool = True) -> Any:
        client = getattr(self, "_client_id", None) or "unknown"
        child = children.get((client, type(request)))
        if child is None:
            key = getattr(request, "API_KEY", None)
            api = KAFKA_APIS.get(key, f"api{key}") if isinstance(key, int) else type(request).__name__
            service = client.removesuffix(FENCE_CLIENT_SUFFIX)
            child = children[(client, type(request))] = metrics.KAFKA_REQUESTS.labels(service, api)
        child.inc()
        return send(self, request, expect_response)

    _counted_send = counted
    AIOKafkaConnection.send = counted


def create_broker(settings: ServiceSettings) -> KafkaBroker:
    """The service's broker. Without FastDepends (``apply_types=False``): a handler gets what its subscriber's
    decoder returns (:func:`the_message`: the fetched batch itself) and nothing is injected — injecting the message
    through faststream's ``Context`` ran a synchronous ``Context.use`` in a worker thread (anyio) for every fetched
    batch, and the default decoder parsed every body as JSON that the consumers validate from the raw bytes anyway."""
    count_requests()
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=settings.service_name,
        security=kafka_security(settings),
        enable_idempotence=True,  # implies acks=all; no duplicates or reordering from producer retries
        request_timeout_ms=15_000,
        linger_ms=2,
        logger=None,
        apply_types=False,
    )


async def the_message(msg: StreamMessage[Any]) -> StreamMessage[Any]:
    """A subscriber's decoder that decodes nothing: its handler gets the message (a batch: every record fetched)
    as faststream parsed it, and reads the records' raw bytes itself."""
    return msg


IDLE_POLL_MS = 5_000
"""How long one poll of an idle batch subscriber waits for records (the poll returns as soon as any arrive)."""

IDLE_FETCH: dict[str, Any] = {"fetch_max_wait_ms": IDLE_POLL_MS, "consumer_timeout_ms": IDLE_POLL_MS}
"""Consumer options for every subscriber: how long an idle consumer's fetch waits at the broker, and its client's
fetch loop between wake-ups. The broker answers a held fetch the moment a record arrives (fetch_min_bytes=1), and
the fetch loop wakes on every response, commit and rebalance, so neither adds latency to a message; they only
decide how often an idle consumer asks and wakes (the clients' defaults, 500 ms and 200 ms, made the consumers
and the broker serving them the largest idle cost of the local stack). The price: a request the client sends
behind a held fetch on the same connection (a ListOffsets or the first fetch after a rebalance, a metadata
refresh) may wait up to this long."""


class _EagerBatchSubscriber(BatchSubscriber):
    """faststream's batch subscriber sleeps ``batch_timeout_ms`` again after every empty poll, so a record that
    arrives then waits that long (100–200 ms a hop). The poll itself already waits for records and returns as
    soon as one is fetched: without the sleep a batch is handled when it arrives, and an idle consumer wakes
    once per ``batch_timeout_ms``."""

    __slots__ = ()

    async def get_msg(self, consumer: AIOKafkaConsumer) -> tuple[ConsumerRecord[Any, Any], ...]:
        try:
            fetched = await consumer.getmany(timeout_ms=self.batch_timeout_ms, max_records=self.max_records)
        except (KafkaError, ConsumerStoppedError, asyncio.CancelledError):
            raise  # faststream's loop waits out the first and ends on the others
        except Exception as exc:
            # Anything else would end faststream's consume loop for good, silently (its logger is off): the
            # consumer would stop fetching and leave its group. Logged, and waited out like a broker error.
            log.error("fetching failed, retrying", error=repr(exc)[:300])
            raise KafkaError(repr(exc)[:300]) from exc
        return tuple(chain.from_iterable(fetched.values()))


def eager_batches(subscriber: Any) -> Any:
    """Make a batch subscriber handle each fetch when it arrives (see :class:`_EagerBatchSubscriber`); other
    subscribers (a test broker's) are returned unchanged."""
    if type(subscriber) is BatchSubscriber:
        subscriber.__class__ = _EagerBatchSubscriber
    return subscriber


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
