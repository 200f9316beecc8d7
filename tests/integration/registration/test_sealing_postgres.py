"""The applicant's values on PostgreSQL (ADR 0040): an attempt submitted, verified, confirmed and completed leaves
its applicant's e-mail address, names and client address in no table of registration's database — the event store,
its snapshots and the lockout counters included — plain, URL-encoded or in base64: sealed with the key of the
attempt's person, the counters of the address under a blind index. Once the person is erased, the attempt still
reads, with nulls. users' keys a stand-in (:mod:`tests.service.registration.keys`)."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest
from pydantic import SecretStr

from kc_runtime.settings import ServiceSettings
from registration.application.registrations import Applicant, Registrations
from registration.domain.model import Registration
from tests.service.registration.keys import UsersKeys
from tests.support.erasure import found_in_tables
from tests.support.infra import random_suffix

pytestmark = pytest.mark.integration


async def test_no_table_of_registration_holds_an_applicants_values_and_an_erased_one_reads_as_nulls(database):
    dsn = await database("registration")
    keys = UsersKeys()
    env = ServiceSettings(database_url=SecretStr(dsn), db_pool_size=2).eventsourcing_env()
    app = Registrations(env=env, key_ring=keys.ring(), reserve_key=keys.reserve)
    tag = random_suffix()
    number = f"3{uuid4().int % 10**5:05d}"
    email, first, last = f"regina-{tag}@example.com", f"Regina{tag}", f"Registriert{tag}"
    ip = f"198.51.{uuid4().int % 250}.{uuid4().int % 250 + 1}"

    def register() -> Registration:
        submitted = app.submit(Applicant(number, "R-1", email, first, last, "de"), ip)
        app.save(*app.on_verified(submitted.id, {"customer_number": number, "name": "Muster GmbH"}, []))
        registration = app.registration(submitted.id)
        token = app.tokens.token_for(registration.id, registration.token_nonce)  # type: ignore[arg-type]
        return app.confirm(registration.id, token)

    done = await asyncio.to_thread(register)
    assert done.status.value == "completed" and done.person_id == keys.reserved[0]

    assert await found_in_tables(dsn, [email, first, last, ip], skip=set()) == []
    fresh = Registrations(env=env, key_ring=keys.ring())  # another process: opens with the person's key
    loaded = fresh.registration(done.id)
    assert (loaded.email, loaded.first_name, loaded.last_name, loaded.client_address) == (email, first, last, ip)

    keys.erase(done.person_id)  # type: ignore[arg-type]
    after = Registrations(env=env, key_ring=keys.ring())
    erased = after.registration(done.id)
    assert (erased.email, erased.first_name, erased.last_name, erased.client_address) == (None, None, None, None)
    assert erased.applicant_erased and erased.status.value == "completed"
    assert [r.id for r in after.attempts_of_customer(number)] == [done.id]
    for app_ in (app, fresh, after):
        app_.close()
