"""The exchanges of orders and contacts with the ERP as plain objects: sent again while the ERP is silent, given
up after the window, retried by an operator, settled by the ERP's first answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from erp_sync.domain.customers import Customer
from erp_sync.domain.model import ContactExchange, DeliveryStatus, RetryPolicy, SalesOrderExchange
from erp_sync.domain.operations import OperatorRun, RunStatus

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(initial_s=10, max_s=40, give_up_after_s=100)


def s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def names(aggregate) -> list[str]:
    return [type(e).__name__ for e in aggregate.collect_events()]


def order(**kw) -> SalesOrderExchange:
    return SalesOrderExchange(
        order_id=uuid4(), company_id=uuid4(), request={"customer_number": "10001"}, requested_at=T0,
        awaits_answer=kw.pop("awaits_answer", True),
    )  # fmt: skip


def contact(**kw) -> ContactExchange:
    fields = dict(
        user_id=uuid4(), company_id=uuid4(), customer_number="10001", email="anna@example.com", first_name="Anna",
        last_name="Muster", language="de", active=True, is_main_contact=False, erp_contact_id=None, at=T0,
    )  # fmt: skip
    return ContactExchange(**{**fields, **kw})


# ---- sales orders ---------------------------------------------------------------------------------------------


def test_an_unanswered_order_is_sent_again_with_doubling_waits_up_to_the_cap():
    x = order()
    x.resend_if_due(s(9.9), POLICY)
    assert x.attempts == 1
    resent_at = []
    now = 0.0
    while x.attempts < 4:
        now += 1
        before = x.attempts
        x.resend_if_due(s(now), POLICY)
        if x.attempts != before:
            resent_at.append(now)
    assert resent_at == [10, 30, 70]  # waits of 10, 20, 40 (the cap)
    assert x.status is DeliveryStatus.REQUESTED


def test_an_order_the_erp_never_answers_fails_after_the_window():
    x = order()
    for t in (10, 30, 70, 110):
        x.resend_if_due(s(t), POLICY)
    assert x.status is DeliveryStatus.FAILED
    assert x.failed_at == s(110)
    assert x.due_at(POLICY) is None
    assert names(x)[-1] == "Failed"


def test_an_operators_retry_sends_a_failed_order_again_with_a_fresh_window():
    x = order()
    for t in (10, 30, 70, 110):
        x.resend_if_due(s(t), POLICY)
    assert x.retry(s(500)) is True
    assert (x.status, x.attempts, x.failed_at) == (DeliveryStatus.REQUESTED, 5, None)
    x.resend_if_due(s(500 + 40), POLICY)
    assert x.status is DeliveryStatus.REQUESTED  # not given up again at once


def test_the_erps_first_answer_counts_and_a_late_confirmation_settles_a_failed_order():
    x = order()
    for t in (10, 30, 70, 110):
        x.resend_if_due(s(t), POLICY)
    x.confirm("SO-1", s(120))
    x.reject("too late", None, s(121))
    x.confirm("SO-2", s(122))
    assert (x.status, x.outcome, x.erp_order_number) == (DeliveryStatus.ACKNOWLEDGED, "confirmed", "SO-1")
    assert x.retry(s(200)) is False
    x.resend_if_due(s(10_000), POLICY)
    assert names(x).count("Confirmed") == 1 and "Rejected" not in names(x)


def test_a_rejection_by_the_erp_is_an_answer_with_its_reason():
    x = order()
    x.reject("Article X is not sold.", "unknown_article", s(1))
    assert (x.status, x.outcome, x.rejection_reason) == (
        DeliveryStatus.ACKNOWLEDGED,
        "rejected",
        "Article X is not sold.",
    )


def test_an_order_recorded_before_the_erp_answered_orders_is_never_sent_again():
    x = order(awaits_answer=False)
    x.resend_if_due(s(10_000), POLICY)
    assert x.attempts == 1 and x.status is DeliveryStatus.REQUESTED


def test_resent_and_failed_events_carry_the_whole_request():
    x = order()
    x.collect_events()
    x.resend_if_due(s(10), POLICY)
    (resent,) = x.collect_events()
    assert resent.request == {"customer_number": "10001"} and resent.attempt == 2


# ---- contacts -------------------------------------------------------------------------------------------------


def test_a_renamed_contact_is_a_new_message_with_the_whole_state():
    c = contact()
    c.collect_events()
    c.change(s(5), first_name="Anna", last_name="Weber")
    (changed,) = c.collect_events()
    assert type(changed).__name__ == "Changed"
    assert (changed.sequence, changed.changed) == (2, ["name"])
    assert changed.state["last_name"] == "Weber" and changed.state["email"] == "anna@example.com"
    assert c.idempotency_key == f"contact/{c.user_id}/2"
    assert (c.status, c.attempts) == (DeliveryStatus.REQUESTED, 1)


def test_a_deactivation_is_its_own_message():
    c = contact()
    c.change(s(5), active=False)
    assert names(c)[-1] == "Deactivated"
    assert (c.message, c.active, c.sequence) == ("deactivated", False, 2)
    c.change(s(6), active=True)
    assert (c.message, c.changed, c.sequence) == ("changed", ["active"], 3)


def test_a_change_that_changes_nothing_sends_nothing():
    c = contact()
    c.collect_events()
    c.change(s(5), first_name="Anna", email="anna@example.com")
    assert c.collect_events() == []


def test_a_customer_number_learnt_later_rides_along_with_the_next_message():
    c = contact(customer_number=None)
    c.collect_events()
    c.change(s(1), customer_number="10001")
    assert names(c) == ["Amended"]
    assert (c.sequence, c.customer_number) == (1, "10001")


def test_the_erps_answer_to_the_latest_message_settles_the_contact_and_names_its_id():
    c = contact()
    c.change(s(1), last_name="Weber")
    c.acknowledge(1, "C-1", s(2))  # the answer to the first message: the id, not settled
    assert (c.status, c.erp_contact_id) == (DeliveryStatus.REQUESTED, "C-1")
    c.acknowledge(2, "C-1", s(3))
    assert (c.status, c.acknowledged_at) == (DeliveryStatus.ACKNOWLEDGED, s(3))
    c.collect_events()
    c.acknowledge(2, "C-1", s(4))  # a copy of the answer
    assert c.collect_events() == []


def test_a_contact_sent_again_carries_its_latest_message():
    c = contact()
    c.change(s(1), last_name="Weber")
    c.collect_events()
    c.resend_if_due(s(11), POLICY)
    (resent,) = c.collect_events()
    assert resent.message["sequence"] == 2 and resent.message["state"]["last_name"] == "Weber"
    assert resent.attempt == 2


@pytest.mark.parametrize(
    ("key", "expected"),
    [("contact/{u}/3", 3), ("contact/{u}/x", None), ("contact/other/3", None), (None, None), ("sales-order/{u}", None)],
)
def test_only_keys_of_this_contacts_messages_name_a_sequence(key, expected):
    c = contact()
    assert ContactExchange.sequence_of(key.format(u=c.user_id) if key else None, c.user_id) == expected


# ---- customers and operator runs ----------------------------------------------------------------------------


def test_a_revocation_before_the_registration_takes_effect_when_the_customer_registers():
    customer = Customer(customer_number="10001", company_id=None, customer_center_allowed=True, master_data=None, at=T0)
    customer.change_master_data({"name": "Muster"}, False, s(1))
    company = uuid4()
    customer.link(company, s(2))
    linked = next(e for e in customer.collect_events() if isinstance(e, Customer.Linked))  # type: ignore[attr-defined]
    assert (type(linked).__name__, linked.company_id, linked.customer_center_allowed) == ("Linked", company, False)


def test_master_data_changes_mark_changes_of_the_customer_center_flag_and_ignore_older_ones():
    customer = Customer(customer_number="1", company_id=uuid4(), customer_center_allowed=True, master_data={}, at=T0)
    customer.collect_events()
    customer.change_master_data({"name": "A"}, True, s(2))
    customer.change_master_data({"name": "A"}, False, s(3))
    customer.change_master_data({"name": "B"}, True, s(1))  # older than the last one applied
    customer.change_master_data({"name": "A"}, False, s(4))  # the same again
    events = customer.collect_events()
    assert [type(e).__name__ for e in events] == ["MasterDataChanged", "AccessChanged"]
    assert (customer.customer_center_allowed, customer.master_data) == (False, {"name": "A"})


def test_an_operator_run_finishes_once():
    run = OperatorRun(kind="replay", parameters={"since": T0.isoformat()}, requested_at=T0)
    run.complete({"published": 3}, s(1))
    run.fail("late", {}, s(2))
    assert (run.status, run.result, run.error) == (RunStatus.COMPLETED, {"published": 3}, None)
    with pytest.raises(ValueError):
        OperatorRun(kind="format-the-disk", parameters={}, requested_at=T0)
