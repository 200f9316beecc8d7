"""The lockout counters of a client address keep no address (ADR 0040): their id is a keyed hash of the address
(alone, or with the customer number), not a ``uuid5`` that trying every IPv4 address undoes, and their events hold
no address. Support still asks for an address's counter by the address. A counter made before keeps its id and
keeps counting, so a lockout in force stays in force."""

from __future__ import annotations

from uuid import uuid4

from registration.domain.lockout import AttemptCounter, CounterKind, customer_at_address
from tests.service.registration.conftest import System, body, random_ip
from tests.service.registration.test_sealing import stored_text
from tests.support.ops import ops_headers


async def test_the_counters_of_a_client_address_keep_no_address(system: System):
    ip, number = random_ip(), f"6{uuid4().int % 10**6:06d}"
    assert (await system.submit(ip, customer_number=number)).status_code == 202

    app = system.registrations
    for kind, key in (
        (CounterKind.CLIENT_ADDRESS, ip),
        (CounterKind.CUSTOMER_AT_ADDRESS, customer_at_address(number, ip)),
    ):
        blind, legacy = app.counter_ids(kind, key)
        assert blind != AttemptCounter.create_id(kind, key) == legacy
        assert list(app.recorder.select_events(legacy)) == []
        stored = stored_text(system, blind)
        assert ip not in stored and len(list(app.recorder.select_events(blind))) == 2  # opened, attempt recorded
        counter = app.counter(kind, key)
        assert counter is not None and counter.id == blind and len(counter.pending) == 1
    async with system.client() as c:
        r = await c.get("/ops/lockouts", params={"client_address": ip}, headers=ops_headers("registration"))
    assert r.status_code == 200, r.text
    assert (r.json()["key"], r.json()["counted_attempts"]) == (ip, 1)


async def test_a_lockout_counted_before_the_blind_index_stays_in_force(system: System):
    ip = random_ip()
    app, now = system.registrations, system.clock()
    before = AttemptCounter(kind=CounterKind.CLIENT_ADDRESS, key=ip)  # as stored by the release before
    for _ in range(system.settings.lockout_max_failures_per_address):
        before.record_failure(uuid4(), now, app.policy.per_address)
    app.save(before)
    assert before.is_locked(now)

    refused = await system.submit(ip, customer_number=body()["customer_number"])

    assert refused.status_code == 429, refused.text
    blind, legacy = app.counter_ids(CounterKind.CLIENT_ADDRESS, ip)
    assert legacy == before.id and list(app.recorder.select_events(blind)) == []
    system.clock.advance(seconds=system.settings.lockout_duration_s + 1)
    assert (await system.submit(ip)).status_code == 202
    assert app.counter(CounterKind.CLIENT_ADDRESS, ip).id == legacy  # type: ignore[union-attr]
