"""A business customer registers through the gateway: the ERP verifies it, the applicant confirms the e-mail
address, users creates the company and its main contact, and the ERP hears that the customer center is on."""

from __future__ import annotations

from uuid import NAMESPACE_URL, uuid4, uuid5

import pytest

from tests.conftest import eventually
from tests.journeys.conftest import bearer
from tests.journeys.test_registration_support import (
    Registrar,
    confirmation_token,
    new_customer,
    random_ip,
    support_view,
    unique_email,
)

pytestmark = pytest.mark.journey

COMPANY_NAMESPACE = uuid5(NAMESPACE_URL, "urn:kundencenter:company")  # ADR 0005: company id = uuid5(customer number)


async def test_a_customer_registers_and_its_main_contact_exists_in_users_and_at_the_erp(gateway, erp_simulator, token):
    customer = await new_customer(erp_simulator, name="Hauptweg Werkzeuge GmbH")
    number = customer["customer_number"]
    registrar = Registrar(gateway, random_ip())
    email = unique_email("main")
    submitted = await registrar.submit(customer, customer["invoices"][1], email=email, language="en")
    assert submitted.status_code == 202, submitted.text
    assert submitted.json()["status"] == "verifying"
    rid = submitted.json()["id"]

    decided = await registrar.decided(rid)
    assert decided["status"] == "awaiting_confirmation"
    assert decided["confirmation_expires_at"]

    confirmed = await registrar.confirm(rid, await confirmation_token(rid, email))
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "completed"
    assert (await registrar.status(rid))["status"] == "completed"

    company_id = str(uuid5(COMPANY_NAMESPACE, number))

    async def erp_knows_it_is_active():
        r = await erp_simulator.get(f"/customers/{number}")
        return r.json() if r.status_code == 200 and r.json()["customer_center_active"] else None

    at_erp = await eventually(erp_knows_it_is_active, what="the ERP to hear that the customer center is active")
    assert at_erp["activation"]["company_id"] == company_id
    assert at_erp["activation"]["main_contact_email"] == email
    received = (await erp_simulator.get("/received", params={"key": number})).json()
    received = [m for m in received if m["event_type"] != "CustomerPriceListRequested"]  # the prices: elsewhere
    # (a slow ERP may have been asked more than once — always the same question)
    assert {m["event_type"] for m in received} == {"CustomerCenterActivated", "CustomerVerificationRequested"}
    assert [m["event_type"] for m in received].count("CustomerCenterActivated") == 1

    attempts = (await support_view(number))["attempts"]
    assert [(a["id"], a["status"], a["company_id"]) for a in attempts] == [(rid, "completed", company_id)]

    auth = bearer(await token(sub=str(uuid4()), email=email))

    async def me():
        r = await gateway.get("/api/me", headers=auth)
        return r.json() if r.status_code == 200 else None

    found = await eventually(me, what="users to create the company and its main contact")
    assert found["company"]["id"] == company_id
    assert found["user"]["email"] == email
    assert (found["user"]["first_name"], found["user"]["last_name"], found["user"]["language"]) == (
        "Hanna",
        "Hauptkontakt",
        "en",
    )
    assert found["user"]["status"] == "active"
    assert found["is_main_contact"] is True


async def test_the_erp_saw_one_question_and_answered_it_with_the_customers_data(gateway, erp_simulator):
    customer = await new_customer(erp_simulator)
    number = customer["customer_number"]
    registrar = Registrar(gateway, random_ip())
    rid = await registrar.started(customer, customer["invoices"][2])
    assert (await registrar.decided(rid))["status"] == "awaiting_confirmation"
    questions = (await erp_simulator.get("/received", params={"key": number})).json()
    assert questions, "the ERP saw no question"
    for question in questions:  # more than one only if the ERP was slower than erp-sync's first retry
        assert question["event_type"] == "CustomerVerificationRequested"
        assert question["payload"]["invoice_number"] == customer["invoices"][2]
        assert question["payload"]["idempotency_key"] == f"customer-verification/{rid}"
    sent = (await erp_simulator.get("/sent", params={"key": number})).json()
    replies = [m for m in sent if m["event_type"] == "CustomerVerificationAnswered"]  # (not the customer's prices)
    assert len(replies) == len(questions)
    for reply in replies:
        assert reply["payload"]["outcome"] == "verified"
        assert reply["payload"]["customer"]["name"] == customer["name"]
        assert len(reply["payload"]["contacts"]) == 2
