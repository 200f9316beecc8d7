"""The aggregates every order changes (a period budget's ledger, the company's credit) are copied for each use case
by their containers only (approval.domain.growing): a use case that changes its copy leaves the cached original as it
was, and an attribute that is neither immutable nor named a container is caught here, before it can leak changes
from one use case into the next."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from approval.domain.budget import Period, PeriodBudget
from approval.domain.credit import CompanyCredit, CreditFigures
from approval.domain.ledger import BudgetLedger

AT = datetime(2026, 12, 5, 12, tzinfo=UTC)
MONTHLY = PeriodBudget("month", Decimal("1000.00"), "EUR", 100)


def busy_ledger() -> BudgetLedger:
    led = BudgetLedger.open(uuid4(), uuid4(), Period.of("month", AT))
    for _ in range(3):
        led.reserve(uuid4(), Decimal("10.00"), 1, "EUR", MONTHLY, AT)
    led.collect_events()
    return led


def busy_credit() -> CompanyCredit:
    credit = CompanyCredit.open(uuid4())
    credit.change_figures(CreditFigures("EUR", Decimal("100"), Decimal("0"), Decimal("0"), False, AT))
    credit.take(uuid4(), Decimal("60"))
    credit.hold(uuid4(), Decimal("70"), "EUR", AT)
    credit.collect_events()
    return credit


def state(aggregate: Any) -> dict[str, Any]:
    return {k: copy.copy(v) for k, v in aggregate.__dict__.items() if k != "_pending_events"}


def test_changing_a_ledgers_copy_leaves_the_original_as_it_was():
    original = busy_ledger()
    before = state(original)
    mine = copy.deepcopy(original)
    mine.reserve(uuid4(), Decimal("5.00"), 1, "EUR", MONTHLY, AT)
    mine.consume(next(iter(mine.entries)), AT)
    assert state(original) == before
    assert len(mine.entries) == len(original.entries) + 1
    assert (mine.version, original.version) == (before["_version"] + 2, before["_version"])
    assert original.collect_events() == []


def test_changing_a_credits_copy_leaves_the_original_as_it_was():
    original = busy_credit()
    before = state(original)
    mine = copy.deepcopy(original)
    mine.take(uuid4(), Decimal("1"))
    mine.hold(uuid4(), Decimal("2"), "EUR", AT)
    mine.withdraw(original.waiting[0].order_id)
    assert state(original) == before
    assert len(mine.exposure) == len(original.exposure) + 1
    assert original.collect_events() == []


@pytest.mark.parametrize("aggregate", [busy_ledger(), busy_credit()], ids=["ledger", "credit"])
def test_every_attribute_is_immutable_or_a_named_container(aggregate: Any):
    named = {*aggregate._containers, "_pending_events"}
    for name, value in aggregate.__dict__.items():
        if name in named:
            continue
        try:
            hash(value)
        except TypeError:
            pytest.fail(f"{type(aggregate).__name__}.{name} is mutable: name it in _containers")
    for name in aggregate._containers:
        assert copy.deepcopy(aggregate).__dict__[name] is not aggregate.__dict__[name]
