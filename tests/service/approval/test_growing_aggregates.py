"""A period budget's ledger and the company's credit grow with every order. Approval no longer replays them from
their whole history for each order: it keeps them in the process and applies only the events stored since
(``Orders._find_growing``). These tests hold it to both halves: nothing is replayed whole once they are cached, and a
change stored past the cache (another replica, a concurrent order) is judged on all the same."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import project_aggregate

from approval.application.orders import Orders
from approval.domain.budget import Budget, Period, PeriodBudget
from approval.domain.credit import CompanyCredit, CreditFigures
from approval.domain.growing import SNAPSHOT_EVERY
from approval.domain.ledger import BudgetLedger
from approval.domain.model import OrderStatus
from tests.service.approval.test_orders_application import order
from tests.support.approval import Company

MONTHLY = Budget(period=PeriodBudget("month", Decimal("100000.00"), "EUR", 10000))


@pytest.fixture
def company(orders: Orders) -> Company:
    return Company(orders)


@pytest.fixture
def replays(orders: Orders, monkeypatch: pytest.MonkeyPatch) -> list[UUID]:
    """The ids the repository replayed from all their events."""
    seen: list[UUID] = []
    whole = orders.repository.get

    def get(aggregate_id: UUID, **kwargs: Any) -> Any:
        seen.append(aggregate_id)
        return whole(aggregate_id, **kwargs)

    monkeypatch.setattr(orders.repository, "get", get)
    return seen


def ledger_id(buyer: Any) -> UUID:
    return BudgetLedger.create_id(buyer.id, Period.of("month", datetime.now(UTC)).key)


def test_a_busy_ledger_is_replayed_whole_once_and_then_only_brought_up_to_date(orders, company, replays):
    buyer = company.member("buyer", ["place_orders"], MONTHLY)
    for _ in range(30):
        assert orders.submit(buyer, order(1)).status is OrderStatus.RELEASED  # 10.00 each
    assert replays.count(ledger_id(buyer)) <= 1
    _, figures = orders.period_budget(buyer)
    assert (figures.reserved_value, figures.reserved_quantity) == (Decimal("300.00"), 30)


def test_a_reservation_stored_past_the_cache_is_counted_by_the_next_order(orders, company):
    buyer = company.member("buyer", ["place_orders"], MONTHLY)
    orders.submit(buyer, order(1))  # cached now, at 10.00 of 100,000.00
    behind = orders.repository.get(ledger_id(buyer))  # another replica's order takes 99,985.00 of the budget
    behind.reserve(uuid4(), Decimal("99985.00"), 1, "EUR", MONTHLY.period, datetime.now(UTC))
    orders.save(behind)

    held = orders.submit(buyer, order(1))  # 10.00 more than the 5.00 left
    assert held.status is OrderStatus.PENDING_APPROVAL
    assert [x.reason for x in held.exceeded] == ["period_budget"]


def test_credit_taken_past_the_cache_is_counted_by_the_next_order(orders, company, replays):
    buyer = company.member("buyer", ["place_orders"])
    figures = CreditFigures("EUR", Decimal("100"), Decimal("0"), Decimal("0"), False, datetime.now(UTC))
    orders.save(*orders.credit.figures_changed(company.id, figures))
    assert orders.submit(buyer, order(3)).status is OrderStatus.RELEASED  # takes 30.00; the credit is cached now
    credit_id = CompanyCredit.create_id(company.id)
    behind = orders.repository.get(credit_id)  # another replica's order takes 65.00
    behind.take(uuid4(), Decimal("65.00"))
    orders.save(behind)
    replays.clear()

    waiting = orders.submit(buyer, order(1))  # 10.00 more than the 5.00 left
    assert waiting.status is OrderStatus.CREDIT_HOLD
    assert credit_id not in replays  # brought up to date, not replayed


def test_a_process_that_never_read_a_busy_ledger_starts_from_its_latest_snapshot(orders, company):
    buyer = company.member("buyer", ["place_orders"], MONTHLY)
    for _ in range(SNAPSHOT_EVERY + 20):
        orders.submit(buyer, order(1))  # one event each: the ledger passes a multiple of SNAPSHOT_EVERY
    led = ledger_id(buyer)
    (snapshot,) = orders.snapshots.get(led, desc=True, limit=1)
    assert snapshot.originator_version == SNAPSHOT_EVERY

    orders._cached_growing = type(orders._cached_growing)(orders)  # as a restarted process: nothing cached
    read: list[int] = []
    every = orders.events.get

    def get(aggregate_id: UUID, **kwargs: Any) -> Any:
        found = list(every(aggregate_id, **kwargs))
        if aggregate_id == led:
            read.append(len(found))
        return found

    orders.events.get = get  # type: ignore[method-assign]
    _, figures = orders.period_budget(buyer)
    assert sum(read) == SNAPSHOT_EVERY + 21 - snapshot.originator_version  # the events after it, not all
    assert (figures.reserved_value, figures.reserved_quantity) == (
        Decimal(SNAPSHOT_EVERY + 20) * 10,
        SNAPSHOT_EVERY + 20,
    )
    replayed = project_aggregate(None, every(led))
    assert orders._find_growing(led).entries == replayed.entries  # the snapshot's state is the events' state


def test_a_credits_snapshot_holds_what_its_events_hold(orders, company):
    buyer = company.member("buyer", ["place_orders"])
    figures = CreditFigures("EUR", Decimal("1000000"), Decimal("0"), Decimal("0"), False, datetime.now(UTC))
    orders.save(*orders.credit.figures_changed(company.id, figures))
    for _ in range(SNAPSHOT_EVERY):
        orders.submit(buyer, order(1))
    credit_id = CompanyCredit.create_id(company.id)
    (snapshot,) = orders.snapshots.get(credit_id, desc=True, limit=1)
    from_snapshot = snapshot.mutate(None)
    replayed = project_aggregate(None, orders.events.get(credit_id, lte=snapshot.originator_version))
    assert (from_snapshot.exposure, from_snapshot.waiting, from_snapshot.figures) == (
        replayed.exposure, replayed.waiting, replayed.figures,
    )  # fmt: skip
    assert from_snapshot.version == replayed.version and isinstance(next(iter(from_snapshot.exposure)), UUID)
