"""What an exchange's event means to the retry schedules (the due projection's pure part): the events that send a
message open the wait with the due time the aggregate itself computes; an answer and the give-up close it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from erp_sync.adapters.outbound.due import closes, due_at, kind_of
from erp_sync.domain.model import ContactExchange, RetryPolicy, SalesOrderExchange
from erp_sync.domain.verification import CustomerVerificationExchange

T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(initial_s=10, max_s=40, give_up_after_s=100)


def sales_order(awaits_answer: bool = True) -> SalesOrderExchange:
    return SalesOrderExchange(
        order_id=uuid4(), company_id=uuid4(), request={}, requested_at=T0, awaits_answer=awaits_answer
    )


def contact() -> ContactExchange:
    return ContactExchange(
        user_id=uuid4(), company_id=uuid4(), customer_number="10001", email="bea@example.com", first_name="Bea",
        last_name="Buyer", language="de", active=True, is_main_contact=False, erp_contact_id=None, at=T0,
    )  # fmt: skip


def verification() -> CustomerVerificationExchange:
    return CustomerVerificationExchange(
        registration_id=uuid4(), customer_number="10001", invoice_number="R-1", requested_at=T0
    )


def latest(exchange: Any) -> Any:
    return exchange.collect_events()[-1]


@pytest.mark.parametrize("make", [sales_order, contact, verification])
def test_each_message_sent_again_is_due_when_the_aggregate_says_until_it_is_given_up(make):
    exchange = make()
    due = due_at(latest(exchange), POLICY)
    assert due == exchange.due_at(POLICY) == T0 + timedelta(seconds=10)
    seen = [due]
    while due is not None:
        exchange.resend_if_due(due, POLICY)
        event = latest(exchange)
        due = due_at(event, POLICY)
        assert due == exchange.due_at(POLICY)
        seen.append(due)
    assert closes(event)  # given up after the window
    assert seen[:4] == [T0 + timedelta(seconds=s) for s in (10, 30, 70)] + [T0 + timedelta(seconds=110)]


def test_the_kinds_name_the_schedule_whose_policy_applies():
    assert [kind_of(latest(x)) for x in (sales_order(), contact(), verification())] == [
        "sales_order",
        "contact",
        "verification",
    ]


def test_a_sales_order_recorded_before_the_erp_answered_sales_orders_opens_nothing():
    event = latest(sales_order(awaits_answer=False))
    assert (due_at(event, POLICY), closes(event)) == (None, False)


def test_an_operators_retry_after_the_give_up_opens_the_wait_again():
    exchange = sales_order()
    exchange.resend_if_due(T0 + timedelta(hours=1), RetryPolicy(initial_s=10, max_s=40, give_up_after_s=1))
    assert closes(latest(exchange))
    exchange.retry(T0 + timedelta(hours=2))
    assert due_at(latest(exchange), POLICY) == T0 + timedelta(hours=2, seconds=20) == exchange.due_at(POLICY)


@pytest.mark.parametrize("outcome", ["confirm", "reject"])
def test_the_erps_answer_to_a_sales_order_closes_the_wait(outcome: str):
    exchange = sales_order()
    if outcome == "confirm":
        exchange.confirm("SO-1", T0)
    else:
        exchange.reject("no", None, T0)
    event = latest(exchange)
    assert (due_at(event, POLICY), closes(event)) == (None, True)


def test_a_changed_contact_is_a_new_message_due_a_first_wait_after_the_change():
    exchange = contact()
    exchange.resend_if_due(T0 + timedelta(seconds=10), POLICY)
    changed_at = T0 + timedelta(seconds=15)
    exchange.change(changed_at, first_name="Beate")
    assert due_at(latest(exchange), POLICY) == changed_at + timedelta(seconds=10) == exchange.due_at(POLICY)


def test_only_the_acknowledgement_of_a_contacts_latest_message_closes_the_wait():
    exchange = contact()
    exchange.change(T0 + timedelta(seconds=1), first_name="Beate")  # message 2
    exchange.acknowledge(1, "C-1", T0 + timedelta(seconds=2))  # the answer to message 1, with the ERP's id
    older = latest(exchange)
    assert (due_at(older, POLICY), closes(older)) == (None, False)
    exchange.acknowledge(2, "C-1", T0 + timedelta(seconds=3))
    assert closes(latest(exchange))


def test_an_answered_verification_closes_the_wait():
    exchange = verification()
    exchange.answer("unknown_customer", None, [], T0)
    assert closes(latest(exchange))
