"""Bundles: several approved orders of a company sent to the ERP as one sales order (issue 17 item 6; ADR 0034).

"Kundeninterne Bündelung von Bestellungen": an approver takes orders waiting for them, all to the same delivery
address in the same currency, approves them together and sends them to the ERP as one order. Each member order is
approved exactly as by a single approval and keeps its own life (its budget, its buyer's view, its mails); only its
way to the ERP differs: its release names the bundle, and the bundle — not the member — is what goes to the ERP.
The ERP's answer to the bundle is every member's answer.

An ERP sales order has one delivery address, one billing address, one payment and one shipping method and one
currency, so the members must agree on all of them (:func:`check_bundle`). A line of the bundle names the member
order and the member's line it came from, so the ERP (and anyone reading its sales order) can trace it back.

Nothing here reads clocks: callers pass the time in (events are replayed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from approval.domain.model import Address, InvalidOrder, OrderContent, OrderError

BUNDLE_MIN = 2
BUNDLE_MAX = 50


class BundleMismatch(OrderError):
    """The orders cannot go to the ERP as one: they differ in what a sales order has only once."""

    code = "bundle_mismatch"

    def __init__(self, message: str, order_id: UUID, field: str) -> None:
        super().__init__(message)
        self.order_id = order_id
        self.field = field

    def own_details(self) -> list[Any]:
        return [{"order_id": str(self.order_id), "field": self.field}]


class BundleRefused(OrderError):
    """A member cannot be bundled as it stands (it would climb to a higher tier, or wait for the company's credit):
    nothing of the bundle is stored; the order can still be decided on its own."""

    code = "bundle_refused"

    def __init__(self, message: str, order_id: UUID, reason: str) -> None:
        super().__init__(message)
        self.order_id = order_id
        self.reason = reason

    def own_details(self) -> list[Any]:
        return [{"order_id": str(self.order_id), "reason": self.reason}]


@dataclass(frozen=True)
class BundleLine:
    """One line of the bundle: a member's line as released, and where it came from."""

    order_id: UUID
    line_no: int
    """1-based position of the line in its order"""
    buyer_id: UUID
    sku: str
    description: str
    quantity: int
    unit_price: Decimal
    unit: str = "piece"

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class BundleMember:
    order_id: UUID
    buyer_id: UUID
    reference: str | None
    total: Decimal


# what a sales order has only once: the members must agree on each (the field names are those of OrderContent)
SHARED_FIELDS = ("currency", "delivery_address", "billing_address", "payment_method", "shipping_method")


def check_bundle_size(order_ids: Sequence[UUID]) -> None:
    """Before anything is read: :data:`BUNDLE_MIN` to :data:`BUNDLE_MAX` orders, each named once."""
    if not BUNDLE_MIN <= len(order_ids) <= BUNDLE_MAX:
        raise InvalidOrder(f"A bundle takes {BUNDLE_MIN} to {BUNDLE_MAX} orders.")
    if len(set(order_ids)) != len(order_ids):
        raise InvalidOrder("Each order may be named once.")


def check_bundle(members: list[tuple[UUID, OrderContent]]) -> None:
    """``members``: (order id, content as it will be released), in the bundle's order (sized by
    :func:`check_bundle_size`). Raises :class:`BundleMismatch` for the first member that differs from the first in a
    shared field."""
    first = members[0][1]
    for order_id, content in members[1:]:
        for name in SHARED_FIELDS:
            if getattr(content, name) != getattr(first, name):
                raise BundleMismatch(
                    f"Order {order_id} differs from the first in its {name.replace('_', ' ')}: one sales order "
                    "has one of each.",
                    order_id,
                    name,
                )


def bundle_lines(members: list[tuple[UUID, UUID, OrderContent]]) -> tuple[BundleLine, ...]:
    """``members``: (order id, buyer id, content as released)."""
    return tuple(
        BundleLine(order_id, n, buyer_id, ln.sku, ln.description, ln.quantity, ln.unit_price, ln.unit)
        for order_id, buyer_id, content in members
        for n, ln in enumerate(content.lines, start=1)
    )


class OrderBundle(Aggregate):
    """Status: ``released`` (on its way to the ERP), ``transmitted``, ``confirmed`` or ``erp_rejected``."""

    class Released(Aggregate.Created):
        company_id: UUID
        bundled_by: UUID
        members: tuple[BundleMember, ...]
        lines: tuple[BundleLine, ...]
        currency: str
        delivery_address: Address
        billing_address: Address
        payment_method: str
        shipping_method: str
        comment: str | None
        released_at: datetime

    @event(Released)
    def __init__(
        self,
        company_id: UUID,
        bundled_by: UUID,
        members: tuple[BundleMember, ...],
        lines: tuple[BundleLine, ...],
        currency: str,
        delivery_address: Address,
        billing_address: Address,
        payment_method: str,
        shipping_method: str,
        comment: str | None,
        released_at: datetime,
    ) -> None:
        self.company_id = company_id
        self.bundled_by = bundled_by
        self.members = tuple(members)
        self.lines = tuple(lines)
        self.currency = currency
        self.delivery_address = delivery_address
        self.billing_address = billing_address
        self.payment_method = payment_method
        self.shipping_method = shipping_method
        self.comment = comment
        self.released_at = released_at
        self.status = "released"
        self.erp_order_number: str | None = None
        self.erp_rejection_reason: str | None = None

    @classmethod
    def open(cls, bundle_id: UUID, **fields: Any) -> OrderBundle:
        """A new bundle under an id chosen first (its members' releases name it, in the same transaction)."""
        return cls._create(cls.Released, id=bundle_id, **fields)

    @property
    def order_ids(self) -> tuple[UUID, ...]:
        return tuple(m.order_id for m in self.members)

    # ---- the ERP's word (repeats and late arrivals change nothing, as for an order) -----------------------------

    def mark_transmitted(self, at: datetime) -> None:
        if self.status == "released":
            self._transmitted(at=at)

    class Transmitted(Aggregate.Event):
        at: datetime

    @event(Transmitted)
    def _transmitted(self, at: datetime) -> None:
        self.status = "transmitted"

    def confirm_by_erp(self, erp_order_number: str, at: datetime) -> None:
        if self.status in ("released", "transmitted"):
            self._confirmed_by_erp(erp_order_number=erp_order_number, at=at)

    class ConfirmedByErp(Aggregate.Event):
        erp_order_number: str
        at: datetime

    @event(ConfirmedByErp)
    def _confirmed_by_erp(self, erp_order_number: str, at: datetime) -> None:
        self.status = "confirmed"
        self.erp_order_number = erp_order_number

    def reject_by_erp(self, reason: str, at: datetime) -> None:
        if self.status in ("released", "transmitted"):
            self._rejected_by_erp(reason=reason, at=at)

    class RejectedByErp(Aggregate.Event):
        reason: str
        at: datetime

    @event(RejectedByErp)
    def _rejected_by_erp(self, reason: str, at: datetime) -> None:
        self.status = "erp_rejected"
        self.erp_rejection_reason = reason
