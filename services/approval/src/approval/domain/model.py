"""The Order aggregate: one approval case, from submission to release (or rejection, or cancellation).

Budget evaluation (:mod:`approval.domain.budget`) and routing (:mod:`approval.domain.routing`) are pure
policies; the aggregate records their outcomes. Every round (submission, resubmission) stays one case with
one history. Nothing here reads clocks or ids: callers pass them in (events are replayed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from eventsourcing.domain import Aggregate, event

from approval.domain.budget import UNLIMITED, Budget, LimitExceeded
from approval.domain.credit import CreditHold
from approval.domain.ledger import Figures


class OrderError(Exception):
    code = "order_error"
    about_order: UUID | None = None
    """Set by a use case acting on several orders at once (a bundle, ADR 0034): the order the error is about, named
    first in :attr:`details`"""

    @property
    def details(self) -> list[Any] | None:
        """What the error body's ``details`` say (None: nothing more than the message)."""
        own = self.own_details()
        if self.about_order is None:
            return own
        return [{"order_id": str(self.about_order)}, *(own or [])]

    def own_details(self) -> list[Any] | None:
        """The error's own details (subclasses)."""
        return None


class InvalidOrder(OrderError):
    code = "invalid_order"


class OrderNotFound(OrderError):
    code = "not_found"


class VersionMismatch(OrderError):
    code = "version_mismatch"


class NotAllowed(OrderError):
    """The caller may not do this to this order (a 403: the order itself is visible to them)."""

    code = "not_allowed"


class SelfApproval(NotAllowed):
    code = "self_approval"


class WrongState(OrderError):
    code = "wrong_state"


class AlreadyApproved(NotAllowed):
    """Four eyes on every tier (ADR 0025): whoever approved the order at a lower tier does not approve it again."""

    code = "already_approved"


class IdempotencyKeyReused(OrderError):
    """The buyer's Idempotency-Key already names an order with other lines (a 422: a retry must repeat the
    request it retries)."""

    code = "idempotency_key_reused"


_ORDER_IDS = uuid5(NAMESPACE_URL, "urn:kundencenter:approval:orders")


@dataclass(frozen=True)
class Address:
    """A delivery or billing address of the order: the customer company's shipping data, typed by the buyer at
    checkout (or changed by an approver). It is the company's, not the buyer's: it stays as it was when the buyer
    (or the approver) who typed it is erased (ADR 0035) — the order may still be approved, sent to the ERP and
    delivered there, and what was shipped where stays auditable, as at the ERP, which keeps its sales orders. A
    ``name`` line may name a person ("z. Hd. …"): it is kept with the rest, as approval cannot tell whose name it is
    (the buyer's, a colleague's, a receiving department's)."""

    name: str
    street: str
    postal_code: str
    city: str
    country: str
    additional: str | None = None


@dataclass(frozen=True)
class OrderLine:
    """One priced line. The price fields after ``unit_price`` record which of the ERP's prices was used (orders
    stored before approval priced lines itself have none of them)."""

    sku: str
    description: str
    quantity: int
    unit_price: Decimal
    unit: str = "piece"
    list_unit_price: Decimal | None = None
    """the article's price without a quantity break"""
    price_break: int | None = None
    """the minimum quantity of the break that gave ``unit_price``, if one did"""
    price_valid_from: datetime | None = None
    price_valid_to: datetime | None = None
    price_changed_at: datetime | None = None
    """when the ERP set the price used (identifies the price record)"""

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity


def check_articles(skus: list[str]) -> None:
    """An order names at least one article, each on one line only (as asked for, and as priced)."""
    if not skus:
        raise InvalidOrder("An order needs at least one line.")
    if len(set(skus)) != len(skus):
        raise InvalidOrder("Each article (sku) may appear on one line only.")


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
        check_articles([line.sku for line in self.lines])
        for line in self.lines:
            if line.quantity <= 0:
                raise InvalidOrder(f"Line {line.sku}: the quantity must be positive.")
            if line.unit_price < 0:
                raise InvalidOrder(f"Line {line.sku}: the unit price must not be negative.")

    @property
    def total_value(self) -> Decimal:
        return sum((line.line_total for line in self.lines), Decimal("0"))

    def same_request(self, other: OrderContent) -> bool:
        """The same order as the buyer asked for it (articles, quantities, addresses, methods, texts), whatever
        prices it was given: a retried submission is recognised even when it was priced again."""
        return _request(self) == _request(other)

    @property
    def total_quantity(self) -> int:
        return sum(line.quantity for line in self.lines)


def _request(c: OrderContent) -> tuple[object, ...]:
    lines = tuple((ln.sku, ln.quantity) for ln in c.lines)
    return (lines, c.delivery_address, c.billing_address, c.payment_method, c.shipping_method, c.buyer_comment,
            c.reference)  # fmt: skip


@dataclass(frozen=True)
class Change:
    """One visible modification an approver made: ``field`` is e.g. ``line:A-100:quantity``."""

    field: str
    before: str | None
    after: str | None


def changes_between(old: OrderContent, new: OrderContent) -> tuple[Change, ...]:
    out: list[Change] = []
    old_lines = {ln.sku: ln for ln in old.lines}
    new_lines = {ln.sku: ln for ln in new.lines}
    for sku, line in old_lines.items():
        if sku not in new_lines:
            out.append(Change(f"line:{sku}", f"{line.quantity} × {line.unit_price}", None))
        else:
            if new_lines[sku].quantity != line.quantity:
                out.append(Change(f"line:{sku}:quantity", str(line.quantity), str(new_lines[sku].quantity)))
            if new_lines[sku].unit_price != line.unit_price:
                out.append(Change(f"line:{sku}:unit_price", str(line.unit_price), str(new_lines[sku].unit_price)))
    for sku, line in new_lines.items():
        if sku not in old_lines:
            out.append(Change(f"line:{sku}", None, f"{line.quantity} × {line.unit_price}"))
    for name in ("delivery_address", "billing_address"):
        before, after = getattr(old, name), getattr(new, name)
        if before != after:
            out.append(Change(name, _address_text(before), _address_text(after)))
    for name in ("payment_method", "shipping_method", "reference"):
        if getattr(old, name) != getattr(new, name):
            out.append(Change(name, getattr(old, name), getattr(new, name)))
    return tuple(out)


def _address_text(a: Address) -> str:
    return ", ".join(x for x in (a.name, a.street, a.additional, f"{a.postal_code} {a.city}", a.country) if x)


@dataclass(frozen=True)
class Comment:
    author_id: UUID
    text: str
    at: datetime
    kind: str = "comment"
    """comment | submission | approval | rejection | resubmission | cancellation"""
    on_behalf_of: UUID | None = None
    """A decision's comment by a substitute: the absent approver they decided for"""


@dataclass(frozen=True)
class Offer:
    """The order offered to the substitute of an absent approver (ADR 0020), until the absence's end as recorded."""

    substitute_id: UUID
    on_behalf_of: UUID
    until: datetime


@dataclass(frozen=True)
class TierPosition:
    """Where an order held under a tiered approval policy waits (ADR 0025): ``tier`` (1-based; one above the policy's
    last tier: the main contact), the value up to which an approval here releases it (``limit`` in ``currency``; None:
    without limit), and the version of the company's policy it was judged on."""

    tier: int
    limit: Decimal | None
    currency: str | None
    policy_version: int


@dataclass(frozen=True)
class TierApproval:
    """An approval at a tier below the one that released the order: it lifted the order one tier up."""

    tier: int
    approver_id: UUID
    on_behalf_of: UUID | None
    at: datetime


class OrderStatus(StrEnum):
    PENDING_APPROVAL = "pending_approval"
    RELEASED = "released"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    TRANSMITTED = "transmitted"
    """erp-sync handed the released order to the ERP"""
    CONFIRMED = "confirmed"
    """the ERP created its sales order (``erp_order_number``)"""
    ERP_REJECTED = "erp_rejected"
    EXPIRED = "expired"
    """nobody decided it before the company's expiry deadline (ADR 0033); the buyer may send it again"""
    CREDIT_HOLD = "credit_hold"
    """released from approval, waiting for the company's credit at the ERP (ADR 0026)"""
    """the ERP refused the order (``erp_rejection_reason``)"""


StatusName = Literal[
    "pending_approval",
    "released",
    "rejected",
    "cancelled",
    "transmitted",
    "confirmed",
    "erp_rejected",
    "expired",
    "credit_hold",
]
"""An :class:`OrderStatus` by its value, as the API shows and filters it (a test keeps the two equal)."""


AT_THE_ERP = (OrderStatus.RELEASED, OrderStatus.TRANSMITTED)


class Order(Aggregate):
    @staticmethod
    def create_id(company_id: UUID, buyer_id: UUID, idempotency_key: str | None = None) -> UUID:
        """With the buyer's Idempotency-Key the id follows from it: the same submission sent again (a client
        retrying after a timeout) names the same order instead of making a second one."""
        if idempotency_key is None:
            return uuid4()
        return uuid5(_ORDER_IDS, f"{company_id}/{buyer_id}/{idempotency_key}")

    class Submitted(Aggregate.Created):
        company_id: UUID
        buyer_id: UUID
        content: OrderContent
        submitted_at: datetime
        budget: Budget | None = None
        idempotency_key: str | None = None
        ledger_id: UUID | None = None
        period_figures: Figures | None = None

    @event(Submitted)
    def __init__(
        self,
        company_id: UUID,
        buyer_id: UUID,
        content: OrderContent,
        submitted_at: datetime,
        budget: Budget | None = None,
        idempotency_key: str | None = None,
        ledger_id: UUID | None = None,
        period_figures: Figures | None = None,
    ) -> None:
        self.period_figures = period_figures
        """where the buyer's period budget stood when the order was last judged, apart from the order itself (None:
        no period budget, or judged before the figures were recorded)"""
        self.idempotency_key = idempotency_key
        self.ledger_id = ledger_id
        """the period budget's ledger of this round (:mod:`approval.domain.ledger`), if the buyer had a period budget"""
        self.submitted_content = content  # as first submitted (``content`` follows modifications, resubmissions)
        self.company_id = company_id
        self.buyer_id = buyer_id
        self.content = content
        # (orders submitted before budgets were pinned have no budget in their event: unlimited)
        self.budget = budget or UNLIMITED
        self.submitted_at = submitted_at
        self.judged_at = submitted_at
        """when the order was last judged on its budget: its submission, resubmission or re-evaluation"""
        self.judged_by: UUID | None = None
        """who asked for the last re-evaluation (None: judged when the buyer submitted)"""
        self.status = OrderStatus.PENDING_APPROVAL
        self.exceeded: tuple[LimitExceeded, ...] = ()
        self.approvers: tuple[UUID, ...] = ()
        self.round = 1
        self.conversation: list[Comment] = []
        if content.buyer_comment:
            self.conversation.append(Comment(buyer_id, content.buyer_comment, submitted_at, "submission"))
        self.modifications: list[Change] = []
        self.released_at: datetime | None = None
        self.approved_by: UUID | None = None
        self.decided_by: UUID | None = None
        self.decided_on_behalf_of: UUID | None = None
        """a substitute's decision: the absent approver they decided for"""
        self.offers: list[Offer] = []
        """this round's offers to substitutes (the right to decide comes from the absences in force, not from these)"""
        self.erp_order_number: str | None = None
        self.erp_rejection_reason: str | None = None
        self.bundle_id: UUID | None = None
        """released as part of this bundle (ADR 0034): the bundle went to the ERP, and its answer is this order's"""
        self.position: TierPosition | None = None
        """the tier the order waits at (None: routed by the company's approver list, ADR 0006)"""
        self.tier_approvals: list[TierApproval] = []
        """this round's approvals at the tiers below (ADR 0025)"""
        self.waiting_since: datetime | None = None
        """when the order began waiting at its current step: the company's deadlines count from here (ADR 0033)"""
        self.deadline_stage = 0
        """the last deadline step taken in this wait (approval.domain.deadlines: 1 reminded, 2 escalated)"""

    # ---- routing ----------------------------------------------------------------------------------------

    def hold_for_approval(
        self,
        exceeded: tuple[LimitExceeded, ...],
        approvers: tuple[UUID, ...],
        at: datetime,
        position: TierPosition | None = None,
    ) -> None:
        """Over budget: hold the order for its approvers (none available: held until the company names one);
        ``position``: the tier they decide at, under a tiered policy."""
        self._check_status(OrderStatus.PENDING_APPROVAL)
        if position is None:
            self._approval_requested(exceeded=tuple(exceeded), approvers=tuple(approvers), at=at)
        else:
            self._approval_requested(exceeded=tuple(exceeded), approvers=tuple(approvers), at=at, position=position)

    class ApprovalRequested(Aggregate.Event):
        exceeded: tuple[LimitExceeded, ...]
        approvers: tuple[UUID, ...]
        at: datetime
        position: TierPosition | None = None

    @event(ApprovalRequested)
    def _approval_requested(
        self,
        exceeded: tuple[LimitExceeded, ...],
        approvers: tuple[UUID, ...],
        at: datetime,
        position: TierPosition | None = None,
    ) -> None:
        self.exceeded = tuple(exceeded)
        self.approvers = tuple(approvers)
        self.position = position
        self.waiting_since = at
        self.deadline_stage = 0

    def reassign(
        self,
        approvers: tuple[UUID, ...],
        at: datetime,
        position: TierPosition | bool | None = False,
        restart: bool = True,
    ) -> None:
        """Route a pending order anew (an approver left, or the company named approvers). ``position`` (ADR 0025): the
        tier it waits at now (None: routed by the approver list; False: it stays at its tier); ``restart`` (a
        re-evaluation on another version of the approval policy): its approvals at lower tiers no longer count, else
        they do (its tier had nobody left to decide and was passed over)."""
        self._check_status(OrderStatus.PENDING_APPROVAL)
        if not isinstance(position, bool) and position != self.position:
            if restart:
                self._reassigned(approvers=tuple(approvers), at=at, position=position, policy_changed=True)
            else:
                self._reassigned(approvers=tuple(approvers), at=at, position=position, moved=True)
        elif tuple(approvers) != self.approvers:
            self._reassigned(approvers=tuple(approvers), at=at)

    class Reassigned(Aggregate.Event):
        approvers: tuple[UUID, ...]
        at: datetime
        position: TierPosition | None = None
        policy_changed: bool = False
        moved: bool = False

    @event(Reassigned)
    def _reassigned(
        self,
        approvers: tuple[UUID, ...],
        at: datetime,
        position: TierPosition | None = None,
        policy_changed: bool = False,
        moved: bool = False,
    ) -> None:
        self.approvers = tuple(approvers)
        if policy_changed or moved:
            self.position = position
        if policy_changed:
            self.tier_approvals = []

    def re_evaluate(
        self,
        by: UUID,
        at: datetime,
        budget: Budget,
        exceeded: tuple[LimitExceeded, ...],
        approvers: tuple[UUID, ...],
        ledger_id: UUID | None,
        period_figures: Figures | None = None,
        position: TierPosition | bool | None = False,
        restart: bool = True,
    ) -> None:
        """The main contact (or who manages budgets) asked for the pending order to be judged again on today's
        budget (ADR 0024). The event pins the new basis and names who asked; routed anew when the approvers
        changed, released to the ERP when nothing is exceeded any more (the same ``Released`` as any release)."""
        self._check_status(OrderStatus.PENDING_APPROVAL)
        self._re_evaluated(
            by=by, at=at, budget=budget, exceeded=tuple(exceeded), before=self.exceeded,
            previous_budget=self.budget, ledger_id=ledger_id, period_figures=period_figures,
        )  # fmt: skip
        if exceeded:
            self.reassign(tuple(approvers), at, position, restart)
        else:
            self.release(at)

    class ReEvaluated(Aggregate.Event):
        by: UUID
        at: datetime
        budget: Budget
        exceeded: tuple[LimitExceeded, ...]
        before: tuple[LimitExceeded, ...]
        previous_budget: Budget
        ledger_id: UUID | None = None
        period_figures: Figures | None = None

    @event(ReEvaluated)
    def _re_evaluated(
        self,
        by: UUID,
        at: datetime,
        budget: Budget,
        exceeded: tuple[LimitExceeded, ...],
        before: tuple[LimitExceeded, ...],
        previous_budget: Budget,
        ledger_id: UUID | None = None,
        period_figures: Figures | None = None,
    ) -> None:
        self.period_figures = period_figures
        self.budget = budget
        self.exceeded = tuple(exceeded)
        self.ledger_id = ledger_id
        self.judged_at = at
        self.judged_by = by

    def offer(self, substitute_id: UUID, on_behalf_of: UUID, until: datetime, at: datetime) -> bool:
        """Record that the order is offered to the substitute of an absent approver (for the timeline and the
        substitute's mail); once per round, substitute and absent approver. False: nothing to record."""
        if self.status is not OrderStatus.PENDING_APPROVAL or on_behalf_of not in self.approvers:
            return False
        if substitute_id in (self.buyer_id, *self.approvers):
            return False
        if any(o.substitute_id == substitute_id and o.on_behalf_of == on_behalf_of for o in self.offers):
            return False
        self._offered(substitute_id=substitute_id, on_behalf_of=on_behalf_of, until=until, at=at)
        return True

    class OfferedToSubstitute(Aggregate.Event):
        substitute_id: UUID
        on_behalf_of: UUID
        until: datetime
        at: datetime

    @event(OfferedToSubstitute)
    def _offered(self, substitute_id: UUID, on_behalf_of: UUID, until: datetime, at: datetime) -> None:
        self.offers.append(Offer(substitute_id, on_behalf_of, until))

    credit_gate: Callable[[Order], CreditHold | None] | None = None
    """Asked by :meth:`release` whether the company's credit lets the order go to the ERP now (ADR 0026); set by the
    application on every order it loads or creates (not state: nothing of it is stored)."""

    credit_hold: CreditHold | None = None
    """why the order waits for credit, and the credit it was judged on (status ``credit_hold``)"""
    credit_held_at: datetime | None = None

    def release(self, at: datetime, approved_by: UUID | None = None, bundle_id: UUID | None = None) -> None:
        """Send the order to the ERP — or, when the company's credit does not allow it now, hold it for credit (every
        way to the ERP passes here). The event pins the content released, whatever happens later. ``bundle_id``: it
        goes to the ERP as part of that bundle (ADR 0034), not as a sales order of its own."""
        self._check_status(OrderStatus.PENDING_APPROVAL)
        hold = self.credit_gate(self) if self.credit_gate is not None else None
        if hold is not None:
            self._credit_held(hold=hold, approved_by=approved_by, at=at)
            return
        self._released(
            company_id=self.company_id,
            buyer_id=self.buyer_id,
            content=self.content,
            released_at=at,
            approved_by=approved_by,
            modifications=tuple(self.modifications),
            bundle_id=bundle_id,
        )

    class CreditHeld(Aggregate.Event):
        hold: CreditHold
        approved_by: UUID | None
        at: datetime

    @event(CreditHeld)
    def _credit_held(self, hold: CreditHold, approved_by: UUID | None, at: datetime) -> None:
        self.status = OrderStatus.CREDIT_HOLD
        self.credit_hold = hold
        self.credit_held_at = at
        self.approved_by = approved_by

    def release_on_credit(self, at: datetime) -> None:
        """The ERP's figures allow the order waiting for credit now: it goes to the ERP as it was released."""
        self._check_status(OrderStatus.CREDIT_HOLD)
        self._released(
            company_id=self.company_id, buyer_id=self.buyer_id, content=self.content, released_at=at,
            approved_by=self.approved_by, modifications=tuple(self.modifications),
        )  # fmt: skip

    def cancel_credit_hold(self, by: UUID, at: datetime, comment: str | None = None) -> None:
        """The main contact (or the buyer) withdraws an order waiting for credit; who may is the application's."""
        self._check_status(OrderStatus.CREDIT_HOLD)
        self._cancelled(by=by, comment=(comment or "").strip() or None, at=at)

    class Released(Aggregate.Event):
        company_id: UUID
        buyer_id: UUID
        content: OrderContent
        released_at: datetime
        approved_by: UUID | None
        modifications: tuple[Change, ...] = ()
        bundle_id: UUID | None = None

    @event(Released)
    def _released(
        self,
        company_id: UUID,
        buyer_id: UUID,
        content: OrderContent,
        released_at: datetime,
        approved_by: UUID | None,
        modifications: tuple[Change, ...] = (),
        bundle_id: UUID | None = None,
    ) -> None:
        self.status = OrderStatus.RELEASED
        self.released_at = released_at
        self.approved_by = approved_by
        self.bundle_id = bundle_id

    # ---- after the release: the ERP's word -----------------------------------------------------------------

    def mark_transmitted(self, at: datetime) -> None:
        """erp-sync handed the order to the ERP (repeats and late arrivals change nothing)."""
        if self.status is OrderStatus.RELEASED:
            self._transmitted(at=at)

    class Transmitted(Aggregate.Event):
        at: datetime

    @event(Transmitted)
    def _transmitted(self, at: datetime) -> None:
        self.status = OrderStatus.TRANSMITTED

    def confirm_by_erp(self, erp_order_number: str, at: datetime) -> None:
        if self.status in AT_THE_ERP:
            self._confirmed_by_erp(erp_order_number=erp_order_number, at=at)

    class ConfirmedByErp(Aggregate.Event):
        erp_order_number: str
        at: datetime

    @event(ConfirmedByErp)
    def _confirmed_by_erp(self, erp_order_number: str, at: datetime) -> None:
        self.status = OrderStatus.CONFIRMED
        self.erp_order_number = erp_order_number

    def reject_by_erp(self, reason: str, at: datetime) -> None:
        if self.status in AT_THE_ERP:
            self._rejected_by_erp(reason=reason, at=at)

    class RejectedByErp(Aggregate.Event):
        reason: str
        at: datetime

    @event(RejectedByErp)
    def _rejected_by_erp(self, reason: str, at: datetime) -> None:
        self.status = OrderStatus.ERP_REJECTED
        self.erp_rejection_reason = reason

    # ---- decisions --------------------------------------------------------------------------------------

    def approve(
        self,
        approver_id: UUID,
        at: datetime,
        comment: str | None = None,
        modified: OrderContent | None = None,
        on_behalf_of: UUID | None = None,
        bundle_id: UUID | None = None,
    ) -> None:
        """``on_behalf_of``: a substitute decides for this absent approver of the order (the use case found the
        absence in force). ``bundle_id``: approved into that bundle (ADR 0034)."""
        self._check_decider(approver_id, on_behalf_of)
        if modified is not None:
            changes = changes_between(self.content, modified)
            if changes:
                self._modified(by=approver_id, content=modified, changes=changes, at=at)
        self._approved(
            approver_id=approver_id, comment=(comment or "").strip() or None, at=at, on_behalf_of=on_behalf_of,
            bundle_id=bundle_id,
        )  # fmt: skip
        self.release(at=at, approved_by=approver_id, bundle_id=bundle_id)

    def escalate(
        self,
        approver_id: UUID,
        at: datetime,
        next_approvers: tuple[UUID, ...],
        position: TierPosition,
        comment: str | None = None,
        modified: OrderContent | None = None,
        on_behalf_of: UUID | None = None,
    ) -> None:
        """Approved at a tier whose limit does not cover the order (ADR 0025): the approval is recorded and the order
        climbs to ``position``, where ``next_approvers`` decide."""
        self._check_decider(approver_id, on_behalf_of)
        if self.position is None:
            raise WrongState("The order is not routed by approval tiers.")
        if modified is not None:
            changes = changes_between(self.content, modified)
            if changes:
                self._modified(by=approver_id, content=modified, changes=changes, at=at)
        self._escalated(
            approver_id=approver_id, on_behalf_of=on_behalf_of, comment=(comment or "").strip() or None,
            from_tier=self.position.tier, position=position, approvers=tuple(next_approvers), at=at,
        )  # fmt: skip

    class Escalated(Aggregate.Event):
        approver_id: UUID
        on_behalf_of: UUID | None
        comment: str | None
        from_tier: int
        position: TierPosition
        approvers: tuple[UUID, ...]
        at: datetime

    @event(Escalated)
    def _escalated(
        self,
        approver_id: UUID,
        on_behalf_of: UUID | None,
        comment: str | None,
        from_tier: int,
        position: TierPosition,
        approvers: tuple[UUID, ...],
        at: datetime,
    ) -> None:
        self.tier_approvals.append(TierApproval(from_tier, approver_id, on_behalf_of, at))
        self.position = position
        self.approvers = tuple(approvers)
        self.waiting_since = at  # a new step: its deadlines count afresh
        self.deadline_stage = 0
        if comment:
            self.conversation.append(Comment(approver_id, comment, at, "tier_approval", on_behalf_of))

    class Modified(Aggregate.Event):
        by: UUID
        content: OrderContent
        changes: tuple[Change, ...]
        at: datetime

    @event(Modified)
    def _modified(self, by: UUID, content: OrderContent, changes: tuple[Change, ...], at: datetime) -> None:
        self.content = content
        self.modifications.extend(changes)

    class Approved(Aggregate.Event):
        approver_id: UUID
        comment: str | None
        at: datetime
        on_behalf_of: UUID | None = None
        bundle_id: UUID | None = None
        """approved into a bundle (ADR 0034)"""

    @event(Approved)
    def _approved(
        self,
        approver_id: UUID,
        comment: str | None,
        at: datetime,
        on_behalf_of: UUID | None = None,
        bundle_id: UUID | None = None,
    ) -> None:
        self.decided_by = approver_id
        self.decided_on_behalf_of = on_behalf_of
        if comment:
            self.conversation.append(Comment(approver_id, comment, at, "approval", on_behalf_of))

    def reject(self, approver_id: UUID, comment: str, at: datetime, on_behalf_of: UUID | None = None) -> None:
        self._check_decider(approver_id, on_behalf_of)
        comment = comment.strip()
        if not comment:
            raise InvalidOrder("A rejection needs a comment for the buyer.")
        self._rejected(approver_id=approver_id, comment=comment, at=at, on_behalf_of=on_behalf_of)

    class Rejected(Aggregate.Event):
        approver_id: UUID
        comment: str
        at: datetime
        on_behalf_of: UUID | None = None

    @event(Rejected)
    def _rejected(self, approver_id: UUID, comment: str, at: datetime, on_behalf_of: UUID | None = None) -> None:
        self.status = OrderStatus.REJECTED
        self.decided_by = approver_id
        self.decided_on_behalf_of = on_behalf_of
        self.conversation.append(Comment(approver_id, comment, at, "rejection", on_behalf_of))

    # ---- the buyer --------------------------------------------------------------------------------------

    def resubmit(
        self,
        buyer_id: UUID,
        comment: str,
        content: OrderContent,
        budget: Budget,
        at: datetime,
        ledger_id: UUID | None = None,
        period_figures: Figures | None = None,
    ) -> None:
        """After a rejection, the buyer sends the order back with a comment and adjusted lines."""
        if buyer_id != self.buyer_id:
            raise NotAllowed("Only the buyer can resubmit the order.")
        if self.status not in (OrderStatus.REJECTED, OrderStatus.EXPIRED):
            raise WrongState(f"The order is {self.status.value}, not rejected or expired.")
        comment = comment.strip()
        if not comment:
            raise InvalidOrder("A resubmission needs a comment for the approvers.")
        self._resubmitted(
            buyer_id=buyer_id,
            comment=comment,
            content=content,
            budget=budget,
            changes=changes_between(self.content, content),
            at=at,
            ledger_id=ledger_id,
            period_figures=period_figures,
        )

    class Resubmitted(Aggregate.Event):
        buyer_id: UUID
        comment: str
        content: OrderContent
        budget: Budget
        changes: tuple[Change, ...]
        at: datetime
        ledger_id: UUID | None = None
        period_figures: Figures | None = None

    @event(Resubmitted)
    def _resubmitted(
        self,
        buyer_id: UUID,
        comment: str,
        content: OrderContent,
        budget: Budget,
        changes: tuple[Change, ...],
        at: datetime,
        ledger_id: UUID | None = None,
        period_figures: Figures | None = None,
    ) -> None:
        self.period_figures = period_figures
        self.status = OrderStatus.PENDING_APPROVAL
        self.ledger_id = ledger_id
        self.content = content
        self.budget = budget
        self.judged_at = at
        self.judged_by = None
        self.round += 1
        self.decided_by = None
        self.decided_on_behalf_of = None
        self.exceeded = ()
        self.approvers = ()
        self.offers = []
        self.position = None
        self.tier_approvals = []
        self.conversation.append(Comment(buyer_id, comment, at, "resubmission"))

    def cancel(self, by: UUID, at: datetime, comment: str | None = None) -> None:
        if by != self.buyer_id:
            raise NotAllowed("Only the buyer can cancel the order.")
        if self.status not in (OrderStatus.PENDING_APPROVAL, OrderStatus.REJECTED, OrderStatus.EXPIRED):
            raise WrongState(f"The order is {self.status.value} and can no longer be cancelled.")
        self._cancelled(by=by, comment=(comment or "").strip() or None, at=at)

    class Cancelled(Aggregate.Event):
        by: UUID
        comment: str | None
        at: datetime

    @event(Cancelled)
    def _cancelled(self, by: UUID, comment: str | None, at: datetime) -> None:
        self.status = OrderStatus.CANCELLED
        if comment:
            self.conversation.append(Comment(by, comment, at, "cancellation"))

    # ---- deadlines (ADR 0033) -------------------------------------------------------------------------------

    def remind(self, at: datetime) -> None:
        """Its approvers are reminded: the first deadline of this wait."""
        self._check_deadline_step(1)
        self._reminded(reminded=self.approvers, at=at)

    class Reminded(Aggregate.Event):
        reminded: tuple[UUID, ...]
        """the approvers reminded (not ``approvers``: a reminder routes the order to nobody new)"""
        at: datetime

    @event(Reminded)
    def _reminded(self, reminded: tuple[UUID, ...], at: datetime) -> None:
        self.deadline_stage = 1

    def escalate_on_deadline(
        self, at: datetime, approvers: tuple[UUID, ...], position: TierPosition | None = None
    ) -> None:
        """Nobody decided in time: ``approvers`` decide now — the next tier's (``position``), or the approvers so far
        and the main contact. The wait goes on (its expiry counts from its start)."""
        self._check_deadline_step(2)
        self._escalated_on_deadline(
            before=self.approvers, approvers=tuple(approvers), at=at,
            from_tier=self.position.tier if self.position else None, position=position,
        )  # fmt: skip

    class EscalatedOnDeadline(Aggregate.Event):
        before: tuple[UUID, ...]
        approvers: tuple[UUID, ...]
        at: datetime
        from_tier: int | None = None
        position: TierPosition | None = None

    @event(EscalatedOnDeadline)
    def _escalated_on_deadline(
        self,
        before: tuple[UUID, ...],
        approvers: tuple[UUID, ...],
        at: datetime,
        from_tier: int | None = None,
        position: TierPosition | None = None,
    ) -> None:
        self.approvers = tuple(approvers)
        if position is not None:
            self.position = position
        self.deadline_stage = 2

    def expire(self, at: datetime, waited_s: int) -> None:
        """Nobody decided before the company's expiry deadline (``waited_s`` after the wait began)."""
        self._check_deadline_step(3)
        self._expired(at=at, waited_s=waited_s)

    class Expired(Aggregate.Event):
        at: datetime
        waited_s: int

    @event(Expired)
    def _expired(self, at: datetime, waited_s: int) -> None:
        self.status = OrderStatus.EXPIRED
        self.deadline_stage = 3

    def _check_deadline_step(self, step: int) -> None:
        self._check_status(OrderStatus.PENDING_APPROVAL)
        if self.deadline_stage >= step:
            raise WrongState("That deadline was taken already in this wait.")

    def add_comment(self, author_id: UUID, text: str, at: datetime) -> None:
        text = text.strip()
        if not text:
            raise InvalidOrder("A comment must not be empty.")
        self._commented(comment=Comment(author_id=author_id, text=text, at=at))

    class Commented(Aggregate.Event):
        comment: Comment

    @event(Commented)
    def _commented(self, comment: Comment) -> None:
        self.conversation.append(comment)

    # ---- invariants -------------------------------------------------------------------------------------

    def _check_status(self, expected: OrderStatus) -> None:
        if self.status is not expected:
            raise WrongState(f"The order is {self.status.value}, not {expected.value}.")

    def _check_decider(self, approver_id: UUID, on_behalf_of: UUID | None = None) -> None:
        self._check_status(OrderStatus.PENDING_APPROVAL)
        if approver_id == self.buyer_id:
            raise SelfApproval("Nobody decides their own order.")
        if any(a.approver_id == approver_id for a in self.tier_approvals):
            raise AlreadyApproved("You approved this order at a lower tier: someone else decides it now.")
        if on_behalf_of is None:
            if approver_id not in self.approvers:
                raise NotAllowed("You are not an approver of this order.")
        elif on_behalf_of not in self.approvers or on_behalf_of == approver_id:
            raise NotAllowed("You do not substitute an approver of this order.")
