"""``approval.orders.v1``: the life of an order (approval case). Key: order id."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contracts.base import Message, Money
from contracts.common import Address, LongText, OrderLine, ShortText


class OrderChange(BaseModel):
    """One modification an approver made, e.g. ``line:A-100:quantity`` from ``12`` to ``9``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    field: str
    before: str | None = None
    after: str | None = None


class OrderReleased(Message):
    """An order is released to the ERP: within the buyer's budget, or approved.

    Carries everything the ERP needs to create the sales order. Published once per order.
    """

    event_type = "OrderReleased"
    personal = (("buyer_comment", "buyer_id"),)

    order_id: UUID
    company_id: UUID
    buyer_id: UUID
    lines: list[OrderLine] = Field(min_length=1)
    total: Money
    total_quantity: int
    delivery_address: Address
    billing_address: Address
    payment_method: ShortText
    shipping_method: ShortText
    buyer_comment: LongText | None = None
    reference: ShortText | None = Field(default=None, description="The customer's order reference or cost centre")
    approved_by: UUID | None = Field(default=None, description="Null when released within budget")
    released_at: datetime
    modifications: list[OrderChange] = Field(
        default_factory=list, description="What the approver changed before approving (empty: nothing)"
    )
    bundled_orders: list[UUID] = Field(
        default_factory=list,
        description="A bundle (ADR 0034): the orders approved together and sent as this one sales order — "
        "`order_id` is then the bundle's id, `buyer_id` and `approved_by` the approver who bundled them, and every "
        "line names its order in `origin`. Empty for a single order.",
    )


class ExceededLimit(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    limit: str = Field(
        description="max_quantity or max_value (per order); period_value or period_quantity (per period)"
    )
    allowed: Decimal = Field(description="Per order: the limit. Per period: what was left of the period budget")
    actual: Decimal
    currency: str | None = None
    reason: str = Field(default="over_limit", description="over_limit, currency_mismatch or period_budget")
    period: str | None = Field(default=None, description="Per period: the period, e.g. month:2026-12")
    budget: Decimal | None = Field(default=None, description="Per period: the period budget")
    reserved: Decimal | None = Field(default=None, description="Per period: reserved by open orders then")
    consumed: Decimal | None = Field(default=None, description="Per period: confirmed by the ERP then")


class OrderApprovalRequested(Message):
    """An order over the buyer's budget waits for one of ``approver_ids`` (empty: nobody can decide yet)."""

    event_type = "OrderApprovalRequested"

    order_id: UUID
    company_id: UUID
    buyer_id: UUID
    approver_ids: list[UUID]
    exceeded_limits: list[ExceededLimit]
    total: Money
    total_quantity: int
    reference: ShortText | None = None
    round: int = 1
    requested_at: datetime
    version: int | None = Field(
        default=None,
        description="The order's version this request was made at: the one-click links of the mail hold while the "
        "order is as it was then (ADR 0031); absent in messages from before",
    )


class OrderApproversReassigned(Message):
    """A pending order's approvers changed (one left, or the company named others)."""

    event_type = "OrderApproversReassigned"

    order_id: UUID
    company_id: UUID
    buyer_id: UUID
    approver_ids: list[UUID]
    reassigned_at: datetime


class OrderReEvaluated(Message):
    """The main contact (or who manages budgets) had a pending order judged again on today's budgets and its verdict
    changed (ADR 0024): ``released`` (an ``OrderReleased`` follows, as for any release) or ``updated`` (still pending
    with ``exceeded_limits``; an ``OrderApproversReassigned`` follows when its approvers changed)."""

    event_type = "OrderReEvaluated"

    order_id: UUID
    company_id: UUID
    buyer_id: UUID
    requested_by: UUID = Field(description="Who asked for the re-evaluation")
    outcome: Literal["released", "updated"]
    exceeded_limits: list[ExceededLimit] = Field(default_factory=list, description="Empty when released")
    total: Money
    re_evaluated_at: datetime


class OrderOfferedToSubstitute(Message):
    """A pending order is offered to ``substitute_id``, who substitutes ``on_behalf_of`` (an approver of the order,
    absent) until ``until``: while that absence is in force, the substitute may decide the order on the approver's
    behalf. Sent when the order is routed during the absence, or waits when the absence is recorded."""

    event_type = "OrderOfferedToSubstitute"

    order_id: UUID
    company_id: UUID
    buyer_id: UUID
    substitute_id: UUID
    on_behalf_of: UUID
    until: datetime = Field(description="The end of the absence as recorded (it may be withdrawn earlier)")
    exceeded_limits: list[ExceededLimit]
    total: Money
    total_quantity: int
    reference: ShortText | None = None
    round: int = 1
    offered_at: datetime
    version: int | None = Field(
        default=None,
        description="The order's version this request was made at: the one-click links of the mail hold while the "
        "order is as it was then (ADR 0031); absent in messages from before",
    )


class OrderApproved(Message):
    """An approver approved the order (its release follows as OrderReleased)."""

    event_type = "OrderApproved"
    personal = (("comment", "approver_id"),)

    order_id: UUID
    company_id: UUID
    buyer_id: UUID
    approver_id: UUID
    on_behalf_of: UUID | None = Field(
        default=None, description="When a substitute approved: the absent approver they approved for"
    )
    comment: LongText | None = None
    modifications: list[OrderChange] = Field(default_factory=list)
    total: Money
    approved_at: datetime
    bundle_id: UUID | None = Field(
        default=None,
        description="Approved together with other orders of the company into this bundle, which goes to the ERP as "
        "one sales order (ADR 0034); null: on its own",
    )


class OrderRejected(Message):
    event_type = "OrderRejected"
    personal = (("comment", "approver_id"),)

    order_id: UUID
    company_id: UUID
    buyer_id: UUID
    approver_id: UUID
    on_behalf_of: UUID | None = Field(
        default=None, description="When a substitute rejected: the absent approver they rejected for"
    )
    comment: LongText
    total: Money
    rejected_at: datetime


class CreditFigures(BaseModel):
    """The company's credit as approval judged an order on it (ADR 0026): the ERP's figures and what approval counts
    on top. For the main contact; the buyer is told the reason only."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    currency: str
    credit_limit: Decimal
    open_receivables: Decimal
    open_orders: Decimal = Field(description="The ERP's sales orders not invoiced yet")
    released_unconfirmed: Decimal = Field(
        description="Orders released to the ERP that its figures did not include yet (approval counts them)"
    )
    available: Decimal = Field(description="limit - receivables - open orders - released, unconfirmed orders")
    credit_blocked: bool = False
    as_of: datetime = Field(description="When the ERP took its figures")


class OrderCreditHeld(Message):
    """An order that would have gone to the ERP (within budget, or approved) waits for the company's credit
    (ADR 0026): ``credit_blocked`` (the ERP blocked the customer), ``credit_limit`` (it does not fit into the
    available credit) or ``credit_queue`` (older orders of the company wait for credit first). It goes on by
    itself — ``OrderReleased`` — when the ERP's figures allow it, oldest first; the main contact may cancel it."""

    event_type = "OrderCreditHeld"

    order_id: UUID
    company_id: UUID
    buyer_id: UUID
    main_contact_id: UUID | None = Field(default=None, description="Told with the figures (null: none known)")
    approved_by: UUID | None = Field(default=None, description="Null when it was within budget")
    reason: Literal["credit_blocked", "credit_limit", "credit_queue", "credit_currency"]
    total: Money
    figures: CreditFigures
    held_at: datetime


class OrderCancelled(Message):
    event_type = "OrderCancelled"

    order_id: UUID
    company_id: UUID
    buyer_id: UUID
    comment: LongText | None = None
    cancelled_at: datetime


class OrderApprovalReminded(Message):
    """The company's reminder deadline passed (ADR 0033): ``approver_ids`` are reminded of a pending order that has
    waited since ``waiting_since``. Sent once per wait."""

    event_type = "OrderApprovalReminded"

    order_id: UUID
    company_id: UUID
    buyer_id: UUID
    approver_ids: list[UUID]
    exceeded_limits: list[ExceededLimit]
    total: Money
    total_quantity: int
    reference: ShortText | None = None
    round: int = 1
    waiting_since: datetime
    reminded_at: datetime
    version: int = Field(description="The order's version at the reminder: its one-click links hold while it stays so")


class OrderExpired(Message):
    """Nobody decided the order before the company's expiry deadline (ADR 0033): it is ``expired`` now; its buyer may
    send it again (``POST /api/orders/{id}/resubmit``) or cancel it. An escalation on a deadline sends
    ``OrderApprovalRequested`` to the approvers it adds."""

    event_type = "OrderExpired"

    order_id: UUID
    company_id: UUID
    buyer_id: UUID
    total: Money
    waiting_since: datetime
    expired_at: datetime
