"""Lockout counters: sliding windows of attempts per customer number and per client address."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registration.domain.lockout import AttemptCounter, LockoutPolicy, TooManyAttempts

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
POLICY = LockoutPolicy(max_failures=3, window_s=600, lockout_s=900)


def counter() -> AttemptCounter:
    return AttemptCounter(kind="customer_number", key="10001")


def fail(c: AttemptCounter, at: datetime) -> None:
    rid = uuid4()
    c.check(at, POLICY)
    c.record_attempt(rid, at, POLICY)
    c.record_failure(rid, at, POLICY)


def test_failures_up_to_the_limit_lock_the_counter_with_an_event():
    c = counter()
    for i in range(3):
        fail(c, T0 + timedelta(seconds=i))
    assert c.is_locked(T0 + timedelta(seconds=3))
    assert any(isinstance(e, AttemptCounter.LockedOut) for e in c.collect_events())
    with pytest.raises(TooManyAttempts) as refused:
        c.check(T0 + timedelta(seconds=3), POLICY)
    assert 890 <= refused.value.retry_after_s <= 900


def test_the_lock_ends_after_its_duration_and_a_fresh_window_starts():
    c = counter()
    for i in range(3):
        fail(c, T0 + timedelta(seconds=i))
    after = T0 + timedelta(seconds=2 + 900)
    c.check(after, POLICY)  # no exception
    fail(c, after)
    assert not c.is_locked(after)


def test_failures_older_than_the_window_no_longer_count():
    c = counter()
    fail(c, T0)
    fail(c, T0 + timedelta(seconds=1))
    fail(c, T0 + timedelta(seconds=601))
    assert not c.is_locked(T0 + timedelta(seconds=601))


def test_attempts_waiting_for_the_erp_count_so_a_burst_is_held_back():
    c = counter()
    for i in range(3):
        c.check(T0, POLICY)
        c.record_attempt(uuid4(), T0 + timedelta(seconds=i), POLICY)
    with pytest.raises(TooManyAttempts) as refused:
        c.check(T0 + timedelta(seconds=3), POLICY)
    assert refused.value.retry_after_s == 597
    assert not c.is_locked(T0 + timedelta(seconds=3))


def test_a_verified_attempt_stops_counting():
    c = counter()
    ids = [uuid4() for _ in range(3)]
    for rid in ids:
        c.record_attempt(rid, T0, POLICY)
    c.record_resolved(ids[0], T0)
    c.check(T0, POLICY)  # room again


def test_refused_attempts_are_logged_but_do_not_count():
    c = counter()
    for _ in range(10):
        c.record_refused(uuid4(), T0)
    c.check(T0, POLICY)


def test_the_counter_state_stays_small_however_long_it_lives():
    c = counter()
    for day in range(30):
        fail(c, T0 + timedelta(days=day))
    assert len(c.failures) + len(c.pending) <= POLICY.max_failures


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3000), st.booleans()), max_size=60))
def test_never_more_than_the_limit_of_unverified_attempts_pass_within_a_window(steps):
    """Whatever the sequence, the attempts let through within any window that were not verified stay
    at or below the limit."""
    c = counter()
    accepted: list[tuple[datetime, bool]] = []
    at = T0
    for gap, verified in steps:
        at += timedelta(seconds=gap)
        try:
            c.check(at, POLICY)
        except TooManyAttempts:
            continue
        rid = uuid4()
        c.record_attempt(rid, at, POLICY)
        if verified:
            c.record_resolved(rid, at)
        else:
            c.record_failure(rid, at, POLICY)
        accepted.append((at, verified))
    for t, _ in accepted:
        in_window = [a for a, v in accepted if not v and t - timedelta(seconds=POLICY.window_s) < a <= t]
        assert len(in_window) <= POLICY.max_failures
