"""Correlation and causation ids of the work in progress, carried through HTTP, the event store and Kafka."""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import structlog

correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("correlation_id", default=None)
causation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("causation_id", default=None)


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
    c = correlation_id.get()
    if c is None:
        return {}
    return {"correlation_id": c, "causation_id": causation_id.get() or c}
