"""The Order aggregate: one approval case, from submission to release.

Budget evaluation, routing and decisions are added by the approval issue; this module holds the order's
content (value objects) and the commands that exist so far.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event


class OrderError(Exception):
    code = "order_error"


class InvalidOrder(OrderError):
    code = "invalid_order"


class OrderNotFound(OrderError):
    code = "not_found"


class VersionMismatch(OrderError):
    code = "version_mismatch"


@dataclass(frozen=True)
class Address:
    name: str
    street: str
    postal_code: str
    city: str
    country: str
    additional: str | None = None


@dataclass(frozen=True)
class OrderLine:
    sku: str
    description: str
    quantity: int
    unit_price: Decimal

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class OrderContent:
    """Everything the buyer ordered. Totals are always computed from the lines, never taken from outside."""

    lines: tuple[OrderLine, ...]
    currency: str
    delivery_address: Address
    billing_address: Address
    payment_method: str
    shipping_method: str
    buyer_comment: str | None = None
    reference: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "lines", tuple(self.lines))
        self.check()

    def check(self) -> None:
        if not self.lines:
            raise InvalidOrder("An order needs at least one line.")
        for line in self.lines:
            if line.quantity <= 0:
                raise InvalidOrder(f"Line {line.sku}: the quantity must be positive.")
            if line.unit_price < 0:
                raise InvalidOrder(f"Line {line.sku}: the unit price must not be negative.")

    @property
    def total_value(self) -> Decimal:
        return sum((line.line_total for line in self.lines), Decimal("0"))

    @property
    def total_quantity(self) -> int:
        return sum(line.quantity for line in self.lines)


@dataclass(frozen=True)
class Comment:
    author_id: UUID
    text: str
    at: datetime


class OrderStatus(StrEnum):
    PENDING_APPROVAL = "pending_approval"
    RELEASED = "released"


class Order(Aggregate):
    @event("Submitted")
    def __init__(self, company_id: UUID, buyer_id: UUID, content: OrderContent, submitted_at: datetime) -> None:
        self.company_id = company_id
        self.buyer_id = buyer_id
        self.content = content
        self.submitted_at = submitted_at
        self.status = OrderStatus.PENDING_APPROVAL
        self.comments: list[Comment] = []
        self.released_at: datetime | None = None
        self.approved_by: UUID | None = None

    def release(self, at: datetime, approved_by: UUID | None = None) -> None:
        """Send the order to the ERP. The event pins the content released, whatever happens later."""
        if self.status == OrderStatus.RELEASED:
            return
        self._released(
            company_id=self.company_id,
            buyer_id=self.buyer_id,
            content=self.content,
            released_at=at,
            approved_by=approved_by,
        )

    @event("Released")
    def _released(
        self,
        company_id: UUID,
        buyer_id: UUID,
        content: OrderContent,
        released_at: datetime,
        approved_by: UUID | None,
    ) -> None:
        self.status = OrderStatus.RELEASED
        self.released_at = released_at
        self.approved_by = approved_by

    def add_comment(self, author_id: UUID, text: str, at: datetime) -> None:
        text = text.strip()
        if not text:
            raise InvalidOrder("A comment must not be empty.")
        self._commented(comment=Comment(author_id=author_id, text=text, at=at))

    @event("Commented")
    def _commented(self, comment: Comment) -> None:
        self.comments.append(comment)
