"""Prometheus metrics shared by every service (one registry per process).

Every series names its service in the label ``kc_service``, never ``service``: the Prometheus Operator's
ServiceMonitors attach a ``service`` label of their own (the Kubernetes Service scraped), and a target's label of
the same name would be renamed to ``exported_service`` or overwrite it, depending on ``honorLabels``."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

SERVICE_LABEL = "kc_service"

HTTP_REQUESTS = Histogram(
    "kc_http_request_duration_seconds",
    "HTTP request latency",
    ["kc_service", "method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
RELAY_LAG = Gauge("kc_relay_lag_events", "Events stored but not yet published by the outbox relay", ["kc_service"])
RELAY_POSITION = Gauge("kc_relay_position", "Last notification id acknowledged by Kafka", ["kc_service"])
RELAY_PUBLISHED = Counter("kc_relay_published_total", "Messages published by the outbox relay", ["kc_service", "topic"])
RELAY_ACTIVE = Gauge("kc_relay_active", "1 while this process holds the relay lock", ["kc_service"])
CONSUMED = Counter(
    "kc_consumer_messages_total",
    "Messages handled by idempotent consumers, by outcome (applied, duplicate, ignored, dead_lettered)",
    ["kc_service", "topic", "outcome"],
)
CONSUMER_RETRIES = Counter(
    "kc_consumer_retries_total", "Handler attempts that failed and were retried", ["kc_service", "topic"]
)
DEAD_LETTERED = Counter(
    "kc_dead_lettered_total", "Messages sent to a dead-letter topic", ["kc_service", "topic", "reason"]
)
CONSUMER_LAG = Gauge(
    "kc_consumer_lag_messages",
    "Messages of an assigned partition not yet handled and committed by this consumer (highwater - committed), "
    "updated when a batch is fetched and when it is committed; a revoked partition's series is removed",
    ["kc_service", "topic", "partition"],
)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
LOG_READ_EVENTS = Histogram(
    "kc_log_read_events",
    "Events a log reader's read brought to its followers (one observation per read that found any): how well the "
    "relay and the projections batch — their cost is mostly per read, not per event",
    ["kc_service"],
    buckets=BATCH_BUCKETS,
)
CONSUMER_BATCH = Histogram(
    "kc_consumer_batch_messages",
    "Records in a batch a consumer fetched and handled (one observation per batch): how well the consumer batches",
    ["kc_service"],
    buckets=BATCH_BUCKETS,
)
KAFKA_REQUESTS = Counter(
    "kc_kafka_requests_total",
    "Requests this process's Kafka clients sent to the brokers, by API (Fetch, Produce, ListOffsets, OffsetCommit, "
    "Heartbeat, Metadata, …): the broker's work is mostly per request, so requests per order is the figure to cut",
    ["kc_service", "api"],
)
PARKED = Counter(
    "kc_parked_events_total",
    "Events a log follower parked: poison (failed for a reason of their own content) or held (a later event of an "
    "aggregate with a parked event, kept back to keep the aggregate's order)",
    ["kc_service", "follower", "kind"],
)
PARKED_NOW = Gauge(
    "kc_parked_aggregates",
    "Aggregates with parked events (waiting for an operator's retry)",
    ["kc_service", "follower"],
)
PARKED_RELEASED = Counter(
    "kc_parked_events_released_total", "Parked events handled by a retry", ["kc_service", "follower"]
)


def withdraw(service: str, *gauges: Gauge) -> None:
    """Remove this service's series of ``gauges`` from this process's ``/metrics``.

    Service-wide figures (read from the service's database, the same whichever replica reads them) are exported by
    the leader only — the replica whose outbox relay is active (:meth:`kc_runtime.service.ServiceRuntime.leads`,
    ``kc_relay_active``) — so that a sum over the pods counts them once; every other replica withdraws them."""
    for gauge in gauges:
        for metric in gauge.collect():
            for sample in metric.samples:
                if sample.labels.get(SERVICE_LABEL) == service:
                    gauge.remove(*sample.labels.values())
