"""OpenTelemetry traces through HTTP, the event store and Kafka; off unless ``<PREFIX>OTEL_EXPORTER`` says where.

A request's server span (FastAPI instrumentation, continuing an incoming W3C ``traceparent``) is the parent of
what the request stores: every stored event keeps the ``traceparent`` of the span that saved it, next to its
correlation id (:func:`kc_runtime.context.current`). The relay publishes each message in a producer span that
is a child of that stored parent and puts the producer span's ``traceparent`` in the Kafka headers; the consumer
processes each message in a consumer span that is a child of the header's, and the events it saves carry that
span on. So a request, the events it caused, their messages and everything they cause in other services form
one trace, although the relay publishes later and in another task.

Off (the default) no provider, no middleware and no span exist; a traceparent that arrives in a message is only
passed on (stored with the events and published again), so a service with tracing off does not break the trace
of the others.

Configuration: the exporter, endpoint and sampling ratio are settings; everything else is the OpenTelemetry
SDK's own standard environment (``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_BSP_SCHEDULE_DELAY``,
``OTEL_RESOURCE_ATTRIBUTES``, …). The standard switches are honoured too, as a platform's operator or collector
injection sets them: ``OTEL_SDK_DISABLED=true`` turns tracing off whatever else says otherwise;
``OTEL_TRACES_EXPORTER`` (``otlp``, ``console``, ``none``, or a comma-separated list) chooses the exporters when
``<PREFIX>OTEL_EXPORTER`` is not set (a service's own setting wins); ``OTEL_SERVICE_NAME`` replaces the service's
name as ``service.name``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

from opentelemetry import trace
from opentelemetry.environment_variables import OTEL_TRACES_EXPORTER
from opentelemetry.sdk.environment_variables import OTEL_SDK_DISABLED, OTEL_SERVICE_NAME
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Span, SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from kc_runtime.context import format_traceparent
from kc_runtime.settings import ServiceSettings

TRACEPARENT = "traceparent"
INSTRUMENTATION = "kc_runtime"
NOT_TRACED_URLS = "/healthz,/readyz,/metrics"

_propagator = TraceContextTextMapPropagator()


class Tracing:
    """The tracer provider of one service runtime (or nothing, when tracing is off)."""

    def __init__(self, provider: TracerProvider | None) -> None:
        self.provider = provider
        self.tracer: Tracer | None = provider.get_tracer(INSTRUMENTATION) if provider is not None else None

    @property
    def enabled(self) -> bool:
        return self.provider is not None

    def instrument(self, http: Any) -> None:
        """Server spans for the FastAPI app's requests (health, readiness and metrics left out)."""
        if self.provider is None:
            return
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(http, tracer_provider=self.provider, excluded_urls=NOT_TRACED_URLS)

    def shutdown(self) -> None:
        """Export what is buffered and stop."""
        if self.provider is not None:
            self.provider.shutdown()


EXPORTERS = ("otlp", "console", "none")


def exporters_of(settings: ServiceSettings, environ: Mapping[str, str]) -> list[str]:
    """The exporters to use: ``<PREFIX>OTEL_EXPORTER`` where the environment sets it, else the standard
    ``OTEL_TRACES_EXPORTER`` (a comma-separated list), else none. An unknown name stops the process at start."""
    if "otel_exporter" in settings.model_fields_set:
        return [settings.otel_exporter]
    names = [name.strip().lower() for name in environ.get(OTEL_TRACES_EXPORTER, "").split(",") if name.strip()]
    unknown = [name for name in names if name not in EXPORTERS]
    if unknown:
        raise ValueError(
            f"{OTEL_TRACES_EXPORTER}: unknown exporter {', '.join(unknown)} (known: {', '.join(EXPORTERS)})"
        )
    return names


def setup_tracing(
    settings: ServiceSettings, span_processors: Iterable[SpanProcessor] = (), environ: Mapping[str, str] = os.environ
) -> Tracing:
    """The tracing of a service process as its settings and the standard ``OTEL_*`` variables say.
    ``span_processors`` are added to the exporters' (tests pass an in-memory exporter's); with any of them tracing
    is on even if no exporter is chosen — unless ``OTEL_SDK_DISABLED`` is ``true``."""
    if environ.get(OTEL_SDK_DISABLED, "").strip().lower() == "true":
        return Tracing(None)
    processors = list(span_processors)
    for exporter in exporters_of(settings, environ):
        if exporter == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            processors.append(BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otel_endpoint)))
        elif exporter == "console":
            # one JSON object per line, like the log lines
            console = ConsoleSpanExporter(formatter=lambda span: span.to_json(indent=None) + "\n")
            processors.append(BatchSpanProcessor(console))
    if not processors:
        return Tracing(None)
    # OTEL_SERVICE_NAME, where set, names the service (as the standard says, before OTEL_RESOURCE_ATTRIBUTES)
    name = environ.get(OTEL_SERVICE_NAME, "").strip() or settings.service_name
    provider = TracerProvider(
        resource=Resource.create({"service.name": name}),
        sampler=ParentBased(TraceIdRatioBased(settings.otel_sample_ratio)),
    )
    for processor in processors:
        provider.add_span_processor(processor)
    return Tracing(provider)


def _parent(headers: Mapping[str, str]) -> Any:
    return _propagator.extract(headers) if TRACEPARENT in headers else None


def start_publish_span(tracer: Tracer, topic: str, traceparent: str | None) -> Span:
    """A producer span for one message, a child of the (stored) traceparent of the work that caused it."""
    return tracer.start_span(
        f"{topic} publish",
        context=_parent({TRACEPARENT: traceparent}) if traceparent else None,
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "send",
            "messaging.destination.name": topic,
        },
    )


def start_process_span(
    tracer: Tracer, topic: str, headers: Mapping[str, str], *, group: str, partition: int, offset: int
) -> Span:
    """A consumer span for one message, a child of the producer span in its headers."""
    return tracer.start_span(
        f"{topic} process",
        context=_parent(headers),
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": topic,
            "messaging.consumer.group.name": group,
            "messaging.destination.partition.id": str(partition),
            "messaging.kafka.offset": offset,
        },
    )


def traceparent_of(span: Span) -> str | None:
    context = span.get_span_context()
    return format_traceparent(context) if context.is_valid else None


def inject(headers: MutableMapping[str, str], span: Span | None, passthrough: str | None) -> None:
    """Put the span's traceparent into the headers (tracing off: the one passed through, if any)."""
    parent = traceparent_of(span) if span is not None else passthrough
    if parent:
        headers[TRACEPARENT] = parent


def add_trace_ids(_logger: Any, _name: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: ``trace_id`` and ``span_id`` of the active span on every log line."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict.setdefault("trace_id", f"{context.trace_id:032x}")
        event_dict.setdefault("span_id", f"{context.span_id:016x}")
    return event_dict
