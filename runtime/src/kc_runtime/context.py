"""Correlation and causation ids (and the W3C trace context) of the work in progress, carried through HTTP, the
event store and Kafka."""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import structlog
from opentelemetry import trace

correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("correlation_id", default=None)
causation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("causation_id", default=None)
traceparent: contextvars.ContextVar[str | None] = contextvars.ContextVar("traceparent", default=None)
"""A W3C traceparent passed through unchanged while this process records no spans (tracing off)."""


def new_id() -> str:
    return str(uuid.uuid4())


@contextmanager
def bound(correlation: str | None, causation: str | None) -> Iterator[None]:
    """Bind the ids for the duration of one request or message (and to every log line within)."""
    correlation = correlation or new_id()
    causation = causation or correlation
    t1 = correlation_id.set(correlation)
    t2 = causation_id.set(causation)
    with structlog.contextvars.bound_contextvars(correlation_id=correlation, causation_id=causation):
        try:
            yield
        finally:
            correlation_id.reset(t1)
            causation_id.reset(t2)


def current() -> dict[str, str]:
    """The metadata stored with every event saved now: correlation and causation ids, and the traceparent of the
    active span (so that the relay, later, publishes the event as part of the trace that caused it)."""
    c = correlation_id.get()
    meta = {} if c is None else {"correlation_id": c, "causation_id": causation_id.get() or c}
    parent = current_traceparent()
    if parent is not None:
        meta["traceparent"] = parent
    return meta


def current_traceparent() -> str | None:
    span = trace.get_current_span().get_span_context()
    if span.is_valid:
        return format_traceparent(span)
    return traceparent.get()


def format_traceparent(span: trace.SpanContext) -> str:
    return f"00-{span.trace_id:032x}-{span.span_id:016x}-{int(span.trace_flags):02x}"
