"""Period budgets in approval's use cases on the in-memory store: a submission reserves, a decision, cancellation or
the ERP's word moves the reservation, and what does not fit goes to approval as ``period_budget`` (ADR 0017)."""

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from approval.adapters.inbound.kafka import consumer_specs
from approval.application.orders import Orders
from approval.domain.budget import Budget, PeriodBudget
from approval.domain.ledger import CONSUMED, RESERVED, BudgetLedger
from approval.domain.model import NotAllowed, OrderNotFound, OrderStatus
from kc_runtime.consumer import IdempotentConsumer
from kc_runtime.eventstore import WorkerPool
from tests.service.approval.test_erp_batches import (
    TRACKING,
    CountingOrders,
    FakeBatch,
    RecordingBroker,
    confirmed,
    record,
    rejected,
    transmitted,
)
from tests.service.approval.test_orders_application import order
from tests.support.approval import Company

MONTHLY = Budget(max_quantity=8, period=PeriodBudget("month", Decimal("100.00"), "EUR", 25))


def ledger_of(orders: Orders, order_id) -> BudgetLedger:
    o = orders.repository.get(order_id)
    return orders.repository.get(o.ledger_id)


def test_an_order_within_the_period_budget_is_released_and_reserves_its_amount(orders, company):
    buyer = company.member("buyer", ["place_orders"], MONTHLY)
    placed = orders.submit(buyer, order(6))  # 60.00
    assert placed.status is OrderStatus.RELEASED
    _, figures = orders.period_budget(buyer)
    assert (figures.reserved_value, figures.available_value, figures.reserved_quantity) == (
        Decimal("60.00"), Decimal("40.00"), 6,
    )  # fmt: skip


def test_an_order_over_what_is_left_goes_to_approval_with_the_reason_period_budget(orders, company):
    buyer = company.member("buyer", ["place_orders"], MONTHLY)
    orders.submit(buyer, order(6))
    held = orders.submit(buyer, order(5))  # 50.00 > 40.00 left
    assert held.status is OrderStatus.PENDING_APPROVAL
    (over,) = held.exceeded
    assert (over.limit, over.reason, over.allowed, over.actual, over.budget, over.reserved) == (
        "period_value", "period_budget", Decimal("40.00"), Decimal("50.00"), Decimal("100.00"), Decimal("60.00"),
    )  # fmt: skip
    assert held.id not in ledger_of(orders, held.id).entries  # it takes nothing until an approver releases it


def test_the_evaluation_shows_the_figures_before_the_order(orders, company):
    buyer = company.member("buyer", ["place_orders"], MONTHLY)
    orders.submit(buyer, order(3))
    ev = orders.evaluate(buyer, order(8))
    assert ev.period is not None and ev.period.available_value == Decimal("70.00")
    assert [x.limit for x in ev.exceeded] == ["period_value"]


def test_rejection_and_cancellation_release_the_reservation(orders, company):
    buyer = company.member("buyer", ["place_orders"], MONTHLY)
    over_per_order = orders.submit(buyer, order(9))  # over 8 per order, fits the period: held, reserved
    assert ledger_of(orders, over_per_order.id).entries[over_per_order.id].state == RESERVED
    orders.reject(company.main, over_per_order.id, "too many")
    assert over_per_order.id not in ledger_of(orders, over_per_order.id).entries
    again = orders.submit(buyer, order(9))
    orders.cancel(buyer, again.id)
    assert orders.period_budget(buyer)[1].available_value == Decimal("100.00")


def test_an_approvers_modification_adjusts_the_reservation(orders, company):
    buyer = company.member("buyer", ["place_orders"], MONTHLY)
    held = orders.submit(buyer, order(9))
    orders.approve(company.main, held.id, modified=order(4))
    entry = ledger_of(orders, held.id).entries[held.id]
    assert (entry.value, entry.quantity, entry.beyond) == (Decimal("40.00"), 4, False)


def test_the_erp_confirmation_consumes_and_its_refusal_releases(orders, company):
    buyer = company.member("buyer", ["place_orders"], MONTHLY)
    confirmed, refused = orders.submit(buyer, order(2)), orders.submit(buyer, order(3))
    orders.save(*orders.erp_confirmed(confirmed.id, "SO-1"))
    orders.save(*orders.erp_rejected(refused.id, "blocked"))
    orders.save(*orders.erp_confirmed(confirmed.id, "SO-1"))  # again: nothing more
    _, f = orders.period_budget(buyer)
    assert (f.consumed_value, f.reserved_value, f.available_value) == (Decimal("20.00"), Decimal(0), Decimal("80.00"))
    assert ledger_of(orders, confirmed.id).entries[confirmed.id].state == CONSUMED


def test_the_main_contact_sees_a_users_figures_a_colleague_does_not(orders, company):
    buyer = company.member("buyer", ["place_orders"], MONTHLY)
    orders.submit(buyer, order(1))
    target, f = orders.period_budget(company.main, buyer.id)
    assert target.id == buyer.id and f.reserved_value == Decimal("10.00")
    with pytest.raises(NotAllowed):
        orders.period_budget(company.member("colleague", ["place_orders"]), buyer.id)
    with pytest.raises(OrderNotFound):
        orders.period_budget(Company(orders).main, buyer.id)


def test_a_buyer_without_a_period_budget_has_no_ledger(orders, company):
    buyer = company.member("buyer", ["place_orders"])
    assert orders.submit(buyer, order(50)).ledger_id is None
    assert orders.period_budget(buyer)[1] is None


# ---- property: the ledger follows the orders under any sequence of steps ---------------------------------

STEPS = st.lists(
    st.tuples(
        st.sampled_from(["submit", "approve", "modify", "reject", "cancel", "resubmit", "confirm", "erp_reject"]),
        st.integers(0, 30),
        st.integers(1, 12),
    ),
    max_size=25,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(STEPS)
def test_the_ledger_matches_the_orders_after_any_sequence(steps):
    orders = Orders(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    company = Company(orders)
    buyer = company.member("buyer", ["place_orders"], MONTHLY)
    main = company.main
    placed = []
    for action, pick, qty in steps:
        target = placed[pick % len(placed)] if placed else None
        current = orders.repository.get(target) if target else None
        try:
            if action == "submit":
                placed.append(orders.submit(buyer, order(qty)).id)
            elif current is None:
                continue
            elif action in ("approve", "modify"):
                orders.approve(main, target, modified=order(qty) if action == "modify" else None)
            elif action == "reject":
                orders.reject(main, target, "no")
            elif action == "cancel":
                orders.cancel(buyer, target)
            elif action == "resubmit":
                orders.resubmit(buyer, target, "again", order(qty))
            elif action == "confirm":
                orders.save(*orders.erp_confirmed(target, f"SO-{pick}"))
            else:
                orders.save(*orders.erp_rejected(target, "refused"))
        except (NotAllowed, OrderNotFound) as e:  # pragma: no cover - the buyer and main contact may do all of it
            raise AssertionError(e) from e
        except Exception as e:  # a step the order's state does not allow (e.g. approving a released order)
            if getattr(e, "code", None) != "wrong_state":
                raise
        check(orders, placed)


def check(orders: Orders, placed) -> None:
    budget = MONTHLY.period
    assert budget is not None and budget.max_value is not None and budget.max_quantity is not None
    ledgers: dict = {}
    for order_id in placed:
        o = orders.repository.get(order_id)
        led = ledgers.setdefault(o.ledger_id, orders.repository.get(o.ledger_id))
        entry = led.entries.get(order_id)
        for other in ledgers.values():  # an order's part lives in the ledger of its round only
            assert other is led or order_id not in other.entries
        c = o.content
        if o.status in (OrderStatus.REJECTED, OrderStatus.CANCELLED, OrderStatus.ERP_REJECTED):
            assert entry is None, o.status
        elif o.status in (OrderStatus.RELEASED, OrderStatus.TRANSMITTED, OrderStatus.CONFIRMED):
            assert entry is not None
            assert entry.state == (CONSUMED if o.status is OrderStatus.CONFIRMED else RESERVED)
            assert (entry.value, entry.quantity) == (c.total_value, c.total_quantity)
        else:  # pending: reserved exactly when it fitted the period at submission
            fitted = not any(x.limit.startswith("period_") for x in o.exceeded)
            assert (entry is not None) == fitted
            if entry is not None:
                assert (entry.state, entry.value, entry.quantity) == (RESERVED, c.total_value, c.total_quantity)
    for led in ledgers.values():  # what no approver released beyond the budget never exceeds it
        within = [e for e in led.entries.values() if not e.beyond]
        assert sum((e.value for e in within), Decimal(0)) <= budget.max_value
        assert sum(e.quantity for e in within) <= budget.max_quantity


# ---- the ERP's word in batches: one ledger shared by the messages of a batch ---------------------------------


async def test_a_batch_with_the_erps_word_on_several_orders_of_one_budget_moves_the_ledger_once_each():
    orders = CountingOrders(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    consumer = IdempotentConsumer(
        service="approval", group_id="approval", app=orders, broker=RecordingBroker(),  # type: ignore[arg-type]
        blocking=WorkerPool(2), specs=consumer_specs(orders, lambda company_id: []), max_attempts=2,
        backoff_initial_s=0.01,
    )  # fmt: skip
    company = Company(orders)
    buyer = company.member("buyer", ["place_orders"], MONTHLY)
    a, b, c = (orders.submit(buyer, order(n)) for n in (1, 2, 3))
    records = (
        record(transmitted(a), 1, 0), record(confirmed(a, "SO-1"), 2, 1), record(confirmed(b, "SO-2"), 3, 2),
        record(rejected(c), 4, 3),
    )  # fmt: skip
    await consumer.handle(FakeBatch(records))
    await consumer.handle(FakeBatch(records))  # delivered again: nothing more
    assert orders.transactions == 1 and orders.max_tracking_id(TRACKING) == 4
    _, f = orders.period_budget(buyer)
    assert (f.consumed_value, f.reserved_value, f.consumed_quantity) == (Decimal("30.00"), Decimal(0), 3)
    ledger = ledger_of(orders, a.id)
    assert [type(e).__name__ for e in orders.events.get(ledger.id)] == [
        "Opened", "Reserved", "Reserved", "Reserved", "Consumed", "Consumed", "Released",
    ]  # fmt: skip
