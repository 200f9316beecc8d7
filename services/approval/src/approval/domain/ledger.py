"""The reservation ledger of a period budget: one aggregate per buyer and calendar period (ADR 0017).

An order that fits into what is left of the period budget reserves its value and quantity when it is submitted;
the reservation is released when the order is rejected, cancelled or refused by the ERP, set to the released
amount when an approver approves it (modified or not), and consumed when the ERP confirms it. The ledger is saved
in the same transaction as the order's events, so the event store's version check on the ledger serialises every
change of one budget: two orders judged on the same version cannot both be saved.

Nothing here reads clocks or ids: callers pass them in (events are replayed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from approval.domain.budget import LimitExceeded, Period, PeriodBudget
from approval.domain.growing import CopiedByContainers

_LEDGERS = uuid5(NAMESPACE_URL, "urn:kundencenter:approval:budget-ledgers")

RESERVED = "reserved"
CONSUMED = "consumed"


class PeriodBudgetExceeded(Exception):
    """A reservation the period budget cannot take (a caller must judge before it reserves)."""

    code = "period_budget"


@dataclass(frozen=True)
class Entry:
    """One order's part of the period: ``value`` in ``currency``; ``beyond``: an approver released it although it
    did not fit into what was left."""

    value: Decimal
    quantity: int
    currency: str
    state: str
    beyond: bool = False


@dataclass(frozen=True)
class Figures:
    """Where a period budget stands. Values in the budget's currency; ``None``: no such limit."""

    period: Period
    budget: PeriodBudget
    reserved_value: Decimal
    consumed_value: Decimal
    reserved_quantity: int
    consumed_quantity: int

    @property
    def available_value(self) -> Decimal | None:
        if self.budget.max_value is None:
            return None
        return max(Decimal(0), self.budget.max_value - self.reserved_value - self.consumed_value)

    @property
    def available_quantity(self) -> int | None:
        if self.budget.max_quantity is None:
            return None
        return max(0, self.budget.max_quantity - self.reserved_quantity - self.consumed_quantity)


def judge_period(f: Figures, value: Decimal, quantity: int, currency: str) -> tuple[LimitExceeded, ...]:
    """What an order of ``value`` and ``quantity`` would exceed of the period budget ``f.budget``, where the period
    stands at ``f`` apart from the order (pure: a ledger judges with it, and the what-if replay of ADR 0030 too)."""
    budget = f.budget
    key = f.period.key
    out: list[LimitExceeded] = []
    if budget.max_value is not None:
        available = f.available_value
        assert available is not None
        reason = "currency_mismatch" if budget.currency and currency != budget.currency else "period_budget"
        if reason == "currency_mismatch" or value > available:
            out.append(
                LimitExceeded(
                    "period_value", available, value, currency, reason, key, budget.max_value, f.reserved_value,
                    f.consumed_value,
                )
            )  # fmt: skip
    if budget.max_quantity is not None:
        left = f.available_quantity
        assert left is not None
        if quantity > left:
            out.append(
                LimitExceeded(
                    "period_quantity", Decimal(left), Decimal(quantity), None, "period_budget", key,
                    Decimal(budget.max_quantity), Decimal(f.reserved_quantity), Decimal(f.consumed_quantity),
                )
            )  # fmt: skip
    return tuple(out)


class BudgetLedger(CopiedByContainers, Aggregate):
    """The orders that took part of one buyer's period budget in one period. Its id follows from both."""

    _containers = ("entries",)

    @staticmethod
    def create_id(user_id: UUID, period_key: str) -> UUID:
        return uuid5(_LEDGERS, f"{user_id}/{period_key}")

    class Opened(Aggregate.Created):
        user_id: UUID
        company_id: UUID
        kind: str
        key: str
        start: datetime
        end: datetime

    @classmethod
    def open(cls, user_id: UUID, company_id: UUID, period: Period) -> BudgetLedger:
        return cls._create(
            cls.Opened,
            id=cls.create_id(user_id, period.key),
            user_id=user_id,
            company_id=company_id,
            kind=period.kind,
            key=period.key,
            start=period.start,
            end=period.end,
        )

    def __init__(self, user_id: UUID, company_id: UUID, kind: str, key: str, start: datetime, end: datetime) -> None:
        self.user_id = user_id
        self.company_id = company_id
        self.period = Period(kind, key, start, end)
        self.entries: dict[UUID, Entry] = {}

    # ---- what is left -----------------------------------------------------------------------------------

    def figures(self, budget: PeriodBudget, leaving_out: UUID | None = None) -> Figures:
        """Reserved and consumed, by every order but ``leaving_out``. A value in another currency than the
        budget's is not counted in its value (the order was held with ``currency_mismatch``)."""
        reserved_v = consumed_v = Decimal(0)
        reserved_q = consumed_q = 0
        for order_id, e in self.entries.items():
            if order_id == leaving_out:
                continue
            value = e.value if e.currency == budget.currency else Decimal(0)
            if e.state == RESERVED:
                reserved_v += value
                reserved_q += e.quantity
            else:
                consumed_v += value
                consumed_q += e.quantity
        return Figures(self.period, budget, reserved_v, consumed_v, reserved_q, consumed_q)

    def judge(
        self, order_id: UUID | None, value: Decimal, quantity: int, currency: str, budget: PeriodBudget
    ) -> tuple[LimitExceeded, ...]:
        """What the order would exceed of the period budget, besides what it holds itself already."""
        return judge_period(self.figures(budget, leaving_out=order_id), value, quantity, currency)

    # ---- changes ----------------------------------------------------------------------------------------

    def reserve(
        self, order_id: UUID, value: Decimal, quantity: int, currency: str, budget: PeriodBudget, at: datetime
    ) -> None:
        """Take the order's part of the budget; refused when it does not fit (the order goes to approval)."""
        if self.judge(order_id, value, quantity, currency, budget):
            raise PeriodBudgetExceeded("The order does not fit into what is left of the period budget.")
        self._set(order_id, value, quantity, currency, False, None, at)

    def grant(
        self,
        order_id: UUID,
        value: Decimal,
        quantity: int,
        currency: str,
        budget: PeriodBudget | None,
        by: UUID,
        at: datetime,
    ) -> None:
        """An approver released the order: its reservation is set to the released amount, fitting or not
        (``beyond`` records that it did not fit; ``budget`` None: the buyer has no period budget any more)."""
        beyond = budget is not None and bool(self.judge(order_id, value, quantity, currency, budget))
        current = self.entries.get(order_id)
        if current == Entry(value, quantity, currency, RESERVED, beyond):
            return
        self._set(order_id, value, quantity, currency, beyond, by, at)

    def _set(
        self, order_id: UUID, value: Decimal, quantity: int, currency: str, beyond: bool, by: UUID | None, at: datetime
    ) -> None:
        current = self.entries.get(order_id)
        if current is not None and current.state == CONSUMED:
            raise ValueError("a consumed reservation does not change")
        self._reserved(order_id=order_id, value=value, quantity=quantity, currency=currency, beyond=beyond, by=by,
                       at=at)  # fmt: skip

    class Reserved(Aggregate.Event):
        order_id: UUID
        value: Decimal
        quantity: int
        currency: str
        beyond: bool
        by: UUID | None
        at: datetime

    @event(Reserved)
    def _reserved(
        self, order_id: UUID, value: Decimal, quantity: int, currency: str, beyond: bool, by: UUID | None, at: datetime
    ) -> None:
        self.entries[order_id] = Entry(value, quantity, currency, RESERVED, beyond)

    def release(self, order_id: UUID, at: datetime) -> None:
        """The order will not be delivered (rejected, cancelled, refused by the ERP): its reservation is free again.
        Repeats change nothing."""
        current = self.entries.get(order_id)
        if current is not None and current.state == RESERVED:
            self._released(order_id=order_id, at=at)

    class Released(Aggregate.Event):
        order_id: UUID
        at: datetime

    @event(Released)
    def _released(self, order_id: UUID, at: datetime) -> None:
        del self.entries[order_id]

    def consume(self, order_id: UUID, at: datetime) -> None:
        """The ERP confirmed the order: its reservation is spent. Repeats change nothing."""
        current = self.entries.get(order_id)
        if current is not None and current.state == RESERVED:
            self._consumed(order_id=order_id, at=at)

    class Consumed(Aggregate.Event):
        order_id: UUID
        at: datetime

    @event(Consumed)
    def _consumed(self, order_id: UUID, at: datetime) -> None:
        e = self.entries[order_id]
        self.entries[order_id] = Entry(e.value, e.quantity, e.currency, CONSUMED, e.beyond)
