"""erp-sync's pending exchanges are the service's figure: only the replica that leads the service (its relay is
active) exports kc_erp_sync_pending; another replica withdraws its series and does not count."""

from __future__ import annotations

import asyncio
from uuid import uuid4

from prometheus_client import REGISTRY

from erp_sync.adapters.outbound.metrics import PendingGauge
from kc_runtime.periodic import Periodic


def replica(leading: list[bool]) -> tuple[PendingGauge, list[int]]:
    calls: list[int] = []

    async def counts() -> dict[str, int]:
        calls.append(1)
        return {"sales_order": 4, "contact": 1}

    return PendingGauge(f"erp-sync-{uuid4().hex[:6]}", counts, interval_s=5.0, leads=lambda: leading[0]), calls


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


async def test_the_gauge_is_a_periodic_task_refreshed_every_interval():
    gauge, calls = replica([True])
    pauses: list[float] = []
    refreshed = asyncio.Event()

    async def recorded(seconds: float) -> None:
        pauses.append(seconds)
        refreshed.set()
        await asyncio.Event().wait()  # until stopped

    gauge.sleep = recorded
    assert isinstance(gauge, Periodic)
    await gauge.start()
    try:
        await asyncio.wait_for(refreshed.wait(), timeout=5)
    finally:
        await gauge.stop()

    assert (calls, pauses) == ([1], [5.0])
    assert pending(gauge, "sales_order") == 4


def test_the_failure_counters_are_shown_at_zero_from_the_start():
    gauge, _ = replica([False])
    value = REGISTRY.get_sample_value(
        "kc_erp_sync_failures_total", {"kc_service": gauge.service, "kind": "verification", "outcome": "dead_lettered"}
    )
    assert value == 0
