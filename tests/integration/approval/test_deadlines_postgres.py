"""Deadlines of waiting orders on PostgreSQL (ADR 0033): the read model's question "which orders have a step due"
follows the waits and the companies' deadlines as projected; the timer takes each step once — also when its rounds
overlap with a second timer's (two leaders for a moment in a failover) and when the read model has not caught up
with a step taken; a replica that does not lead takes nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import SecretStr

from approval.adapters.inbound.deadline_timer import DeadlineTimer
from approval.adapters.outbound.read_model import OrderSummaries
from approval.application.orders import Orders
from approval.domain.budget import Budget
from approval.domain.deadlines import Deadlines
from approval.settings import ApprovalSettings
from kc_runtime.eventstore import WorkerPool
from tests.integration.approval.test_read_model_postgres import order
from tests.support.approval import Company

pytestmark = pytest.mark.integration

BUDGET = Budget(max_value=Decimal("50.00"), currency="EUR")
START = datetime.now(UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def world(database) -> AsyncIterator[tuple[Orders, OrderSummaries, WorkerPool, Clock]]:
    dsn = await database("approval")
    orders = Orders(env=ApprovalSettings(database_url=SecretStr(dsn)).eventsourcing_env())
    clock = Clock()
    orders.clock = clock
    summaries = OrderSummaries(dsn)
    await summaries.pool()
    blocking = WorkerPool(4)
    yield orders, summaries, blocking, clock
    blocking.shutdown()
    await summaries.close()
    orders.close()


def timer(orders: Orders, summaries: OrderSummaries, blocking: WorkerPool, leads: bool = True) -> DeadlineTimer:
    return DeadlineTimer("approval", orders, summaries, blocking, 1.0, leads=lambda: leads)


async def project(orders: Orders, summaries: OrderSummaries) -> None:
    await summaries.apply(orders.notifications(0, 100_000))


async def test_each_step_is_taken_once_when_it_is_due(world):
    orders, summaries, blocking, clock = world
    company = Company(orders)
    buyer, anna = company.member("buyer", ["place_orders"], BUDGET), company.member("anna", ["approve_orders"])
    company.approvers(anna)
    orders.set_deadlines(company.main, Deadlines.of(timedelta(hours=1), timedelta(hours=2), timedelta(hours=3)))
    waiting = [orders.submit(buyer, order(6)) for _ in range(3)]
    decided = orders.submit(buyer, order(6))
    orders.approve(anna, decided.id)
    await project(orders, summaries)
    one = timer(orders, summaries, blocking)

    assert await one.tick() == {}  # nothing due yet
    clock.now = START + timedelta(hours=1, minutes=1)
    assert await one.tick() == {"remind": 3}
    assert await one.tick() == {}  # the read model lags (no projection since): asked again, nothing taken twice
    await project(orders, summaries)
    assert await summaries.due_for_deadlines(clock.now, 100) == []
    clock.now = START + timedelta(hours=3, minutes=1)
    assert await one.tick() == {"expire": 3}  # the furthest step only
    await project(orders, summaries)
    assert await summaries.due_for_deadlines(clock.now, 100) == []
    rows, total = await summaries.query(company.id, status="expired", limit=10)
    assert total == 3 and {r["order_id"] for r in rows} == {o.id for o in waiting}


async def test_two_timers_at_once_take_each_step_once_and_one_that_does_not_lead_takes_none(world):
    orders, summaries, blocking, clock = world
    company = Company(orders)
    buyer, anna = company.member("buyer", ["place_orders"], BUDGET), company.member("anna", ["approve_orders"])
    company.approvers(anna)
    orders.set_deadlines(company.main, Deadlines.of(timedelta(hours=1), None, None))
    for _ in range(20):
        orders.submit(buyer, order(6))
    await project(orders, summaries)
    clock.now = START + timedelta(hours=2)
    assert await timer(orders, summaries, blocking, leads=False).tick() == {}
    first, second = await asyncio.gather(
        timer(orders, summaries, blocking).tick(), timer(orders, summaries, blocking).tick()
    )
    assert first.get("remind", 0) + second.get("remind", 0) == 20
    reminded = [e for n, e, _ in orders.notifications(0, 100_000) if type(e).__name__ == "Reminded"]
    assert len(reminded) == 20 == len({e.originator_id for e in reminded})


async def test_deadlines_changed_later_count_for_orders_waiting_already(world):
    orders, summaries, blocking, clock = world
    company = Company(orders)
    buyer, anna = company.member("buyer", ["place_orders"], BUDGET), company.member("anna", ["approve_orders"])
    company.approvers(anna)
    held = orders.submit(buyer, order(6))
    await project(orders, summaries)
    clock.now = START + timedelta(days=2)
    assert await summaries.due_for_deadlines(clock.now, 100) == []  # no deadlines: nothing is ever due
    orders.set_deadlines(company.main, Deadlines.of(None, None, timedelta(days=1)))
    await project(orders, summaries)
    assert await summaries.due_for_deadlines(clock.now, 100) == [held.id]
    assert await timer(orders, summaries, blocking).tick() == {"expire": 1}
