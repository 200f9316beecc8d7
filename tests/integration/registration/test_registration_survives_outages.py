"""Registration against real Kafka and PostgreSQL, with real processes killed at bad moments: while the ERP is
away the attempt stays verifying and erp-sync keeps asking with backoff; nothing is lost when registration or
erp-sync die meanwhile; when the ERP comes, the registration completes and the ERP hears of it once."""

from __future__ import annotations

import asyncio
import json
from uuid import UUID

import httpx
import pytest

from contracts import Headers
from contracts.topics import (
    ERP_OUTBOUND_CUSTOMER_CENTER_ACTIVATIONS,
    ERP_OUTBOUND_CUSTOMER_VERIFICATIONS,
    REGISTRATION_REGISTRATIONS,
)
from registration.domain.model import company_id_for
from tests.conftest import eventually
from tests.integration.conftest import read_topic, service_env
from tests.support.infra import ServiceProcess, random_suffix
from tests.support.ops import ops_headers

pytestmark = pytest.mark.integration

CUSTOMER = "10001"  # from the simulator's seed, in this test's own databases


async def start(p: ServiceProcess, processes: list) -> ServiceProcess:
    processes.append(p.start())
    return await asyncio.to_thread(p.wait_ready)


def registration_process(dsn: str, prefix: str, group: str) -> ServiceProcess:
    return ServiceProcess(
        "registration", "REGISTRATION_", service_env(dsn, prefix, CONSUMER_GROUP=group), name="registration"
    )


def erp_sync_process(dsn: str, prefix: str, group: str) -> ServiceProcess:
    env = service_env(
        dsn,
        prefix,
        CONSUMER_GROUP=group,
        VERIFICATION_RETRY_INITIAL_S="0.5",
        VERIFICATION_RETRY_MAX_S="1",
        VERIFICATION_SCHEDULE_INTERVAL_S="0.1",
    )
    return ServiceProcess("erp_sync", "ERP_SYNC_", env, name="erp-sync")


def simulator_process(dsn: str, prefix: str, group: str) -> ServiceProcess:
    return ServiceProcess(
        "standins.erp_simulator", "ERP_SIMULATOR_", service_env(dsn, prefix, CONSUMER_GROUP=group), name="erp-sim"
    )


async def get_json(url: str) -> dict | None:
    async with httpx.AsyncClient(timeout=5, headers=ops_headers("erp-sync")) as c:
        r = await c.get(url)
    return r.json() if r.status_code == 200 else None


async def test_a_registration_outlives_an_erp_outage_and_killed_processes(database, topic_prefix, processes):
    reg_dsn, sync_dsn, sim_dsn = await database("registration"), await database("erp-sync"), await database("erp-sim")
    suffix = random_suffix()
    reg = await start(registration_process(reg_dsn, topic_prefix, f"it-registration-{suffix}"), processes)
    sync = await start(erp_sync_process(sync_dsn, topic_prefix, f"it-erp-sync-{suffix}"), processes)

    async with httpx.AsyncClient(base_url=reg.url, timeout=10) as http:
        submitted = await http.post(
            "/api/registrations",
            json={
                "customer_number": CUSTOMER,
                "invoice_number": "R-10001-2",
                "email": "anna.muster@example.com",
                "first_name": "Anna",
                "last_name": "Muster",
                "language": "de",
            },
        )
    assert submitted.status_code == 202, submitted.text
    rid = submitted.json()["id"]

    async def asked(n: int):
        x = await get_json(f"{sync.url}/ops/customer-verifications/{rid}")
        return x if x and x["attempts"] >= n else None

    await eventually(lambda: asked(3), timeout=30, what="erp-sync to ask the silent ERP again")

    # erp-sync dies and comes back: its schedule is rebuilt from its log and it keeps asking.
    sync.kill()
    sync = await start(erp_sync_process(sync_dsn, topic_prefix, f"it-erp-sync-{suffix}"), processes)
    found = await get_json(f"{sync.url}/ops/customer-verifications/{rid}")
    assert found is not None and found["status"] == "requested"
    before = found["attempts"]
    await eventually(lambda: asked(before + 2), timeout=30, what="the restarted erp-sync to keep asking")

    # registration dies and comes back: the attempt is still verifying.
    reg.kill()
    reg = await start(registration_process(reg_dsn, topic_prefix, f"it-registration-{suffix}"), processes)
    assert (await get_json(f"{reg.url}/api/registrations/{rid}"))["status"] == "verifying"

    # The ERP comes up and answers the backlog of copies of the question; the first answer counts.
    sim = await start(simulator_process(sim_dsn, topic_prefix, f"it-erp-{suffix}"), processes)

    async def awaiting():
        s = await get_json(f"{reg.url}/api/registrations/{rid}")
        return s if s and s["status"] == "awaiting_confirmation" else None

    await eventually(awaiting, timeout=60, what="the registration to be verified once the ERP answers")
    questions = await read_topic(topic_prefix + ERP_OUTBOUND_CUSTOMER_VERIFICATIONS.name, key=CUSTOMER.encode())
    assert len(questions) >= 5
    assert {json.loads(q.value)["idempotency_key"] for q in questions} == {f"customer-verification/{rid}"}

    mails = await eventually(lambda: confirmation_mails(topic_prefix, rid), what="the confirmation mail message")
    assert len(mails) == 1
    async with httpx.AsyncClient(base_url=reg.url, timeout=10) as http:
        confirmed = await http.post(f"/api/registrations/{rid}/confirm", json={"token": mails[0]["token"]})
    assert confirmed.status_code == 200, confirmed.text

    async def active():
        c = await get_json(f"{sim.url}/customers/{CUSTOMER}")
        return c if c and c["customer_center_active"] else None

    customer = await eventually(active, timeout=60, what="the ERP to hear that the customer center is active")
    assert customer["activation"]["company_id"] == str(company_id_for(CUSTOMER))
    assert customer["activation"]["main_contact_email"] == "anna.muster@example.com"
    activations = await read_topic(topic_prefix + ERP_OUTBOUND_CUSTOMER_CENTER_ACTIVATIONS.name, key=CUSTOMER.encode())
    assert len({dict(r.headers)[Headers.EVENT_ID] for r in activations}) == 1
    completions = [
        r
        for r in await read_topic(topic_prefix + REGISTRATION_REGISTRATIONS.name, key=CUSTOMER.encode())
        if dict(r.headers)[Headers.EVENT_TYPE] == b"RegistrationCompleted"
    ]
    assert len(completions) == 1 and UUID(json.loads(completions[0].value)["registration_id"]) == UUID(rid)


async def confirmation_mails(prefix: str, rid: str) -> list[dict]:
    records = await read_topic(prefix + REGISTRATION_REGISTRATIONS.name)
    return [
        json.loads(r.value)
        for r in records
        if dict(r.headers)[Headers.EVENT_TYPE] == b"ConfirmationRequested"
        and json.loads(r.value)["registration_id"] == rid
    ]
