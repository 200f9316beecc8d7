"""approval on PostgreSQL: many orders of one buyer at the same moment against one period budget — the ledger is
saved with each order in one transaction and version-checked, so the last part of the budget goes to exactly one
order and what is reserved never exceeds the budget (ADR 0017)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from threading import Barrier

import pytest
from eventsourcing.persistence import IntegrityError
from pydantic import SecretStr

from approval.application.orders import Orders
from approval.domain.budget import Budget, PeriodBudget
from approval.domain.ledger import BudgetLedger
from approval.domain.model import OrderStatus
from approval.settings import ApprovalSettings
from tests.service.approval.test_orders_application import order
from tests.support.approval import Company

pytestmark = pytest.mark.integration

ORDERS = 48
WORKERS = 12
BUDGET = Budget(period=PeriodBudget("month", Decimal("150.00"), "EUR"))  # 15 orders of 10.00


async def test_concurrent_orders_never_take_more_than_the_period_budget(database):
    orders = Orders(env=ApprovalSettings(database_url=SecretStr(await database("approval"))).eventsourcing_env())
    try:
        company = Company(orders)
        buyers = [company.member(f"buyer{i}", ["place_orders"], BUDGET) for i in range(2)]
        start = Barrier(WORKERS)

        def submit(n: int):
            if n < WORKERS:
                start.wait()  # the first of each worker begin together
            return orders.submit(buyers[n % 2], order(1))

        with ThreadPoolExecutor(WORKERS) as pool:
            placed = list(pool.map(submit, range(ORDERS)))

        for buyer in buyers:
            mine = [o for o in placed if o.buyer_id == buyer.id]
            released = [o for o in mine if o.status is OrderStatus.RELEASED]
            held = [o for o in mine if o.status is OrderStatus.PENDING_APPROVAL]
            assert len(released) == 15 and len(held) == len(mine) - 15
            assert all(x.reason == "period_budget" for o in held for x in o.exceeded)
            ledger = orders.repository.get(mine[0].ledger_id)  # as stored
            assert isinstance(ledger, BudgetLedger)
            assert set(ledger.entries) == {o.id for o in released}
            figures = ledger.figures(BUDGET.period)  # type: ignore[arg-type]
            assert figures.reserved_value == Decimal("150.00") and figures.available_value == Decimal(0)
    finally:
        orders.close()


def as_the_consumer(orders: Orders, handle) -> None:
    """Apply the ERP's word as the idempotent consumer does: a transaction that fails on a version (a submission
    changed the ledger meanwhile) is run again from the store."""
    for _ in range(50):
        try:
            orders.save(*handle())
            return
        except IntegrityError:
            continue
    raise AssertionError("the ERP's word never got saved")


async def test_releases_and_confirmations_racing_with_submissions_keep_the_ledger_exact(database):
    orders = Orders(env=ApprovalSettings(database_url=SecretStr(await database("approval"))).eventsourcing_env())
    try:
        company = Company(orders)
        buyer = company.member("buyer", ["place_orders"], Budget(max_quantity=1, period=BUDGET.period))
        first = [orders.submit(buyer, order(2)) for _ in range(7)]  # over 1 per order: held, each reserving 20.00

        def step(n: int):
            if n < len(first):  # the main contact rejects or approves the held orders meanwhile
                o = first[n]
                if n % 2:
                    return orders.reject(company.main, o.id, "no")
                approved = orders.approve(company.main, o.id)
                as_the_consumer(orders, lambda: orders.erp_confirmed(approved.id, f"SO-{n}"))
                return approved
            return orders.submit(buyer, order(1))

        with ThreadPoolExecutor(WORKERS) as pool:
            done = list(pool.map(step, range(len(first) + 30)))

        stored = [orders.repository.get(o.id) for o in done]
        ledger = orders.repository.get(stored[0].ledger_id)
        taking = {o.id: o.content.total_value for o in stored
                  if o.status in (OrderStatus.RELEASED, OrderStatus.CONFIRMED)}  # fmt: skip
        assert {i: e.value for i, e in ledger.entries.items()} == taking
        figures = ledger.figures(BUDGET.period)
        assert figures.consumed_value == Decimal("80.00")  # the four approved and confirmed
        assert figures.reserved_value + figures.consumed_value <= Decimal("150.00")
        new = [o for o in stored[len(first) :] if o.status is OrderStatus.RELEASED]
        assert 1 <= len(new) <= 7  # 150.00 - 80.00 consumed: room for seven more at most
    finally:
        orders.close()
