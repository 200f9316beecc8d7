"""The period budget's ledger as a plain object: what fits is reserved, what does not is refused, and every
reservation is released, adjusted or consumed once (ADR 0017)."""

from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

import pytest

from approval.domain.budget import Period, PeriodBudget
from approval.domain.ledger import BudgetLedger, PeriodBudgetExceeded

AT = datetime(2026, 12, 5, 12, tzinfo=UTC)
MONTHLY = PeriodBudget("month", Decimal("100.00"), "EUR", 10)


def ledger() -> BudgetLedger:
    return BudgetLedger.open(uuid4(), uuid4(), Period.of("month", AT))


def test_an_order_that_fits_is_reserved_and_counts_against_what_is_left():
    led = ledger()
    led.reserve(uuid4(), Decimal("60.00"), 4, "EUR", MONTHLY, AT)
    f = led.figures(MONTHLY)
    assert (f.reserved_value, f.available_value, f.reserved_quantity, f.available_quantity) == (
        Decimal("60.00"), Decimal("40.00"), 4, 6,
    )  # fmt: skip


def test_the_last_part_of_the_budget_goes_to_one_order_only():
    led = ledger()
    led.reserve(uuid4(), Decimal("70.00"), 1, "EUR", MONTHLY, AT)
    led.reserve(uuid4(), Decimal("30.00"), 1, "EUR", MONTHLY, AT)
    with pytest.raises(PeriodBudgetExceeded):
        led.reserve(uuid4(), Decimal("0.01"), 1, "EUR", MONTHLY, AT)


def test_exceeding_names_the_period_budget_and_its_figures():
    led = ledger()
    led.reserve(uuid4(), Decimal("80.00"), 2, "EUR", MONTHLY, AT)
    (over,) = led.judge(None, Decimal("30.00"), 1, "EUR", MONTHLY)
    assert (over.limit, over.reason, over.period) == ("period_value", "period_budget", "month:2026-12")
    assert (over.allowed, over.actual, over.budget, over.reserved, over.consumed) == (
        Decimal("20.00"), Decimal("30.00"), Decimal("100.00"), Decimal("80.00"), Decimal("0"),
    )  # fmt: skip


def test_the_quantity_of_a_period_is_a_limit_of_its_own():
    led = ledger()
    (over,) = led.judge(None, Decimal("1.00"), 11, "EUR", MONTHLY)
    assert (over.limit, over.allowed, over.actual) == ("period_quantity", Decimal(10), Decimal(11))


def test_an_order_in_another_currency_is_not_judged_as_fitting():
    (over,) = ledger().judge(None, Decimal("1.00"), 1, "CHF", MONTHLY)
    assert (over.limit, over.reason) == ("period_value", "currency_mismatch")


def test_a_released_reservation_is_free_again_and_releasing_twice_changes_nothing():
    led, order = ledger(), uuid4()
    led.reserve(order, Decimal("100.00"), 1, "EUR", MONTHLY, AT)
    led.release(order, AT)
    version = led.version
    led.release(order, AT)
    assert led.version == version
    assert led.figures(MONTHLY).available_value == Decimal("100.00")


def test_a_consumed_reservation_stays_spent():
    led, order = ledger(), uuid4()
    led.reserve(order, Decimal("40.00"), 1, "EUR", MONTHLY, AT)
    led.consume(order, AT)
    led.release(order, AT)  # (an ERP refusal comes before a confirmation, never after)
    f = led.figures(MONTHLY)
    assert (f.reserved_value, f.consumed_value, f.available_value) == (Decimal(0), Decimal("40.00"), Decimal("60.00"))


def test_an_approver_sets_the_reservation_to_what_they_released_fitting_or_not():
    led, order, approver = ledger(), uuid4(), uuid4()
    led.reserve(order, Decimal("50.00"), 1, "EUR", MONTHLY, AT)
    led.grant(order, Decimal("30.00"), 1, "EUR", MONTHLY, approver, AT)
    assert led.entries[order].value == Decimal("30.00") and not led.entries[order].beyond
    led.grant(order, Decimal("130.00"), 1, "EUR", MONTHLY, approver, AT)
    assert led.entries[order].beyond
    assert led.figures(MONTHLY).available_value == Decimal(0)


@pytest.mark.parametrize(
    ("kind", "at", "key", "start"),
    [
        ("month", datetime(2026, 3, 31, 22, 30, tzinfo=UTC), "month:2026-04", datetime(2026, 3, 31, 22, tzinfo=UTC)),
        ("month", datetime(2026, 12, 31, 22, 59, tzinfo=UTC), "month:2026-12", datetime(2026, 11, 30, 23, tzinfo=UTC)),
        (
            "quarter",
            datetime(2026, 12, 31, 23, 0, tzinfo=UTC),
            "quarter:2027-Q1",
            datetime(2026, 12, 31, 23, tzinfo=UTC),
        ),
        ("quarter", datetime(2026, 8, 15, tzinfo=UTC), "quarter:2026-Q3", datetime(2026, 6, 30, 22, tzinfo=UTC)),
        ("year", datetime(2026, 6, 1, tzinfo=UTC), "year:2026", datetime(2025, 12, 31, 23, tzinfo=UTC)),
    ],
)
def test_periods_are_calendar_periods_in_berlin(kind, at, key, start):
    period = Period.of(kind, at)
    assert (period.key, period.start) == (key, start)
    assert period.start <= at < period.end
