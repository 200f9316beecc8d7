"""The standard OpenTelemetry switches take effect: OTEL_TRACES_EXPORTER chooses the exporter where the service's
own <PREFIX>OTEL_EXPORTER is not set, OTEL_SDK_DISABLED turns tracing off, OTEL_SERVICE_NAME names the service."""

from __future__ import annotations

import functools
import io
import json

import pytest
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from kc_runtime import tracing as tracing_module
from kc_runtime.settings import ServiceSettings
from kc_runtime.tracing import Tracing, setup_tracing


@pytest.fixture
def console(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """What the console exporter writes (its default stream is bound when the SDK is imported)."""
    out = io.StringIO()
    monkeypatch.setattr(tracing_module, "ConsoleSpanExporter", functools.partial(ConsoleSpanExporter, out=out))
    return out


def spans_written(tracing: Tracing, console: io.StringIO) -> list[dict]:
    assert tracing.tracer is not None
    tracing.tracer.start_span("hello").end()
    tracing.shutdown()  # the batch processor exports what it holds
    return [json.loads(line) for line in console.getvalue().splitlines()]


def test_otel_traces_exporter_console_turns_tracing_on_when_the_service_setting_is_not_set(console):
    tracing = setup_tracing(ServiceSettings(service_name="notes"), environ={"OTEL_TRACES_EXPORTER": "console"})

    assert tracing.enabled
    assert [span["name"] for span in spans_written(tracing, console)] == ["hello"]


def test_otel_traces_exporter_none_leaves_tracing_off():
    assert not setup_tracing(ServiceSettings(), environ={"OTEL_TRACES_EXPORTER": "none"}).enabled


def test_without_any_setting_tracing_stays_off():
    assert not setup_tracing(ServiceSettings(), environ={}).enabled


def test_the_services_own_exporter_setting_wins_over_otel_traces_exporter(monkeypatch):
    monkeypatch.setenv("KC_OTEL_EXPORTER", "none")  # set in the environment, as a deployment would

    tracing = setup_tracing(ServiceSettings(), environ={"OTEL_TRACES_EXPORTER": "console"})

    assert not tracing.enabled


def test_an_unknown_exporter_in_otel_traces_exporter_stops_the_start():
    with pytest.raises(ValueError, match="zipkin"):
        setup_tracing(ServiceSettings(), environ={"OTEL_TRACES_EXPORTER": "console,zipkin"})


@pytest.mark.parametrize("value", ["true", "TRUE", " true "])
def test_otel_sdk_disabled_turns_tracing_off_whatever_else_is_set(value):
    environ = {"OTEL_SDK_DISABLED": value, "OTEL_TRACES_EXPORTER": "console"}
    processor = SimpleSpanProcessor(InMemorySpanExporter())

    tracing = setup_tracing(ServiceSettings(otel_exporter="console"), [processor], environ=environ)

    assert not tracing.enabled
    assert tracing.tracer is None


def test_otel_sdk_disabled_false_changes_nothing(console):
    environ = {"OTEL_SDK_DISABLED": "false", "OTEL_TRACES_EXPORTER": "console"}

    assert setup_tracing(ServiceSettings(), environ=environ).enabled


def test_otel_service_name_names_the_service_in_the_spans_resource(console):
    environ = {"OTEL_TRACES_EXPORTER": "console", "OTEL_SERVICE_NAME": "approval-eu-1"}

    (span,) = spans_written(setup_tracing(ServiceSettings(service_name="approval"), environ=environ), console)

    assert span["resource"]["attributes"]["service.name"] == "approval-eu-1"


def test_without_otel_service_name_the_service_is_named_by_its_settings(console):
    tracing = setup_tracing(ServiceSettings(service_name="approval"), environ={"OTEL_TRACES_EXPORTER": "console"})

    (span,) = spans_written(tracing, console)

    assert span["resource"]["attributes"]["service.name"] == "approval"
