"""erp-sync's pending exchanges are the service's figure: only the replica that leads the service (its relay is
active) exports kc_erp_sync_pending; another replica withdraws its series and does not count."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any
from uuid import uuid4

from prometheus_client import REGISTRY
from pydantic import SecretStr

from erp_sync.adapters.outbound.metrics import PendingGauge


def replica(leading: list[bool]) -> tuple[PendingGauge, list[int]]:
    calls: list[int] = []

    async def counts() -> dict[str, int]:
        calls.append(1)
        return {"sales_order": 4, "contact": 1}

    settings = SimpleNamespace(service_name=f"erp-sync-{uuid4().hex[:6]}", database_url=SecretStr("memory://"))
    runtime: Any = SimpleNamespace(settings=settings, app=SimpleNamespace(name="Exchanges"), blocking=None)
    return PendingGauge(runtime, counts, interval_s=5.0, leads=lambda: leading[0]), calls


def pending(gauge: PendingGauge, kind: str) -> float | None:
    return REGISTRY.get_sample_value("kc_erp_sync_pending", {"kc_service": gauge.service, "kind": kind})


async def test_the_leader_exports_the_pending_exchanges():
    gauge, _ = replica([True])

    await gauge.tick()

    assert pending(gauge, "sales_order") == 4
    assert pending(gauge, "contact") == 1


async def test_a_replica_that_does_not_lead_exports_nothing_and_does_not_count():
    gauge, calls = replica([False])

    await gauge.tick()

    assert calls == []
    assert pending(gauge, "sales_order") is None


async def test_a_replica_that_loses_the_lead_withdraws_its_series():
    leading = [True]
    gauge, _ = replica(leading)
    await gauge.tick()

    leading[0] = False
    await gauge.tick()

    assert pending(gauge, "sales_order") is None
    assert pending(gauge, "contact") is None


def test_by_default_the_gauge_asks_its_runtime_who_leads():
    settings = SimpleNamespace(service_name="erp-sync", database_url=SecretStr("memory://"))
    runtime: Any = SimpleNamespace(
        settings=settings, app=SimpleNamespace(name="Exchanges"), blocking=None, leads=lambda: "asked"
    )

    async def counts() -> dict[str, int]:
        return {}

    assert PendingGauge(runtime, counts, interval_s=5.0).leads() == "asked"
