"""approval on PostgreSQL: two approvers decide the same orders in bulk at the same moment, one approving, one
rejecting, in opposite order — every order is decided exactly once, each request's results say truly which of its
decisions were stored, and the buyer's period budget ends up holding exactly the approved orders (ADR 0018)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from threading import Barrier

import pytest
from pydantic import SecretStr

from approval.application.orders import Orders
from approval.domain.budget import Budget, PeriodBudget
from approval.domain.model import OrderStatus
from approval.settings import ApprovalSettings
from tests.service.approval.test_orders_application import order
from tests.support.approval import Company

pytestmark = pytest.mark.integration

ORDERS = 40
BUDGET = Budget(max_quantity=1, period=PeriodBudget("month", Decimal("10000.00"), "EUR"))  # held, reserving 20.00


async def test_two_approvers_deciding_the_same_orders_at_once_decide_each_exactly_once(database):
    orders = Orders(env=ApprovalSettings(database_url=SecretStr(await database("approval"))).eventsourcing_env())
    try:
        company = Company(orders)
        buyer = company.member("buyer", ["place_orders"], BUDGET)
        a, b = company.member("a", ["approve_orders"]), company.member("b", ["approve_orders"])
        company.approvers(a, b)
        held = [orders.submit(buyer, order(2)) for _ in range(ORDERS)]
        assert {o.status for o in held} == {OrderStatus.PENDING_APPROVAL}
        ids = [o.id for o in held]
        start = Barrier(3)

        def approve_all():
            start.wait()
            return orders.decide(a, "approve", ids, "ok")

        def reject_all():
            start.wait()
            return orders.decide(b, "reject", list(reversed(ids)), "nein")

        def keep_ordering():  # the buyer's new orders reserve on the same ledger meanwhile
            start.wait()
            return [orders.submit(buyer, order(2)) for _ in range(10)]

        with ThreadPoolExecutor(3) as pool:
            approving, rejecting, more = pool.submit(approve_all), pool.submit(reject_all), pool.submit(keep_ordering)
            by_a = {r.order_id: r for r in approving.result()}
            by_b = {r.order_id: r for r in rejecting.result()}
            new = more.result()

        for order_id in ids:
            stored = orders.repository.get(order_id)
            decisions = [type(e).__name__ for e in orders.events.get(order_id)]
            assert decisions.count("Approved") + decisions.count("Rejected") == 1, decisions
            winner, loser = (by_a, by_b) if stored.status is OrderStatus.RELEASED else (by_b, by_a)
            assert stored.status in (OrderStatus.RELEASED, OrderStatus.REJECTED)
            assert winner[order_id].error is None
            assert loser[order_id].error is not None
            assert loser[order_id].error.code in ("wrong_state", "conflict")
            assert stored.decided_by == (a.id if winner is by_a else b.id)

        ledger = orders.repository.get(held[0].ledger_id)
        approved = {i for i in ids if orders.repository.get(i).status is OrderStatus.RELEASED}
        assert set(ledger.entries) == approved | {o.id for o in new}
        assert all(ledger.entries[i].value == Decimal("20.00") for i in approved)
    finally:
        orders.close()
