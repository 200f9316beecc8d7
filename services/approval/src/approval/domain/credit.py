"""The company's credit as the ERP reports it, and the orders that wait for it (ADR 0026).

One :class:`CompanyCredit` per company, saved in the same transaction as every order that takes credit, waits for
it or leaves the queue: its version makes two concurrent orders unable to both take the last part of the credit
(the second save fails and is judged again). Nothing here reads clocks or ids: callers pass them in.

What counts against the limit:

* the ERP's ``open_receivables`` (invoiced, not paid) and ``open_orders`` (its sales orders not invoiced yet), as of
  its last message (``as_of``, the ERP's clock);
* every order approval released to the ERP that the ERP's figures do not include yet: from its release until a
  message arrives taken at or after the ERP confirmed the order (then the ERP counts it in ``open_orders``); an
  order the ERP rejected counts no more.

Orders that do not fit wait in submission order (oldest first); an order that still does not fit keeps the ones
after it waiting, and a new order waits behind older waiting ones even when it would fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from approval.domain.growing import CopiedByContainers

_NS = uuid5(NAMESPACE_URL, "urn:kundencenter:approval:credit")

HoldReason = Literal["credit_blocked", "credit_limit", "credit_queue", "credit_currency"]
"""Why an order waits for credit (the contract's reasons)."""

BLOCKED: HoldReason = "credit_blocked"
"""The ERP blocked the customer: no order goes on, whatever the figures."""
OVER_LIMIT: HoldReason = "credit_limit"
"""The order does not fit into the available credit."""
QUEUED: HoldReason = "credit_queue"
"""Older orders of the company wait for credit: this one waits behind them."""
CURRENCY: HoldReason = "credit_currency"
"""The order is in another currency than the ERP's credit figures: it cannot be judged, so it waits."""


@dataclass(frozen=True)
class CreditFigures:
    """The ERP's figures of a customer, as of ``as_of`` (the ERP's clock)."""

    currency: str
    credit_limit: Decimal
    open_receivables: Decimal
    open_orders: Decimal
    credit_blocked: bool
    as_of: datetime


@dataclass(frozen=True)
class CreditStand:
    """Where the company's credit stood when an order was judged: the ERP's figures, the released orders it did not
    include yet, and what was left (limit - receivables - open orders - those)."""

    figures: CreditFigures
    released_unconfirmed: Decimal
    available: Decimal


@dataclass(frozen=True)
class CreditHold:
    """Why an order waits for credit, and the credit it was judged on (pinned in the order's event)."""

    reason: HoldReason
    amount: Decimal
    currency: str
    stand: CreditStand
    main_contact_id: UUID | None = None
    """who is told with the figures (the company's main contact then)"""


@dataclass(frozen=True)
class Exposure:
    amount: Decimal
    confirmed_at: datetime | None = None
    """when the ERP confirmed the order (the ERP's clock); None: not yet"""


@dataclass(frozen=True)
class Waiting:
    order_id: UUID
    amount: Decimal
    currency: str
    submitted_at: datetime


class CompanyCredit(CopiedByContainers, Aggregate):
    _containers = ("exposure", "waiting")

    @staticmethod
    def create_id(company_id: UUID) -> UUID:
        return uuid5(_NS, f"credit/{company_id}")

    @classmethod
    def open(cls, company_id: UUID) -> CompanyCredit:
        return cls._create(cls.Opened, id=cls.create_id(company_id), company_id=company_id)

    class Opened(Aggregate.Created):
        company_id: UUID

    @event(Opened)
    def __init__(self, company_id: UUID) -> None:
        self.company_id = company_id
        self.figures: CreditFigures | None = None
        self.exposure: dict[UUID, Exposure] = {}
        self.waiting: list[Waiting] = []
        """in submission order"""

    # ---- the ERP's word ---------------------------------------------------------------------------------------

    def change_figures(self, figures: CreditFigures) -> bool:
        """The ERP's figures, whole. Taken before the last ones applied: nothing changes (False). Released orders the
        ERP confirmed by ``as_of`` are in its open orders now: approval stops counting them itself."""
        if self.figures is not None and figures.as_of <= self.figures.as_of:
            return False
        settled = tuple(
            order_id
            for order_id, e in self.exposure.items()
            if e.confirmed_at is not None and e.confirmed_at <= figures.as_of
        )
        self._figures_changed(figures=figures, settled=settled)
        return True

    class FiguresChanged(Aggregate.Event):
        figures: CreditFigures
        settled: tuple[UUID, ...]

    @event(FiguresChanged)
    def _figures_changed(self, figures: CreditFigures, settled: tuple[UUID, ...]) -> None:
        self.figures = figures
        for order_id in settled:
            self.exposure.pop(order_id, None)

    def confirmed_by_erp(self, order_id: UUID, at: datetime) -> None:
        """The ERP confirmed a released order at ``at`` (its clock): figures taken at or after that include it — the
        next ones, or the last ones already (they and the confirmation travel on different topics, in either order)."""
        e = self.exposure.get(order_id)
        if e is not None and e.confirmed_at is None:
            self._confirmed(order_id=order_id, at=at)

    class Confirmed(Aggregate.Event):
        order_id: UUID
        at: datetime

    @event(Confirmed)
    def _confirmed(self, order_id: UUID, at: datetime) -> None:
        if self.figures is not None and at <= self.figures.as_of:
            self.exposure.pop(order_id, None)
        else:
            self.exposure[order_id] = Exposure(self.exposure[order_id].amount, at)

    def rejected_by_erp(self, order_id: UUID) -> None:
        if order_id in self.exposure:
            self._dropped(order_id=order_id)

    class Dropped(Aggregate.Event):
        order_id: UUID

    @event(Dropped)
    def _dropped(self, order_id: UUID) -> None:
        self.exposure.pop(order_id, None)

    # ---- judging and queueing ----------------------------------------------------------------------------------

    @property
    def known(self) -> bool:
        return self.figures is not None

    def stand(self) -> CreditStand:
        f = self.figures
        assert f is not None
        unconfirmed = sum((e.amount for e in self.exposure.values()), Decimal("0"))
        available = f.credit_limit - f.open_receivables - f.open_orders - unconfirmed
        return CreditStand(f, unconfirmed, available)

    def judge(
        self, amount: Decimal, currency: str, submitted_at: datetime, order_id: UUID | None = None
    ) -> HoldReason | None:
        """Why an order of ``amount`` submitted at ``submitted_at`` must wait for credit now; None: it may go on. An
        order waits behind every older waiting one (``order_id``: itself, when it waits already)."""
        f = self.figures
        if f is None:
            return None  # no figures ever received: no credit check
        if f.credit_blocked:
            return BLOCKED
        if currency != f.currency:
            return CURRENCY
        if any(w.order_id != order_id and w.submitted_at <= submitted_at for w in self.waiting):
            return QUEUED
        return OVER_LIMIT if amount > self.stand().available else None

    def take(self, order_id: UUID, amount: Decimal) -> None:
        """The order goes to the ERP: it counts until the ERP's figures include it."""
        if order_id not in self.exposure:
            self._taken(order_id=order_id, amount=amount)

    class Taken(Aggregate.Event):
        order_id: UUID
        amount: Decimal

    @event(Taken)
    def _taken(self, order_id: UUID, amount: Decimal) -> None:
        self.exposure[order_id] = Exposure(amount)
        self.waiting = [w for w in self.waiting if w.order_id != order_id]

    def hold(self, order_id: UUID, amount: Decimal, currency: str, submitted_at: datetime) -> None:
        if all(w.order_id != order_id for w in self.waiting):
            self._held(order_id=order_id, amount=amount, currency=currency, submitted_at=submitted_at)

    class Held(Aggregate.Event):
        order_id: UUID
        amount: Decimal
        currency: str
        submitted_at: datetime

    @event(Held)
    def _held(self, order_id: UUID, amount: Decimal, currency: str, submitted_at: datetime) -> None:
        self.waiting.append(Waiting(order_id, amount, currency, submitted_at))
        self.waiting.sort(key=lambda w: w.submitted_at)

    def withdraw(self, order_id: UUID) -> None:
        """A waiting order was cancelled: it leaves the queue."""
        if any(w.order_id == order_id for w in self.waiting):
            self._withdrawn(order_id=order_id)

    class Withdrawn(Aggregate.Event):
        order_id: UUID

    @event(Withdrawn)
    def _withdrawn(self, order_id: UUID) -> None:
        self.waiting = [w for w in self.waiting if w.order_id != order_id]

    def next_to_go(self) -> list[Waiting]:
        """The waiting orders that may go on now, oldest first: up to the first one that still does not fit (it keeps
        the ones after it waiting). Taking them is the caller's (:meth:`take`, saved with each order's release)."""
        f = self.figures
        if f is None:
            return list(self.waiting)  # (figures are never unknown again once known; kept total for safety)
        if f.credit_blocked:
            return []
        out, available = [], self.stand().available
        for w in self.waiting:
            if w.currency != f.currency or w.amount > available:
                break
            out.append(w)
            available -= w.amount
        return out
