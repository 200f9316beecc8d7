"""Leader-only work: a process leads its service while its outbox relay holds the relay's lock, and service-wide
gauges withdrawn by the other replicas leave only the leader's series."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from prometheus_client import REGISTRY, Gauge

from kc_runtime.eventstore import ServiceApplication
from kc_runtime.metrics import withdraw
from kc_runtime.service import HttpApi, ServiceRuntime
from kc_runtime.settings import ServiceSettings

MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
SPARE = Gauge("kc_test_leadership_figures", "a service-wide figure of the tests", ["kc_service", "kind"])


class Things(ServiceApplication):
    pass


def runtime_with(roles: list[str]) -> ServiceRuntime:
    settings = ServiceSettings(service_name=f"things-{uuid4().hex[:6]}", process_roles=roles)

    def translate(_: Any) -> list[Any]:
        return []

    return ServiceRuntime(settings, app=Things(env=MEMORY), translate=translate, api=HttpApi("things"))


def test_a_process_with_the_relay_role_leads_only_while_its_relay_holds_the_lock():
    runtime = runtime_with(["relay"])
    assert runtime.relay is not None
    assert not runtime.leads()

    runtime.relay._set_active(True)  # what taking the advisory lock does
    assert runtime.leads()

    runtime.relay._set_active(False)  # the lock connection lost
    assert not runtime.leads()


def test_every_step_of_the_relay_calls_its_listeners():
    runtime = runtime_with(["relay"])
    assert runtime.relay is not None
    steps: list[str] = []
    runtime.relay.moved.append(lambda: steps.append("moved"))

    runtime.relay.on_position(3, 7)
    runtime.relay.on_position(7, 7)

    assert steps == ["moved", "moved"]


def test_a_process_without_the_relay_role_never_leads():
    runtime = runtime_with(["api", "consumers"])

    assert runtime.relay is None
    assert not runtime.leads()


def test_withdraw_removes_this_services_series_and_leaves_the_others():
    mine, other = f"mine-{uuid4().hex[:6]}", f"other-{uuid4().hex[:6]}"
    for service in (mine, other):
        SPARE.labels(service, "a").set(1)
        SPARE.labels(service, "b").set(2)

    withdraw(mine, SPARE)

    assert REGISTRY.get_sample_value("kc_test_leadership_figures", {"kc_service": mine, "kind": "a"}) is None
    assert REGISTRY.get_sample_value("kc_test_leadership_figures", {"kc_service": mine, "kind": "b"}) is None
    assert REGISTRY.get_sample_value("kc_test_leadership_figures", {"kc_service": other, "kind": "b"}) == 2
