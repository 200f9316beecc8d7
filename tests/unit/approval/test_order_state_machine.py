"""Property-based: no sequence of commands brings an order into an inconsistent state."""

from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from approval.domain.budget import Budget, evaluate
from approval.domain.model import (
    InvalidOrder,
    NotAllowed,
    Order,
    OrderError,
    OrderLine,
    OrderStatus,
    SelfApproval,
    WrongState,
)
from approval.domain.routing import route
from tests.unit.approval.test_order import content

NOW = datetime(2026, 11, 26, tzinfo=UTC)
BUYER, APPROVER, OTHER, MAIN = uuid4(), uuid4(), uuid4(), uuid4()
BUDGET = Budget(max_quantity=10, max_value=Decimal("100.00"), currency="EUR")


def submit(quantity: int) -> Order:
    c = content(OrderLine("A", "a", quantity, Decimal("5.00")))
    order = Order(company_id=uuid4(), buyer_id=BUYER, content=c, budget=BUDGET, submitted_at=NOW)
    exceeded = evaluate(c, BUDGET)
    if exceeded:
        order.hold_for_approval(exceeded, route(BUYER, [APPROVER, BUYER], MAIN), NOW)
    else:
        order.release(NOW)
    return order


class OrderLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.order = submit(12)
        self.releases = 0

    def _try(self, fn, *args, **kwargs) -> None:
        before = (self.order.status, self.order.version)
        try:
            fn(*args, **kwargs)
        except OrderError:
            # A refused command changes nothing.
            assert (self.order.status, self.order.version) == before

    @rule(who=st.sampled_from([BUYER, APPROVER, OTHER, MAIN]), modify=st.booleans())
    def approve(self, who, modify):
        modified = content(OrderLine("A", "a", 9, Decimal("5.00"))) if modify else None
        was_pending = self.order.status is OrderStatus.PENDING_APPROVAL
        self._try(self.order.approve, who, NOW, "ok", modified)
        if was_pending and self.order.status is OrderStatus.RELEASED:
            assert who in (APPROVER, MAIN) and who != BUYER
            self.releases += 1

    @rule(who=st.sampled_from([BUYER, APPROVER, OTHER]), text=st.sampled_from(["", "zu teuer"]))
    def reject(self, who, text):
        self._try(self.order.reject, who, text, NOW)

    @rule(who=st.sampled_from([BUYER, OTHER]), quantity=st.integers(1, 30))
    def resubmit(self, who, quantity):
        c = content(OrderLine("A", "a", quantity, Decimal("5.00")))
        before = self.order.status
        self._try(self.order.resubmit, who, "weniger", c, BUDGET, NOW)
        if before is OrderStatus.REJECTED and self.order.status is OrderStatus.PENDING_APPROVAL:
            exceeded = evaluate(c, BUDGET)
            if exceeded:
                self.order.hold_for_approval(exceeded, route(BUYER, [APPROVER], MAIN), NOW)
            else:
                self.order.release(NOW)
                self.releases += 1

    @rule(who=st.sampled_from([BUYER, APPROVER]))
    def cancel(self, who):
        self._try(self.order.cancel, who, NOW)

    @rule(outcome=st.sampled_from(["transmitted", "confirmed", "erp_rejected"]))
    def erp_says(self, outcome):
        before = self.order.status
        if outcome == "transmitted":
            self.order.mark_transmitted(NOW)
        elif outcome == "confirmed":
            self.order.confirm_by_erp("SO-1", NOW)
        else:
            self.order.reject_by_erp("credit limit", NOW)
        if before not in (OrderStatus.RELEASED, OrderStatus.TRANSMITTED):
            assert self.order.status is before  # the ERP only speaks of orders it was given

    @rule(text=st.sampled_from(["", "Frage"]))
    def comment(self, text):
        self._try(self.order.add_comment, OTHER, text, NOW)

    @invariant()
    def released_at_most_once_and_only_with_a_release_time(self):
        assert self.releases <= 1
        after_release = (OrderStatus.RELEASED, OrderStatus.TRANSMITTED, OrderStatus.CONFIRMED, OrderStatus.ERP_REJECTED)
        assert (self.order.status in after_release) == (self.order.released_at is not None)
        assert (self.order.status is OrderStatus.CONFIRMED) == (self.order.erp_order_number is not None)

    @invariant()
    def a_pending_order_has_approvers_and_a_reason(self):
        if self.order.status is OrderStatus.PENDING_APPROVAL:
            assert self.order.approvers and self.order.exceeded
            assert BUYER not in self.order.approvers

    @invariant()
    def the_decider_is_never_the_buyer(self):
        assert self.order.decided_by != BUYER
        assert self.order.approved_by in (None, APPROVER, MAIN)

    @invariant()
    def totals_follow_the_lines(self):
        c = self.order.content
        assert c.total_value == sum(line.quantity * line.unit_price for line in c.lines)


TestOrderLifecycle = OrderLifecycle.TestCase
TestOrderLifecycle.settings = settings(max_examples=150, stateful_step_count=25, deadline=None)


def test_within_budget_is_released_at_once():
    assert submit(2).status is OrderStatus.RELEASED


def test_over_budget_is_held_for_the_approvers_with_the_exceeded_limits():
    order = submit(30)
    assert order.status is OrderStatus.PENDING_APPROVAL
    assert {e.limit for e in order.exceeded} == {"max_quantity", "max_value"}
    assert order.approvers == (APPROVER,)


def test_an_approver_may_modify_then_approve_and_the_changes_stay_visible():
    order = submit(30)
    order.approve(APPROVER, NOW, "nur 9", content(OrderLine("A", "a", 9, Decimal("5.00"))))
    assert order.status is OrderStatus.RELEASED
    assert [c.field for c in order.modifications] == ["line:A:quantity"]
    released = [e for e in order.collect_events() if isinstance(e, Order.Released)]
    assert released[0].content.total_quantity == 9


def test_the_buyer_cannot_approve_their_own_order():
    order = submit(30)
    with pytest.raises(SelfApproval):
        order.approve(BUYER, NOW)


def test_someone_not_routed_cannot_decide():
    with pytest.raises(NotAllowed):
        submit(30).reject(OTHER, "nein", NOW)


def test_a_rejection_needs_a_comment():
    with pytest.raises(InvalidOrder):
        submit(30).reject(APPROVER, "  ", NOW)


def test_only_a_rejected_order_can_be_resubmitted():
    with pytest.raises(WrongState):
        submit(30).resubmit(BUYER, "bitte", content(), BUDGET, NOW)


def test_a_rejected_order_comes_back_with_the_conversation_and_a_new_round():
    order = submit(30)
    order.reject(APPROVER, "zu viel", NOW)
    order.resubmit(BUYER, "weniger", content(OrderLine("A", "a", 5, Decimal("5.00"))), BUDGET, NOW)
    assert order.round == 2
    assert [c.kind for c in order.conversation] == ["rejection", "resubmission"]


def test_the_status_names_the_api_shows_are_the_order_statuses():
    from typing import get_args

    from approval.domain.model import OrderStatus, StatusName

    assert sorted(get_args(StatusName)) == sorted(s.value for s in OrderStatus)
