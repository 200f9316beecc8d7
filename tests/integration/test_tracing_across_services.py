"""With tracing on, a request to one service process and everything it causes in another, through the outbox and
Kafka, arrive at the collector as one trace (real processes, real broker, OTLP over HTTP)."""

from __future__ import annotations

import asyncio
import gzip
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from contracts.topics import ERP_OUTBOUND_CUSTOMER_VERIFICATIONS, REGISTRATION_REGISTRATIONS
from tests.conftest import eventually
from tests.integration.conftest import service_env
from tests.support.infra import ServiceProcess, random_suffix

pytestmark = pytest.mark.integration

PRODUCER, CONSUMER, SERVER = 4, 5, 2  # opentelemetry.proto.trace.v1.Span.SpanKind


class Collector:
    """An OTLP/HTTP traces endpoint that keeps what it receives: (service, kind, name, trace id, span id, parent)."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, int, str, str, str, str]] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest.FromString(body)
                for resource_spans in request.resource_spans:
                    attrs = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                    for scope_spans in resource_spans.scope_spans:
                        for s in scope_spans.spans:
                            collector.spans.append(
                                (
                                    attrs.get("service.name", ""),
                                    s.kind,
                                    s.name,
                                    s.trace_id.hex(),
                                    s.span_id.hex(),
                                    s.parent_span_id.hex(),
                                )
                            )
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"

    def find(self, service: str, kind: int, name_ends: str) -> list[tuple[str, int, str, str, str, str]]:
        return [s for s in self.spans if s[0] == service and s[1] == kind and s[2].endswith(name_ends)]


@pytest.fixture
def collector() -> Iterator[Collector]:
    c = Collector()
    thread = threading.Thread(target=c.server.serve_forever, daemon=True)
    thread.start()
    yield c
    c.server.shutdown()
    c.server.server_close()


async def test_a_registration_request_and_the_erp_question_it_causes_in_erp_sync_are_one_trace(
    database, topic_prefix, processes, collector, monkeypatch
):
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")  # the SDK's own variable: export within 0.1 s
    traced = {"OTEL_EXPORTER": "otlp", "OTEL_ENDPOINT": collector.url}
    suffix = random_suffix()
    registration = ServiceProcess(
        "registration",
        "REGISTRATION_",
        service_env(await database("registration"), topic_prefix, CONSUMER_GROUP=f"it-reg-{suffix}", **traced),
        name="registration-traced",
    )
    erp_sync = ServiceProcess(
        "erp_sync",
        "ERP_SYNC_",
        service_env(await database("erp-sync"), topic_prefix, CONSUMER_GROUP=f"it-erp-sync-{suffix}", **traced),
        name="erp-sync-traced",
    )
    for p in (registration, erp_sync):
        processes.append(p.start())
    for p in (registration, erp_sync):
        await asyncio.to_thread(p.wait_ready)

    async with httpx.AsyncClient(base_url=registration.url, timeout=10) as http:
        submitted = await http.post(
            "/api/registrations",
            json={
                "customer_number": "10001",
                "invoice_number": "R-10001-2",
                "email": "anna.muster@example.com",
                "first_name": "Anna",
                "last_name": "Muster",
                "language": "de",
            },
        )
    assert submitted.status_code == 202, submitted.text

    async def request_span() -> list:
        return collector.find("registration", SERVER, "/api/registrations")

    (server,) = await eventually(request_span, what="the request's server span at the collector")
    trace = server[3]

    async def question_to_the_erp_published() -> list:
        return [
            s
            for s in collector.find("erp-sync", PRODUCER, ERP_OUTBOUND_CUSTOMER_VERIFICATIONS.name + " publish")
            if s[3] == trace
        ]

    (question, *_) = await eventually(question_to_the_erp_published, what="erp-sync's question to the ERP in the trace")

    # request → (stored event) → registration's relay → Kafka → erp-sync's consumer → (stored) → erp-sync's relay.
    # Each process exports its spans in its own batches: the links are looked for until all have arrived.
    async def chain() -> tuple | None:
        published = {
            s[4]: s for s in collector.find("registration", PRODUCER, REGISTRATION_REGISTRATIONS.name + " publish")
        }
        consumed = {s[4]: s for s in collector.find("erp-sync", CONSUMER, REGISTRATION_REGISTRATIONS.name + " process")}
        consumer_span = consumed.get(question[5])
        producer_span = published.get(consumer_span[5]) if consumer_span is not None else None
        return (consumer_span, producer_span) if producer_span is not None else None

    consumer_span, producer_span = await eventually(chain, what="the relay's and the consumer's spans of the trace")
    assert producer_span[5] == server[4]
    assert {producer_span[3], consumer_span[3], question[3]} == {trace}
