"""erp-sync's exchange of one customer verification: asked again with backoff while unanswered, answered once."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from erp_sync.domain.verification import CustomerVerificationExchange, RetryPolicy, VerificationStatus

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(initial_s=5, max_s=60, give_up_after_s=3600)


def exchange() -> CustomerVerificationExchange:
    return CustomerVerificationExchange(
        registration_id=uuid4(),
        customer_number="10001",
        invoice_number="R-1",
        requested_at=T0,
        next_attempt_at=T0 + POLICY.delay(1),
    )


def test_the_backoff_doubles_up_to_its_cap():
    assert [POLICY.delay(n).total_seconds() for n in range(1, 7)] == [5, 10, 20, 40, 60, 60]


def test_an_unanswered_question_is_asked_again_when_due_and_not_before():
    x = exchange()
    x.retry(T0 + timedelta(seconds=4), POLICY)
    assert x.attempts == 1
    x.retry(T0 + timedelta(seconds=5), POLICY)
    assert x.attempts == 2
    assert x.next_attempt_at == T0 + timedelta(seconds=15)


def test_only_the_first_answer_counts():
    x = exchange()
    x.answer("invoice_mismatch", None, [], T0)
    x.answer("verified", {"customer_number": "10001", "name": "X"}, [], T0)
    assert (x.status, x.outcome) == (VerificationStatus.ANSWERED, "invoice_mismatch")


def test_an_answered_question_is_not_asked_again():
    x = exchange()
    x.answer("verified", {"customer_number": "10001", "name": "X"}, [], T0)
    x.retry(T0 + timedelta(hours=1), POLICY)
    assert x.attempts == 1


def test_a_question_unanswered_for_too_long_is_abandoned():
    x = exchange()
    x.retry(T0 + timedelta(seconds=3600), POLICY)
    assert x.status == VerificationStatus.ABANDONED
    assert not x.is_due(T0 + timedelta(days=1))


def test_a_verified_answer_without_master_data_is_refused():
    with pytest.raises(ValueError):
        exchange().answer("verified", None, [], T0)
    with pytest.raises(ValueError):
        exchange().answer("maybe", None, [], T0)
