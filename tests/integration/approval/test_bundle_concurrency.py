"""approval on PostgreSQL (ADR 0034): bundles racing single decisions and each other over the same orders. Every
order is decided exactly once; a bundle is stored whole or not at all (never some members approved into a bundle
that does not exist, never an order in two bundles); the buyer's period budget and the company's credit end up
holding exactly the released orders."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from threading import Barrier

import pytest
from eventsourcing.persistence import IntegrityError
from pydantic import SecretStr

from approval.application.orders import Orders
from approval.domain.budget import Budget, PeriodBudget
from approval.domain.bundles import OrderBundle
from approval.domain.credit import CompanyCredit, CreditFigures
from approval.domain.model import OrderError, OrderStatus
from approval.settings import ApprovalSettings
from tests.service.approval.test_orders_application import order
from tests.support.approval import Company

pytestmark = pytest.mark.integration

PAIRS = 15
BUDGET = Budget(max_quantity=1, period=PeriodBudget("month", Decimal("100000.00"), "EUR"))  # held, reserving 20.00


async def test_bundles_and_single_decisions_racing_over_the_same_orders_decide_each_once(database):
    orders = Orders(env=ApprovalSettings(database_url=SecretStr(await database("approval"))).eventsourcing_env())
    try:
        company = Company(orders)
        f = CreditFigures("EUR", Decimal("100000"), Decimal("0"), Decimal("0"), False, datetime.now(UTC))
        orders.save(*orders.credit.figures_changed(company.id, f))
        buyer = company.member("buyer", ["place_orders"], BUDGET)
        a, b, c = (company.member(n, ["approve_orders"]) for n in ("a", "b", "c"))
        company.approvers(a, b, c)
        held = [orders.submit(buyer, order(2)) for _ in range(2 * PAIRS + 1)]
        assert {o.status for o in held} == {OrderStatus.PENDING_APPROVAL}
        ids = [o.id for o in held]
        start = Barrier(3)

        def bundle_pairs(approver, offset: int):
            """Bundles of neighbours: a from the first order on, b shifted by one, so every bundle of a overlaps two
            of b's."""
            start.wait()
            out = []
            for i in range(offset, len(ids) - 1, 2):
                try:
                    out.append(orders.bundle(approver, [ids[i], ids[i + 1]], "zusammen"))
                except (OrderError, IntegrityError):
                    continue
            return out

        def reject_singly():
            start.wait()
            out = []
            for order_id in reversed(ids):
                try:
                    out.append(orders.reject(c, order_id, "nein"))
                except (OrderError, IntegrityError):
                    continue
            return out

        with ThreadPoolExecutor(3) as pool:
            by_a, by_b = pool.submit(bundle_pairs, a, 0), pool.submit(bundle_pairs, b, 1)
            rejecting = pool.submit(reject_singly)
            bundles = [*by_a.result(), *by_b.result()]
            rejected = {o.id for o in rejecting.result()}

        in_bundles: dict = {}
        for bundle in bundles:
            stored_bundle = orders.repository.get(bundle.id)
            assert isinstance(stored_bundle, OrderBundle)
            for member_id in stored_bundle.order_ids:
                assert member_id not in in_bundles, "an order in two bundles"
                in_bundles[member_id] = bundle.id
        for order_id in ids:
            stored = orders.repository.get(order_id)
            decisions = [type(e).__name__ for e in orders.events.get(order_id)]
            assert decisions.count("Approved") + decisions.count("Rejected") == 1, decisions
            if stored.status is OrderStatus.RELEASED:  # approved only ever inside a bundle that was stored
                assert stored.bundle_id == in_bundles[order_id]
            else:
                assert stored.status is OrderStatus.REJECTED and order_id in rejected
                assert order_id not in in_bundles
        assert bundles and rejected, "the race should have let both sides win some orders"

        released = {i for i in ids if orders.repository.get(i).status is OrderStatus.RELEASED}
        ledger = orders.repository.get(held[0].ledger_id)
        assert set(ledger.entries) == released
        credit = orders.repository.get(CompanyCredit.create_id(company.id))
        assert set(credit.exposure) == released
        assert credit.stand().released_unconfirmed == Decimal("20.00") * len(released)
    finally:
        orders.close()
