"""approval on PostgreSQL: the main contact's re-evaluation of pending orders racing with the buyer's new orders
against one period budget — each re-judged order is saved with its ledger, version-checked and judged again when the
ledger moved, so what is reserved never exceeds the raised budget and the ledger names exactly the orders that hold a
part (ADR 0024, ADR 0017)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from threading import Barrier

import pytest
from pydantic import SecretStr

from approval.application.orders import Orders
from approval.domain.budget import Budget, PeriodBudget
from approval.domain.ledger import BudgetLedger
from approval.domain.model import OrderStatus
from approval.settings import ApprovalSettings
from tests.service.approval.test_orders_application import order
from tests.support.approval import Company
from tests.support.users import signed_in

pytestmark = pytest.mark.integration

LOW = Budget(period=PeriodBudget("month", Decimal("50.00"), "EUR"))  # 5 orders of 10.00
HIGH = Budget(period=PeriodBudget("month", Decimal("200.00"), "EUR"))  # 20


async def test_a_re_evaluation_racing_with_new_orders_never_takes_more_than_the_budget(database):
    orders = Orders(env=ApprovalSettings(database_url=SecretStr(await database("approval"))).eventsourcing_env())
    try:
        company = Company(orders)
        buyer = company.member("buyer", ["place_orders"], LOW)
        first = [orders.submit(buyer, order(1)) for _ in range(20)]  # 5 released, 15 held on period_budget
        assert sum(o.status is OrderStatus.RELEASED for o in first) == 5
        held = [o.id for o in first if o.status is OrderStatus.PENDING_APPROVAL]
        orders.save(*orders.member_changed(buyer.id, budget=HIGH))
        raised = orders.caller(signed_in(buyer.email))  # the buyer as approval knows them now
        assert raised.budget == HIGH
        start = Barrier(4)

        def step(n: int):
            if n < 4:
                start.wait()
            if n == 0:
                return orders.re_evaluate(company.main, held)
            return orders.submit(raised, order(1))

        with ThreadPoolExecutor(4) as pool:
            done = list(pool.map(step, range(16)))

        placed = [o.id for o in first] + [o.id for o in done[1:]]
        stored = [orders.repository.get(i) for i in placed]
        takes = {o.id for o in stored if o.status is not OrderStatus.PENDING_APPROVAL}
        assert len(takes) == 20  # 200.00 / 10.00: the budget is taken exactly, by whoever came first
        assert all(o.status is OrderStatus.RELEASED for o in stored if o.id in takes)
        ledger = orders.repository.get(stored[0].ledger_id)
        assert isinstance(ledger, BudgetLedger)
        assert set(ledger.entries) == takes
        assert ledger.figures(HIGH.period).reserved_value == Decimal("200.00")  # type: ignore[arg-type]
    finally:
        orders.close()
