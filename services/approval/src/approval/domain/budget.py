"""Budget evaluation: which limits an order exceeds. Pure; unset limits mean unlimited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol
from zoneinfo import ZoneInfo

PERIODS = ("month", "quarter", "year")

BUDGET_TIME_ZONE = ZoneInfo("Europe/Berlin")
"""Where a month, quarter or year begins and ends: the shop's and its customers' calendar (ADR 0017)."""


@dataclass(frozen=True)
class PeriodBudget:
    """What a buyer may order per calendar period (``month``, ``quarter`` or ``year``): a value, and optionally a
    total quantity. ``None`` means unlimited."""

    period: str
    max_value: Decimal | None = None
    currency: str | None = None
    max_quantity: int | None = None


@dataclass(frozen=True)
class Budget:
    """A buyer's budget per order, and optionally per period. ``None`` means unlimited."""

    max_quantity: int | None = None
    max_value: Decimal | None = None
    currency: str | None = None
    period: PeriodBudget | None = None


UNLIMITED = Budget()


@dataclass(frozen=True)
class Period:
    """One calendar period of a period budget: ``key`` names it (``month:2026-12``, ``quarter:2026-Q4``,
    ``year:2026``); ``start`` inclusive, ``end`` exclusive, in :data:`BUDGET_TIME_ZONE`."""

    kind: str
    key: str
    start: datetime
    end: datetime

    @classmethod
    def of(cls, kind: str, at: datetime) -> Period:
        local = at.astimezone(BUDGET_TIME_ZONE)
        tz = BUDGET_TIME_ZONE
        if kind == "month":
            start = datetime(local.year, local.month, 1, tzinfo=tz)
            end = _next_month(start, 1)
            key = f"{local.year:04d}-{local.month:02d}"
        elif kind == "quarter":
            q = (local.month - 1) // 3
            start = datetime(local.year, 3 * q + 1, 1, tzinfo=tz)
            end = _next_month(start, 3)
            key = f"{local.year:04d}-Q{q + 1}"
        elif kind == "year":
            start = datetime(local.year, 1, 1, tzinfo=tz)
            end = datetime(local.year + 1, 1, 1, tzinfo=tz)
            key = f"{local.year:04d}"
        else:
            raise ValueError(f"not a budget period: {kind!r}")
        return cls(kind, f"{kind}:{key}", start, end)


def _next_month(start: datetime, months: int) -> datetime:
    m = start.month - 1 + months
    return start.replace(year=start.year + m // 12, month=m % 12 + 1)


@dataclass(frozen=True)
class LimitExceeded:
    limit: str
    """``max_quantity`` or ``max_value`` (per order); ``period_value`` or ``period_quantity`` (per period)"""
    allowed: Decimal
    """per order: the limit; per period: what was still available of the period budget"""
    actual: Decimal
    currency: str | None = None
    reason: str = "over_limit"
    """``over_limit``; ``currency_mismatch`` when the order's currency is not the budget's; ``period_budget`` when
    the order does not fit into what is left of the period budget"""
    period: str | None = None
    """per period: the period's key, e.g. ``month:2026-12``"""
    budget: Decimal | None = None
    """per period: the period budget"""
    reserved: Decimal | None = None
    """per period: reserved by orders not yet confirmed by the ERP, when the order was judged"""
    consumed: Decimal | None = None
    """per period: confirmed by the ERP, when the order was judged"""


class Evaluable(Protocol):
    @property
    def total_quantity(self) -> int: ...

    @property
    def total_value(self) -> Decimal: ...

    @property
    def currency(self) -> str: ...


def evaluate(order: Evaluable, budget: Budget) -> tuple[LimitExceeded, ...]:
    """The per-order limits the order exceeds (the period budget is the ledger's business)."""
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
