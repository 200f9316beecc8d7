"""Busy lockout counters are snapshotted; a counter read from its snapshot behaves like one replayed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from registration.application.registrations import Applicant, RegistrationPolicy, Registrations
from registration.domain.lockout import CounterKind, LockoutPolicy

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def applicant(number: str) -> Applicant:
    return Applicant(number, "R-1", "anna@example.com", "Anna", "Muster", "de")


def busy_address(env: dict[str, str]) -> tuple[Registrations, list]:
    clock = [T0]
    app = Registrations(
        env=env,
        policy=RegistrationPolicy(per_address=LockoutPolicy(max_failures=3, window_s=60, lockout_s=60)),
        clock=lambda: clock[0],
    )
    ids = []
    for i in range(70):  # more events than the snapshot interval; each attempt verified (stops counting)
        clock[0] = T0 + timedelta(seconds=i)
        r = app.submit(applicant(f"4{i:04d}"), "10.0.0.7")
        app.save(*app.on_verified(r.id, {"customer_number": r.customer_number, "name": "X"}, []))
        ids.append(r.id)
    return app, ids


def test_a_snapshotted_counter_reads_back_with_its_state(tmp_path):
    app, _ = busy_address({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    counter_id = app.counter_ids(CounterKind.CLIENT_ADDRESS, "10.0.0.7")[0]  # its blind index
    assert list(app.snapshots.get(counter_id)) if app.snapshots else False
    counter = app.counter(CounterKind.CLIENT_ADDRESS, "10.0.0.7")
    assert counter is not None and counter.version == 140 + 1
    assert counter.kind == CounterKind.CLIENT_ADDRESS
    assert counter.pending == {} and not counter.is_locked(T0 + timedelta(seconds=70))
    app.submit(applicant("50000"), "10.0.0.7")  # still accepted: verified attempts do not count
