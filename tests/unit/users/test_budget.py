"""Budgets: non-negative whole quantities and non-negative Decimal values with a currency; unset is unlimited."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from users.domain.errors import InvalidBudget
from users.domain.model import UNLIMITED, Budget


@given(
    quantity=st.none() | st.integers(min_value=0, max_value=10**9),
    value=st.none() | st.decimals(min_value=0, max_value=10**9, allow_nan=False, allow_infinity=False, places=4),
)
def test_every_non_negative_budget_is_accepted(quantity, value):
    budget = Budget(quantity, value, "EUR" if value is not None else None)
    assert budget.max_total_quantity == quantity
    assert budget.max_order_value == value


@given(quantity=st.integers(max_value=-1))
def test_a_negative_quantity_is_refused(quantity):
    with pytest.raises(InvalidBudget):
        Budget(quantity, None, None)


@given(value=st.decimals(max_value=Decimal("-0.0001"), allow_nan=False, allow_infinity=False))
def test_a_negative_value_is_refused(value):
    with pytest.raises(InvalidBudget):
        Budget(None, value, "EUR")


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_a_value_that_is_not_a_finite_number_is_refused(value):
    with pytest.raises(InvalidBudget):
        Budget(None, value, "EUR")


@pytest.mark.parametrize("currency", [None, "eur", "EURO", "E1R"])
def test_a_value_needs_an_iso_currency(currency):
    with pytest.raises(InvalidBudget):
        Budget(None, Decimal("10"), currency)


def test_a_currency_without_a_value_is_refused():
    with pytest.raises(InvalidBudget):
        Budget(5, None, "EUR")


def test_a_quantity_must_be_a_whole_number():
    with pytest.raises(InvalidBudget):
        Budget(True, None, None)  # type: ignore[arg-type]


def test_no_limits_means_unlimited():
    assert UNLIMITED.unlimited
    assert not Budget(0, None, None).unlimited
