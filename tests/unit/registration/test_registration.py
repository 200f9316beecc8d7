"""The Registration aggregate: one attempt from submission to completion or rejection."""

from datetime import UTC, datetime, timedelta

import pytest

from registration.application.tokens import hash_token
from registration.domain.model import (
    AlreadyRegistered,
    ConfirmationOutcome,
    ConfirmationTokenExpired,
    ConfirmationTokenUsed,
    NotAwaitingConfirmation,
    Reason,
    Registration,
    Status,
    company_id_for,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
COMPANY = {"customer_number": "10001", "name": "Muster GmbH"}


def submitted() -> Registration:
    r = Registration(
        customer_number="10001",
        invoice_number="R-10001-1",
        email="anna@example.com",
        first_name="Anna",
        last_name="Muster",
        language="de",
        client_address="10.0.0.1",
        submitted_at=NOW,
    )
    r.request_verification(NOW)
    return r


def awaiting(token: str = "tok", ttl: timedelta = timedelta(hours=1)) -> Registration:
    r = submitted()
    r.verified(COMPANY, [], NOW)
    r.request_confirmation("nonce", hash_token(token), NOW + ttl, NOW)
    return r


def test_a_submitted_attempt_is_verifying_until_the_erp_answers():
    r = submitted()
    assert r.status is Status.VERIFYING
    assert r.public_status(NOW) == ("verifying", None)


def test_a_verified_attempt_awaits_confirmation_with_an_expiring_token():
    r = awaiting()
    assert r.status is Status.AWAITING_CONFIRMATION
    assert r.public_status(NOW) == ("awaiting_confirmation", None)
    assert r.confirmation_expires_at == NOW + timedelta(hours=1)


def test_the_clear_token_is_in_no_event():
    r = awaiting(token="the-clear-token")
    events = r.collect_events()
    assert not any("the-clear-token" in repr(vars(e)) for e in events)
    assert any(getattr(e, "token_hash", None) == hash_token("the-clear-token") for e in events)


def test_the_right_token_in_time_completes_the_registration_with_everything_for_the_company():
    r = awaiting("tok")
    assert r.check_token(hash_token("tok"), NOW + timedelta(minutes=5), max_failures=5) is ConfirmationOutcome.VALID
    r.complete(NOW + timedelta(minutes=5))
    completed = [e for e in r.collect_events() if isinstance(e, Registration.Completed)]
    assert r.status is Status.COMPLETED
    assert completed[0].company_id == company_id_for("10001")
    assert completed[0].main_contact == {
        "email": "anna@example.com",
        "first_name": "Anna",
        "last_name": "Muster",
        "language": "de",
    }
    assert completed[0].company == COMPANY


def test_a_used_token_cannot_be_used_again():
    r = awaiting("tok")
    r.check_token(hash_token("tok"), NOW, 5)
    r.complete(NOW)
    with pytest.raises(ConfirmationTokenUsed):
        r.check_token(hash_token("tok"), NOW, 5)


def test_an_expired_token_rejects_the_registration():
    r = awaiting("tok", ttl=timedelta(minutes=10))
    later = NOW + timedelta(minutes=10)
    assert r.public_status(later) == ("rejected", "confirmation_expired")
    assert r.check_token(hash_token("tok"), later, 5) is ConfirmationOutcome.EXPIRED
    assert (r.status, r.reason) == (Status.REJECTED, Reason.CONFIRMATION_EXPIRED)
    with pytest.raises(ConfirmationTokenExpired):
        r.check_token(hash_token("tok"), later, 5)


def test_wrong_tokens_are_counted_and_too_many_reject_the_registration():
    r = awaiting("tok")
    for _ in range(2):
        assert r.check_token(hash_token("guess"), NOW, max_failures=3) is ConfirmationOutcome.INVALID
    assert r.status is Status.AWAITING_CONFIRMATION
    assert r.check_token(hash_token("guess"), NOW, max_failures=3) is ConfirmationOutcome.INVALID
    assert (r.status, r.reason) == (Status.REJECTED, Reason.TOO_MANY_CONFIRMATION_FAILURES)
    with pytest.raises(NotAwaitingConfirmation):
        r.check_token(hash_token("tok"), NOW, 3)


def test_a_verifying_attempt_cannot_be_confirmed():
    with pytest.raises(NotAwaitingConfirmation):
        submitted().check_token(hash_token("x"), NOW, 5)


def test_an_already_registered_company_is_told_to_ask_its_main_contact():
    r = submitted()
    r.verified(COMPANY, [], NOW)
    r.reject(Reason.ALREADY_REGISTERED, NOW)
    assert r.public_status(NOW) == ("rejected", "already_registered")
    with pytest.raises(AlreadyRegistered):
        r.check_token(hash_token("x"), NOW, 5)


@pytest.mark.parametrize("reason", [Reason.UNKNOWN_CUSTOMER, Reason.INVOICE_MISMATCH])
def test_the_public_reason_never_says_which_input_was_wrong(reason):
    r = submitted()
    r.reject(reason, NOW)
    assert r.public_status(NOW) == ("rejected", "verification_failed")


def test_a_late_second_answer_changes_nothing():
    r = submitted()
    r.reject(Reason.INVOICE_MISMATCH, NOW)
    r.verified(COMPANY, [], NOW)
    r.reject(Reason.NOT_ALLOWED, NOW)
    assert (r.status, r.reason) == (Status.REJECTED, Reason.INVOICE_MISMATCH)


def test_the_company_id_is_the_same_for_the_same_customer_number():
    assert company_id_for("10001") == company_id_for("10001") != company_id_for("10002")
