"""One trace from an HTTP request through the stored event, the relay's message and the consumer in another
service; off by default, and then only passing a trace context on."""

from __future__ import annotations

import contextvars
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import Aggregate, event
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from contracts.topics import USERS_USERS
from contracts.users import v1 as users
from kc_runtime import context
from kc_runtime.consumer import ConsumerSpec, IdempotentConsumer, Inbound
from kc_runtime.eventstore import ServiceApplication, WorkerPool
from kc_runtime.relay import OutboxRelay, Outgoing
from kc_runtime.service import HttpApi, ServiceRuntime
from kc_runtime.settings import ServiceSettings
from kc_runtime.tracing import TRACEPARENT, add_trace_ids, setup_tracing

CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c"
CALLER_TRACEPARENT = f"00-{CALLER_TRACE}-b7ad6b7169203331-01"


class Person(Aggregate):
    def __init__(self, company_id: UUID, first_name: str) -> None:
        self.company_id = company_id
        self.first_name = first_name

    @event("Renamed")
    def rename(self, first_name: str) -> None:
        self.first_name = first_name


class People(ServiceApplication):
    pass


class Note(Aggregate):
    def __init__(self, about: UUID) -> None:
        self.about = about


class Notes(ServiceApplication):
    pass


MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


def translate(person_event: Any) -> list[Outgoing]:
    message = users.UserRenamed(
        user_id=person_event.originator_id, company_id=uuid4(), first_name="Anna", last_name="Muster"
    )
    return [Outgoing(USERS_USERS, str(person_event.originator_id), message)]


class FakeBroker:
    """What the relay and the dead-letter path publish, as the consumer would fetch it."""

    def __init__(self) -> None:
        self.records: list[SimpleNamespace] = []

    async def publish(self, body: bytes, *, topic: str, key: bytes, headers: dict[str, str], **_: Any) -> None:
        self.records.append(
            SimpleNamespace(
                topic=topic,
                partition=0,
                offset=len(self.records),
                key=key,
                value=body,
                headers=[(k, v.encode()) for k, v in headers.items()],
            )
        )


class Fetched:
    """A fetched batch as faststream hands it to the consumer."""

    def __init__(self, records: list[SimpleNamespace]) -> None:
        self.raw_message = tuple(records)
        self.acked = False

    async def ack(self) -> None:
        self.acked = True


def people_runtime(processors: list, *, exporter: str = "none") -> tuple[ServiceRuntime, People]:
    settings = ServiceSettings(
        service_name="people",
        database_url="memory://",
        process_roles=["api"],
        otel_exporter=exporter,
        log_format="console",
    )
    people = People(env=MEMORY)
    runtime = ServiceRuntime(settings, app=people, api=HttpApi("people"), span_processors=processors)

    @runtime.http.post("/people")
    async def create() -> dict[str, str]:
        person = Person(uuid4(), "Anna")
        await runtime.blocking.run(people.save, person)
        return {"id": str(person.id)}

    return runtime, people


def notes_consumer(tracer: Any, blocking: WorkerPool, *, batch: bool = False) -> tuple[IdempotentConsumer, Notes]:
    notes = Notes(env=MEMORY)

    def on_renamed(inbound: Inbound) -> list[Note]:
        return [Note(inbound.message.user_id)]

    spec = ConsumerSpec(topic=USERS_USERS, handlers={users.UserRenamed: on_renamed}, batch=batch)
    consumer = IdempotentConsumer(
        service="notes",
        group_id="notes",
        app=notes,
        broker=FakeBroker(),
        blocking=blocking,
        specs=[spec],
        tracer=tracer,
    )  # type: ignore[arg-type]
    return consumer, notes


def relay_of(runtime: ServiceRuntime, people: People, broker: FakeBroker) -> OutboxRelay:
    return OutboxRelay(
        service="people",
        app=people,
        broker=broker,  # type: ignore[arg-type]
        translate=translate,
        dsn="",
        blocking=runtime.blocking,
        tracer=runtime.tracing.tracer,
    )


def one(spans: list[ReadableSpan], kind: SpanKind, service: str) -> ReadableSpan:
    (span,) = [s for s in spans if s.kind == kind and s.resource.attributes["service.name"] == service]
    return span


def stored_meta(app: ServiceApplication) -> list[dict[str, str]]:
    return [meta for _, _, meta in app.notifications(0, 100)]


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


async def test_a_request_its_stored_event_the_relayed_message_and_the_consumer_in_another_service_share_one_trace(
    exporter,
):
    runtime, people = people_runtime([SimpleSpanProcessor(exporter)])
    notes_tracing = setup_tracing(ServiceSettings(service_name="notes"), [SimpleSpanProcessor(exporter)])
    broker = FakeBroker()
    with TestClient(runtime.http) as client:
        assert client.post("/people").status_code == 200
        await relay_of(runtime, people, broker).process(people.notifications(0, 100))
        consumer, notes = notes_consumer(notes_tracing.tracer, runtime.blocking)
        fetched = Fetched(broker.records)
        await consumer.handle(fetched)  # type: ignore[arg-type]
    assert fetched.acked

    spans = exporter.get_finished_spans()
    server = one(spans, SpanKind.SERVER, "people")
    publish = one(spans, SpanKind.PRODUCER, "people")
    process = one(spans, SpanKind.CONSUMER, "notes")
    assert server.context.trace_id == publish.context.trace_id == process.context.trace_id
    # the relay published later, in another task, yet as a child of the request that stored the event
    assert publish.parent.span_id == server.context.span_id
    assert process.parent.span_id == publish.context.span_id
    (person_meta,) = stored_meta(people)
    assert person_meta["traceparent"].split("-")[1:3] == [
        f"{server.context.trace_id:032x}",
        f"{server.context.span_id:016x}",
    ]
    # and what the consumer saved carries the trace on to the next hop
    (note_meta,) = stored_meta(notes)
    assert note_meta["traceparent"].split("-")[1:3] == [
        f"{process.context.trace_id:032x}",
        f"{process.context.span_id:016x}",
    ]
    assert dict(broker.records[0].headers)[TRACEPARENT].decode().split("-")[2] == f"{publish.context.span_id:016x}"


async def test_messages_applied_together_in_one_transaction_each_continue_their_own_trace(exporter):
    runtime, people = people_runtime([SimpleSpanProcessor(exporter)])
    notes_tracing = setup_tracing(ServiceSettings(service_name="notes"), [SimpleSpanProcessor(exporter)])
    broker = FakeBroker()
    with TestClient(runtime.http) as client:
        for _ in range(3):
            assert client.post("/people").status_code == 200
        await relay_of(runtime, people, broker).process(people.notifications(0, 100))
        consumer, notes = notes_consumer(notes_tracing.tracer, runtime.blocking, batch=True)
        for record in broker.records:  # one partition, so that they form one chunk
            record.partition = 0
        await consumer.handle(Fetched(broker.records))  # type: ignore[arg-type]

    spans = exporter.get_finished_spans()
    publishes = {s.context.span_id: s for s in spans if s.kind == SpanKind.PRODUCER}
    processes = [s for s in spans if s.kind == SpanKind.CONSUMER]
    assert len(processes) == 3 and len({s.context.trace_id for s in processes}) == 3
    for process in processes:
        assert publishes[process.parent.span_id].context.trace_id == process.context.trace_id
    stored = {m["traceparent"].split("-")[2] for m in stored_meta(notes)}
    assert stored == {f"{s.context.span_id:016x}" for s in processes}


async def test_a_request_with_a_traceparent_continues_the_callers_trace(exporter):
    runtime, people = people_runtime([SimpleSpanProcessor(exporter)])
    with TestClient(runtime.http) as client:
        assert client.post("/people", headers={TRACEPARENT: CALLER_TRACEPARENT}).status_code == 200
    server = one(exporter.get_finished_spans(), SpanKind.SERVER, "people")
    assert f"{server.context.trace_id:032x}" == CALLER_TRACE
    assert CALLER_TRACE in stored_meta(people)[0]["traceparent"]


async def test_health_readiness_and_metrics_make_no_spans(exporter):
    runtime, _ = people_runtime([SimpleSpanProcessor(exporter)])
    with TestClient(runtime.http) as client:
        client.get("/healthz")
        client.get("/metrics")
    assert exporter.get_finished_spans() == ()


async def test_tracing_is_off_by_default_no_provider_no_middleware_no_trace_context_stored():
    settings = ServiceSettings()
    assert settings.otel_exporter == "none"
    assert not setup_tracing(settings).enabled
    runtime, people = people_runtime([])
    assert runtime.tracing.tracer is None
    assert not [m for m in runtime.http.user_middleware if "OpenTelemetry" in repr(m.cls)]
    with TestClient(runtime.http) as client:
        assert client.post("/people").status_code == 200
    assert "traceparent" not in stored_meta(people)[0]


async def test_with_tracing_off_a_trace_context_that_arrives_is_passed_on_unchanged():
    runtime, people = people_runtime([])
    with TestClient(runtime.http):  # the runtime's worker pool, nothing else
        consumer, notes = notes_consumer(None, runtime.blocking)
        broker = FakeBroker()
        # a message from a traced service…
        with context.bound("corr", None):
            token = context.traceparent.set(CALLER_TRACEPARENT)
            try:
                await runtime.blocking.run(people.save, Person(uuid4(), "Anna"))
            finally:
                context.traceparent.reset(token)
        await relay_of(runtime, people, broker).process(people.notifications(0, 100))
        assert dict(broker.records[0].headers)[TRACEPARENT].decode() == CALLER_TRACEPARENT
        # …is consumed by one that is not: its events keep the context for the next traced hop
        await consumer.handle(Fetched(broker.records))  # type: ignore[arg-type]
    assert stored_meta(notes)[0]["traceparent"] == CALLER_TRACEPARENT


def test_each_event_of_a_group_commit_keeps_the_metadata_of_its_own_command():
    people = People(env=MEMORY)
    save = people._group_commit._save
    # the group commit's leader saves in its own thread and context, not the command's
    people._group_commit._save = lambda *events: contextvars.Context().run(save, *events)
    with context.bound("command-a", None):
        people.save(Person(uuid4(), "Anna"))
    assert stored_meta(people)[0]["correlation_id"] == "command-a"


def test_log_lines_carry_the_trace_id_of_the_active_span(exporter):
    tracer = setup_tracing(ServiceSettings(), [SimpleSpanProcessor(exporter)]).tracer
    assert add_trace_ids(None, "info", {}) == {}
    with tracer.start_as_current_span("work") as span:
        line = add_trace_ids(None, "info", {"event": "x"})
    assert line["trace_id"] == f"{span.get_span_context().trace_id:032x}"
    assert line["span_id"] == f"{span.get_span_context().span_id:016x}"
