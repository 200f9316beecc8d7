"""Budget evaluation: which limits an order exceeds. Pure; unset limits mean unlimited."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True)
class Budget:
    """A buyer's budget per order. ``None`` means unlimited."""

    max_quantity: int | None = None
    max_value: Decimal | None = None
    currency: str | None = None


UNLIMITED = Budget()


@dataclass(frozen=True)
class LimitExceeded:
    limit: str
    """``max_quantity`` or ``max_value``"""
    allowed: Decimal
    actual: Decimal
    currency: str | None = None
    reason: str = "over_limit"
    """``over_limit``, or ``currency_mismatch`` when the order's currency is not the budget's"""


class Evaluable(Protocol):
    @property
    def total_quantity(self) -> int: ...

    @property
    def total_value(self) -> Decimal: ...

    @property
    def currency(self) -> str: ...


def evaluate(order: Evaluable, budget: Budget) -> tuple[LimitExceeded, ...]:
    exceeded: list[LimitExceeded] = []
    if budget.max_quantity is not None and order.total_quantity > budget.max_quantity:
        exceeded.append(LimitExceeded("max_quantity", Decimal(budget.max_quantity), Decimal(order.total_quantity)))
    if budget.max_value is not None:
        if budget.currency and budget.currency != order.currency:
            exceeded.append(
                LimitExceeded("max_value", budget.max_value, order.total_value, order.currency, "currency_mismatch")
            )
        elif order.total_value > budget.max_value:
            exceeded.append(LimitExceeded("max_value", budget.max_value, order.total_value, order.currency))
    return tuple(exceeded)
