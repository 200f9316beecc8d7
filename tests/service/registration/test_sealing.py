"""The applicant's values sealed with their own key from the moment they register (ADR 0040): a submission makes the
applicant a person (a fresh id whose key users makes then), registration's events hold their address, names and
client address sealed with it, the messages name the person (so the relay seals them too), users away at submission
stores nothing, and once the person is erased the registration still reads — with nulls. Attempts stored before
(no person) read and flow as they always did. In-memory event store, the service's HTTP API, its consumers and
translator; users' keys a stand-in (:mod:`tests.service.registration.keys`)."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.persistence import StoredEvent

from contracts.registration.v1 import ConfirmationRequested, RegistrationCompleted
from contracts.topics import USERS_USERS
from contracts.users import v1 as users
from kc_runtime.sealed_messages import seal_body
from kc_runtime.sealing import is_sealed
from registration.adapters.outbound.translator import make_translator
from registration.domain.model import CustomerAccount, Registration
from tests.service.registration.conftest import System, body, random_ip
from tests.service.registration.wire import Outbox, published
from tests.support.ops import ops_headers

_users_positions = itertools.count(2_000_000)  # users' notification ids, after those of the other tests


def applicant(tag: str | None = None) -> dict[str, Any]:
    tag = tag or uuid4().hex[:8]
    return body(
        customer_number=f"7{uuid4().int % 10**6:06d}",
        email=f"regina-{tag}@example.com",
        first_name=f"Regina{tag}",
        last_name=f"Registriert{tag}",
    )


def plain_values(given: dict[str, Any], ip: str) -> list[str]:
    return [given["email"], given["first_name"], given["last_name"], ip]


def stored_states(system: System, aggregate_id: UUID) -> list[dict[str, Any]]:
    """The states of an aggregate's events as the event store holds them (before any opening)."""
    app = system.registrations
    return [app.mapper.transcoder.decode(e.state) for e in app.recorder.select_events(aggregate_id)]


def stored_text(system: System, aggregate_id: UUID) -> str:
    return "\n".join(json.dumps(s, default=str, ensure_ascii=False) for s in stored_states(system, aggregate_id))


async def submitted(system: System, given: dict[str, Any], ip: str) -> UUID:
    async with system.client(ip) as c:
        r = await c.post("/api/registrations", json=given)
    assert r.status_code == 202, r.text
    return UUID(r.json()["id"])


async def completed(system: System, given: dict[str, Any], ip: str) -> UUID:
    rid = await submitted(system, given, ip)
    await system.erp_says(str(rid), given["customer_number"])
    r = await system.confirm(str(rid), system.token(str(rid)))
    assert r.status_code == 200, r.text
    return rid


async def ops_attempt(system: System, rid: UUID) -> dict[str, Any]:
    async with system.client() as c:
        r = await c.get(f"/ops/registrations/{rid}", headers=ops_headers("registration"))
    assert r.status_code == 200, r.text
    return r.json()


async def erase(system: System, person_id: UUID) -> None:
    """users erases the person: their key is gone, and ``UserErased`` reaches registration's consumer."""
    system.keys.erase(person_id)
    message = users.UserErased(user_id=person_id, company_id=uuid4(), erased_at=datetime.now(UTC), changed_by=uuid4())
    await system.inbox.deliver(
        published(USERS_USERS, str(message.company_id), message, next(_users_positions), "users")
    )


async def test_a_submission_reserves_the_key_of_a_fresh_person_and_stores_the_applicants_values_sealed(
    system: System,
):
    given, ip = applicant(), random_ip()
    rid = await submitted(system, given, ip)
    other = await submitted(system, applicant(), random_ip())

    person_id = system.registrations.registration(rid).person_id
    assert person_id is not None and system.keys.reserved == [
        person_id,
        system.registrations.registration(other).person_id,
    ]
    assert person_id not in (rid, other) and len(set(system.keys.reserved)) == 2
    (submission, *_) = stored_states(system, rid)
    for field in ("email", "first_name", "last_name", "client_address"):
        assert is_sealed(submission[field]) and submission[field].startswith(f"kc1:{person_id}:"), field
    text = stored_text(system, rid)
    assert not [v for v in plain_values(given, ip) if v in text]
    loaded = system.registrations.registration(rid)  # opened with the person's key
    assert (loaded.email, loaded.first_name, loaded.last_name, loaded.client_address) == (
        given["email"], given["first_name"], given["last_name"], ip
    )  # fmt: skip


async def test_the_confirmation_request_the_completion_and_the_customer_account_are_stored_sealed(system: System):
    given, ip = applicant(), random_ip()
    rid = await completed(system, given, ip)

    # submitted, verification requested, verified, confirmation requested, completed
    assert len(stored_states(system, rid)) == 5
    text = stored_text(system, rid)
    account = stored_text(system, CustomerAccount.create_id(given["customer_number"]))
    assert not [v for v in plain_values(given, ip) if v in text]
    assert given["email"] not in account and "kc1:" in account
    person_id = system.registrations.registration(rid).person_id
    history = {e.name: e.data for e in system.registrations.history(rid)}  # opened again for support
    assert history["ConfirmationRequested"]["email"] == given["email"]
    assert history["Completed"]["main_contact"]["last_name"] == given["last_name"]
    assert history["Completed"]["person_id"] == person_id


async def test_the_messages_name_the_applicant_as_the_person_and_leave_the_relay_sealed(system: System):
    given, ip = applicant(), random_ip()
    rid = await completed(system, given, ip)
    person_id = system.registrations.registration(rid).person_id

    (asked,) = [m for m in system.outbox.of_type(ConfirmationRequested) if m.registration_id == rid]
    (done,) = [m for m in system.outbox.of_type(RegistrationCompleted) if m.registration_id == rid]
    assert asked.person_id == person_id and asked.email == given["email"]
    assert done.main_contact.user_id == person_id and done.main_contact.first_name == given["first_name"]
    ring = system.registrations.key_ring
    for message in (asked, done):
        on_kafka = seal_body(message, ring).decode()  # what the relay publishes
        assert not [v for v in plain_values(given, ip) if v in on_kafka], type(message).__name__
        assert f"kc1:{person_id}:" in on_kafka


async def test_users_unavailable_at_submission_answers_503_and_stores_nothing(system: System):
    before = system.registrations.recorder.max_notification_id()
    system.keys.available = False

    async with system.client() as c:
        r = await c.post("/api/registrations", json=applicant())

    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "service_unavailable"
    assert system.registrations.recorder.max_notification_id() == before
    assert system.keys.reserved == []


async def test_after_the_person_is_erased_the_registration_still_loads_and_shows_nulls(system: System):
    given, ip = applicant(), random_ip()
    rid = await completed(system, given, ip)
    person_id = system.registrations.registration(rid).person_id
    assert person_id is not None

    await erase(system, person_id)

    assert (await system.status(str(rid)))["status"] == "completed"
    shown = await ops_attempt(system, rid)
    assert shown["person_id"] == str(person_id) and shown["erased"] is True
    assert [shown[f] for f in ("email", "first_name", "last_name", "client_address")] == [None] * 4
    events = {e["name"]: e["data"] for e in shown["events"]}
    assert events["Submitted"]["email"] is None and events["ConfirmationRequested"]["first_name"] is None
    assert events["Completed"]["main_contact"]["email"] is None
    async with system.client() as c:
        listed = await c.get(
            "/ops/registrations",
            params={"customer_number": given["customer_number"], "events": "true"},
            headers=ops_headers("registration"),
        )
    assert listed.status_code == 200, listed.text
    assert [(a["id"], a["email"], a["erased"]) for a in listed.json()["attempts"]] == [(str(rid), None, True)]
    assert not [v for v in plain_values(given, ip) if v in json.dumps([shown, listed.json()])]


async def test_a_replay_after_the_persons_erasure_publishes_nothing_of_them(system: System):
    given, ip = applicant(), random_ip()
    rid = await completed(system, given, ip)
    person_id = system.registrations.registration(rid).person_id
    assert person_id is not None
    await erase(system, person_id)

    replay = Outbox(system.registrations, make_translator(system.registrations.tokens, "/c/{registration_id}/{token}"),
                    "registration")  # fmt: skip
    mine = [p.message for p in replay.drain() if getattr(p.message, "registration_id", None) == rid]
    assert [type(m).__name__ for m in mine] == ["VerificationRequested"]


def store_as_before_persons(system: System, registration: Registration) -> None:
    """Stores ``registration``'s events as registration stored them before ADR 0040: no ``person_id`` at all."""
    app = system.registrations
    stored = []
    for event in registration.collect_events():
        s = app.mapper.to_stored_event(event)
        state = app.mapper.transcoder.decode(s.state)
        state.pop("person_id", None)
        stored.append(StoredEvent(s.originator_id, s.originator_version, s.topic, app.mapper.transcoder.encode(state)))
    app.recorder.insert_events(stored)


async def test_an_attempt_stored_before_persons_loads_plain_and_completes_as_before(system: System):
    given, ip = applicant(), random_ip()
    old = Registration(
        customer_number=given["customer_number"], invoice_number=given["invoice_number"], email=given["email"],
        first_name=given["first_name"], last_name=given["last_name"], language="de", client_address=ip,
        submitted_at=system.clock(),
    )  # fmt: skip
    old.request_verification(system.clock())
    store_as_before_persons(system, old)
    assert "person_id" not in stored_states(system, old.id)[0] and given["email"] in stored_text(system, old.id)

    loaded = system.registrations.registration(old.id)
    assert (loaded.person_id, loaded.email, loaded.client_address) == (None, given["email"], ip)
    await system.erp_says(str(old.id), given["customer_number"])
    r = await system.confirm(str(old.id), system.token(str(old.id)))
    assert r.status_code == 200, r.text

    (asked,) = [m for m in system.outbox.of_type(ConfirmationRequested) if m.registration_id == old.id]
    (done,) = [m for m in system.outbox.of_type(RegistrationCompleted) if m.registration_id == old.id]
    assert asked.person_id is None and asked.email == given["email"]
    assert done.main_contact.user_id is None and done.main_contact.last_name == given["last_name"]
    assert given["email"] in seal_body(done, system.registrations.key_ring).decode()  # nobody's key: plain, as before
    shown = await ops_attempt(system, old.id)
    assert (shown["person_id"], shown["erased"], shown["email"], shown["client_address"]) == (
        None, False, given["email"], ip
    )  # fmt: skip
    assert system.keys.reserved == []
