"""Approval's business metrics on the running service's /metrics: orders over budget show up as pending
approvals (the counts going down again with decisions: tests/integration/approval/test_business_metrics.py)."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from tests.conftest import eventually
from tests.support.infra import dsn_for
from tests.support.shop import BUDGET, Shop

pytestmark = pytest.mark.journey

APPROVAL = "http://127.0.0.1:8103"


async def scrape() -> dict[str, float]:
    """approval's business gauges from one scrape: 'kc_approvals_pending', 'kc_orders:<status>', ..."""
    async with httpx.AsyncClient(base_url=APPROVAL, timeout=10) as client:
        text = (await client.get("/metrics")).text
    figures: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(("kc_approvals_pending{", "kc_approvals_oldest_pending_seconds{")):
            figures[line.split("{", 1)[0]] = float(line.rsplit(" ", 1)[1])
        elif line.startswith("kc_orders{"):
            status = line.split('status="', 1)[1].split('"', 1)[0]
            figures[f"kc_orders:{status}"] = float(line.rsplit(" ", 1)[1])
    assert "kc_approvals_pending" in figures, "approval's /metrics has no kc_approvals_pending"
    return figures


async def pending_orders(ours: list[str]) -> tuple[int, int]:
    """Orders pending approval in approval's order summaries (not the counts the gauge is read from): all of them,
    and how many of ``ours``."""
    conn = await asyncpg.connect(dsn_for("approval"))
    try:
        row = await conn.fetchrow(
            "SELECT count(*) AS total, count(*) FILTER (WHERE order_id = ANY($1::uuid[])) AS ours"
            " FROM approval_order_summaries WHERE status = 'pending_approval'",
            ours,
        )
    finally:
        await conn.close()
    return int(row["total"]), int(row["ours"])


async def test_orders_over_budget_show_as_pending_approvals_on_the_metrics(shop: Shop):
    _, buyer = await shop.person(["buyer"], budget=BUDGET)
    orders = [await shop.order(buyer, quantity=12) for _ in range(3)]
    assert {o["status"] for o in orders} == {"pending_approval"}

    # The gauges are refreshed every few seconds: a figure read before the orders may still count orders that an
    # earlier journey decided since. So the gauge is compared with the orders pending when it is read, ours among them.
    async def counted() -> dict[str, float] | None:
        figures = await scrape()
        total, ours = await pending_orders([o["id"] for o in orders])
        return figures if ours == 3 and figures["kc_approvals_pending"] == total else None

    figures = await eventually(counted, timeout=45, what="the pending approvals on /metrics, ours among them")
    assert figures["kc_approvals_pending"] >= 3
    assert figures["kc_orders:pending_approval"] == figures["kc_approvals_pending"]
    assert figures["kc_approvals_oldest_pending_seconds"] > 0
