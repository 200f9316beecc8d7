"""erp-sync's exchange of one customer verification: a delivery of the question (asked again with backoff while
unanswered, abandoned after the policy's window), answered once."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from erp_sync.application.exchanges import Exchanges
from erp_sync.domain.model import DeliveryStatus, RetryPolicy
from erp_sync.domain.verification import CustomerVerificationExchange

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(initial_s=5, max_s=60, give_up_after_s=3600)


def exchange() -> CustomerVerificationExchange:
    return CustomerVerificationExchange(
        registration_id=uuid4(), customer_number="10001", invoice_number="R-1", requested_at=T0
    )


def test_the_backoff_doubles_up_to_its_cap():
    assert [POLICY.delay(n).total_seconds() for n in range(1, 7)] == [5, 10, 20, 40, 60, 60]


def test_an_unanswered_question_is_asked_again_when_due_and_not_before():
    x = exchange()
    x.resend_if_due(T0 + timedelta(seconds=4), POLICY)
    assert x.attempts == 1
    x.resend_if_due(T0 + timedelta(seconds=5), POLICY)
    assert x.attempts == 2
    assert x.due_at(POLICY) == T0 + timedelta(seconds=15)
    (_, asked_again) = x.collect_events()
    assert isinstance(asked_again, CustomerVerificationExchange.Rerequested)
    assert (asked_again.attempt, asked_again.at, asked_again.invoice_number) == (2, T0 + timedelta(seconds=5), "R-1")


def test_only_the_first_answer_counts():
    x = exchange()
    x.answer("invoice_mismatch", None, [], T0)
    x.answer("verified", {"customer_number": "10001", "name": "X"}, [], T0)
    assert (x.status, x.outcome) == (DeliveryStatus.ACKNOWLEDGED, "invoice_mismatch")


def test_an_answered_question_is_not_asked_again():
    x = exchange()
    x.answer("verified", {"customer_number": "10001", "name": "X"}, [], T0)
    x.resend_if_due(T0 + timedelta(hours=1), POLICY)
    assert x.attempts == 1
    assert x.due_at(POLICY) is None


def test_a_question_unanswered_for_too_long_is_abandoned():
    x = exchange()
    x.resend_if_due(T0 + timedelta(seconds=3600), POLICY)
    assert x.status == DeliveryStatus.FAILED
    assert isinstance(x.collect_events()[-1], CustomerVerificationExchange.Abandoned)
    assert x.due_at(POLICY) is None


def test_an_abandoned_question_takes_no_answer_and_no_operators_retry():
    x = exchange()
    x.resend_if_due(T0 + timedelta(seconds=3600), POLICY)
    x.answer("verified", {"customer_number": "10001", "name": "X"}, [], T0 + timedelta(seconds=3601))
    assert x.retry(T0 + timedelta(seconds=3602)) is False
    assert (x.status, x.outcome, x.attempts) == (DeliveryStatus.FAILED, None, 1)


def test_a_verified_answer_without_master_data_is_refused():
    with pytest.raises(ValueError):
        exchange().answer("verified", None, [], T0)
    with pytest.raises(ValueError):
        exchange().answer("maybe", None, [], T0)  # type: ignore[arg-type]  # what a wrong caller might pass


def test_a_verification_stored_by_the_first_version_loads_and_goes_on_from_its_attempts():
    """The first version wrote next_attempt_at into Requested and Rerequested; the events still load, and when the
    question is due again follows from its attempts and the policy."""
    app = Exchanges(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    x = CustomerVerificationExchange(
        registration_id=uuid4(), customer_number="10001", invoice_number="R-1", requested_at=T0,
        next_attempt_at=T0 + timedelta(seconds=5),
    )  # fmt: skip
    x._rerequested(
        registration_id=x.registration_id, customer_number="10001", invoice_number="R-1", attempt=2,
        at=T0 + timedelta(seconds=5), next_attempt_at=T0 + timedelta(seconds=15),
    )  # fmt: skip
    app.save(x)

    loaded = app.repository.get(x.id)

    assert (loaded.status, loaded.attempts) == (DeliveryStatus.REQUESTED, 2)
    assert loaded.due_at(POLICY) == T0 + timedelta(seconds=15)
    loaded.resend_if_due(T0 + timedelta(seconds=15), POLICY)
    assert loaded.attempts == 3
