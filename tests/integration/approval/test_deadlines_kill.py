"""Deadlines survive a kill -9 around their time (issue 17 item 2, ADR 0033): a real approval process, made to
SIGKILL itself right before, then right after, it saves a deadline step; restarted, it takes the step that was not
saved and never takes the saved one again — the wait's expiry follows as set, each step once."""

from __future__ import annotations

import asyncio
import signal
from datetime import timedelta
from decimal import Decimal

import pytest

from approval.application.orders import Orders
from approval.domain.budget import Budget
from approval.domain.deadlines import Deadlines
from tests.conftest import eventually
from tests.integration.approval.test_read_model_postgres import order
from tests.integration.test_exactly_once import approval_process, es_env, ready
from tests.support.approval import Company

pytestmark = pytest.mark.integration

BUDGET = Budget(max_value=Decimal("50.00"), currency="EUR")
TIMER = {"SHORTEST_DEADLINE": "PT1S", "DEADLINE_INTERVAL_S": "0.2"}


def steps(orders: Orders, order_id) -> list[str]:
    wanted = ("Reminded", "EscalatedOnDeadline", "Expired")
    return [type(e).__name__ for e in orders.events.get(order_id) if type(e).__name__ in wanted]


@pytest.mark.parametrize("dies", ["deadline.before_save", "deadline.after_save"])
async def test_a_step_is_taken_once_when_the_process_dies_at_its_save(database, topic_prefix, processes, dies):
    dsn = await database("approval")
    orders = Orders(env=es_env(dsn))
    orders.shortest_deadline = timedelta(seconds=1)
    company = Company(orders)
    buyer, anna = company.member("buyer", ["place_orders"], BUDGET), company.member("anna", ["approve_orders"])
    company.approvers(anna)
    orders.set_deadlines(company.main, Deadlines.of(timedelta(seconds=1), None, timedelta(seconds=6)))
    held = orders.submit(buyer, order(6))

    doomed = approval_process(dsn, topic_prefix, **TIMER)
    processes.append(doomed.start(failpoints=dies))  # the first deadline step it takes is the reminder
    assert await asyncio.to_thread(doomed.wait_exit) == -signal.SIGKILL
    saved = steps(orders, held.id)
    if dies == "deadline.before_save":
        assert saved == []
    else:  # the reminder — or, when the process came up after the expiry was due too (a loaded machine), the expiry
        assert saved in (["Reminded"], ["Expired"])

    await ready(doomed.restarted(), processes)

    async def expired() -> bool:
        return "Expired" in steps(orders, held.id)

    await eventually(expired, timeout=30, what="the restarted process to let the order expire")
    taken = steps(orders, held.id)
    if dies == "deadline.after_save":
        assert taken == (["Reminded", "Expired"] if saved == ["Reminded"] else ["Expired"])  # the saved step not again
    else:  # the reminder never saved is taken after the restart — unless the expiry was due by then (the furthest)
        assert taken in (["Reminded", "Expired"], ["Expired"])
    assert orders.get_order(buyer, held.id).status.value == "expired"
    orders.close()
