"""The proof of issue 18 item 4 for what a main contact gave before they were a user (ADR 0040): a customer registers
through the gateway with a marker address and marker names, the main contact hands the role to a colleague, and the
colleague deactivates and erases them. Afterwards no table of any of our services' databases — event stores
included — and no record our services wrote to Kafka since the test began holds a marker: registration, the
confirmation mail notifications kept, the registration's messages, users' main contact, erp-sync's copy of the
activation. Only the ERP's topics may (decision 5 of ADR 0035: what we tell the ERP is plain, and it is asked to
erase its contact person)."""

from __future__ import annotations

from uuid import uuid4

import pytest

from contracts.topics import ERP_INBOUND_TOPICS, ERP_OUTBOUND_TOPICS, TOPICS
from tests.conftest import eventually
from tests.journeys.conftest import bearer
from tests.journeys.test_registration_support import Registrar, confirmation_token, new_customer, random_ip
from tests.support.erasure import found_in_topics, nothing_left, topic_ends
from tests.support.infra import KAFKA, dsn_for

pytestmark = pytest.mark.journey

DATABASES = ("users", "registration", "approval", "notifications", "erp_sync")
THE_ERPS = {n for t in (*ERP_OUTBOUND_TOPICS, *ERP_INBOUND_TOPICS) for n in (t.name, t.dlt)}


async def test_a_former_main_contact_erased_leaves_nothing_readable_of_what_they_gave_at_registration(
    gateway, erp_simulator, token
):
    since = await topic_ends(KAFKA, [n for t in TOPICS for n in (t.name, t.dlt)])
    tag = uuid4().hex[:10]
    email, first, last = f"regina-{tag}@example.com", f"Regina{tag}", f"Registriert{tag}"
    markers = [email, first, last]

    customer = await new_customer(erp_simulator)
    registrar = Registrar(gateway, random_ip())
    rid = await registrar.started(customer, email=email, first_name=first, last_name=last)
    assert (await registrar.decided(rid))["status"] == "awaiting_confirmation"
    confirmed = await registrar.confirm(rid, await confirmation_token(rid, email))
    assert confirmed.status_code == 200, confirmed.text

    former = bearer(await token(sub=str(uuid4()), email=email))

    async def me(headers: dict[str, str], main_contact: bool) -> dict | None:
        r = await gateway.get("/api/me", headers=headers)
        return r.json() if r.status_code == 200 and r.json()["is_main_contact"] is main_contact else None

    found = await eventually(lambda: me(former, True), what="users to create the company and its main contact")
    former_id = found["user"]["id"]
    assert (found["user"]["first_name"], found["user"]["last_name"]) == (first, last)  # opened with their key

    colleague_email = f"nachfolge-{uuid4().hex[:10]}@example.com"
    created = await gateway.post("/api/users", headers=former, json={
        "email": colleague_email, "first_name": "Nora", "last_name": "Nachfolge", "role_ids": ["buyer"]})  # fmt: skip
    assert created.status_code == 201, created.text
    handed = await gateway.post("/api/company/main-contact", headers=former, json={"user_id": created.json()["id"]})
    assert handed.status_code == 200, handed.text
    colleague = bearer(await token(sub=str(uuid4()), email=colleague_email))
    await eventually(lambda: me(colleague, True), what="the colleague to be the main contact")

    # the search finds what is plain: what we told the ERP, which holds the address by decision 5
    on_topics = await found_in_topics(KAFKA, since, markers)
    assert {m for topic, m in on_topics if topic in THE_ERPS} >= {email}, on_topics

    deactivated = await gateway.post(f"/api/users/{former_id}/deactivate", headers=colleague)
    assert deactivated.status_code == 200, deactivated.text
    erased = await gateway.post(f"/api/users/{former_id}/erasure", headers=colleague)
    assert erased.status_code == 200, erased.text

    await nothing_left(KAFKA, since, markers, {d: dsn_for(d) for d in DATABASES}, THE_ERPS)

    shown = (await gateway.get(f"/api/users/{former_id}", headers=colleague)).json()
    assert (shown["erased"], shown["email"], shown["first_name"], shown["last_name"]) == (True, None, None, None)
