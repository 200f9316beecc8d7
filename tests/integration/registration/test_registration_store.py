"""The registration store on PostgreSQL: snapshotted lockout counters, the attempt index, concurrent attempts."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from pydantic import SecretStr

from kc_runtime.settings import ServiceSettings
from registration.application.registrations import Applicant, RegistrationPolicy, Registrations
from registration.domain.lockout import CounterKind, LockoutPolicy, TooManyAttempts
from registration.domain.model import Reason

pytestmark = pytest.mark.integration


def es_env(dsn: str) -> dict[str, str]:
    return ServiceSettings(database_url=SecretStr(dsn), db_pool_size=8).eventsourcing_env()


def applicant(number: str) -> Applicant:
    return Applicant(number, "R-1", "anna@example.com", "Anna", "Muster", "de")


async def test_concurrent_attempts_from_one_address_are_counted_exactly_and_snapshots_read_back(database):
    dsn = await database("registration")
    app = Registrations(
        env=es_env(dsn),
        policy=RegistrationPolicy(per_address=LockoutPolicy(max_failures=60, window_s=900, lockout_s=900)),
    )

    def attempt(i: int) -> str:
        try:
            app.submit(applicant(f"5{i:04d}"), "192.0.2.10")
            return "accepted"
        except TooManyAttempts:
            return "refused"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(attempt, range(80)))
    assert outcomes.count("accepted") == 60
    assert outcomes.count("refused") == 20

    fresh = Registrations(env=es_env(dsn))  # another process: reads the counter from its snapshot
    counter = fresh.counter(CounterKind.CLIENT_ADDRESS, "192.0.2.10")
    assert counter is not None and len(counter.pending) == 60
    assert list(fresh.snapshots.get(counter.id)) if fresh.snapshots else False
    refused = [r for r in fresh.attempts_of_customer("50079")]
    assert all(r.reason in (None, Reason.TOO_MANY_ATTEMPTS) for r in refused)
    app.close()
    fresh.close()
