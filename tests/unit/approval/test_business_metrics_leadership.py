"""approval's business gauges are the service's figures: only the replica that leads the service (its relay is
active) exports them; another replica withdraws its series and does not query, so a sum over the pods counts once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from prometheus_client import REGISTRY

from approval.adapters.outbound.metrics import BusinessMetrics


class FakeConnection:
    def __init__(self) -> None:
        self.queries = 0

    async def fetch(self, _sql: str) -> list[dict[str, Any]]:
        self.queries += 1
        return [{"status": "pending_approval", "n": 3}, {"status": "released", "n": 5}]

    async def fetchval(self, _sql: str) -> datetime:
        self.queries += 1
        return datetime.now(UTC) - timedelta(minutes=10)


class FakePool:
    def __init__(self) -> None:
        self.connection = FakeConnection()

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[FakeConnection]:
        yield self.connection


def replica(leading: list[bool]) -> tuple[BusinessMetrics, FakePool]:
    pool = FakePool()

    async def get_pool() -> Any:
        return pool

    return BusinessMetrics(f"approval-{uuid4().hex[:6]}", get_pool, leads=lambda: leading[0]), pool


def value(metrics: BusinessMetrics, name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"kc_service": metrics.service, **labels})


async def test_the_leader_exports_the_gauges():
    metrics, _ = replica([True])

    await metrics.tick()

    assert value(metrics, "kc_approvals_pending") == 3
    assert value(metrics, "kc_orders", status="released") == 5
    assert value(metrics, "kc_approvals_oldest_pending_seconds") >= 600


async def test_a_replica_that_does_not_lead_exports_nothing_and_does_not_query():
    metrics, pool = replica([False])

    await metrics.tick()

    assert pool.connection.queries == 0
    assert value(metrics, "kc_approvals_pending") is None
    assert value(metrics, "kc_orders", status="pending_approval") is None
    assert value(metrics, "kc_approvals_oldest_pending_seconds") is None


async def test_a_replica_that_loses_the_lead_withdraws_its_series():
    leading = [True]
    metrics, _ = replica(leading)
    await metrics.tick()
    assert value(metrics, "kc_approvals_pending") == 3

    leading[0] = False
    await metrics.tick()

    assert value(metrics, "kc_approvals_pending") is None
    assert value(metrics, "kc_orders", status="released") is None
    assert value(metrics, "kc_approvals_oldest_pending_seconds") is None
