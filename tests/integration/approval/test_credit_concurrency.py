"""approval on PostgreSQL: many orders of one company at the same moment against the ERP's credit (ADR 0026) — the
company's credit is saved with each order in one transaction and version-checked, so the last part of the credit goes
to exactly one order, the others wait in submission order, and raised figures release exactly what fits."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from threading import Barrier

import pytest
from pydantic import SecretStr

from approval.application.orders import Orders
from approval.domain.credit import CompanyCredit, CreditFigures
from approval.domain.model import OrderStatus
from approval.settings import ApprovalSettings
from tests.service.approval.test_orders_application import order
from tests.support.approval import Company

pytestmark = pytest.mark.integration

ORDERS = 40
WORKERS = 12
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def figures(limit: str, minutes: int) -> CreditFigures:
    return CreditFigures("EUR", Decimal(limit), Decimal("0"), Decimal("0"), False, T0 + timedelta(minutes=minutes))


async def test_concurrent_orders_never_take_more_than_the_available_credit(database):
    orders = Orders(env=ApprovalSettings(database_url=SecretStr(await database("approval"))).eventsourcing_env())
    try:
        company = Company(orders)
        orders.save(*orders.credit.figures_changed(company.id, figures("150.00", 1)))  # 15 orders of 10.00
        buyers = [company.member(f"buyer{i}", ["place_orders"]) for i in range(3)]
        start = Barrier(WORKERS)

        def submit(n: int):
            if n < WORKERS:
                start.wait()  # the first of each worker begin together
            return orders.submit(buyers[n % 3], order(1))

        with ThreadPoolExecutor(WORKERS) as pool:
            placed = list(pool.map(submit, range(ORDERS)))

        released = [o for o in placed if o.status is OrderStatus.RELEASED]
        waiting = [o for o in placed if o.status is OrderStatus.CREDIT_HOLD]
        assert len(released) == 15 and len(waiting) == ORDERS - 15
        credit = orders.repository.get(CompanyCredit.create_id(company.id))
        assert set(credit.exposure) == {o.id for o in released}
        assert credit.stand().available == Decimal("0")
        assert {w.order_id for w in credit.waiting} == {o.id for o in waiting}
        times = [w.submitted_at for w in credit.waiting]
        assert times == sorted(times)  # in submission order

        # room for five more: exactly the five oldest waiting orders go on
        went_on = orders.credit.figures_changed(company.id, figures("200.00", 2))
        orders.save(*went_on)
        oldest = [w.order_id for w in credit.waiting[:5]]
        assert [o.id for o in went_on if not isinstance(o, CompanyCredit)] == oldest
        for order_id in oldest:
            assert orders.repository.get(order_id).status is OrderStatus.RELEASED
        assert orders.repository.get(CompanyCredit.create_id(company.id)).stand().available == Decimal("0")
    finally:
        orders.close()
