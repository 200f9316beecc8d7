"""The ERP is away for a while: the registration stays verifying while erp-sync keeps asking with backoff, and
completes once the ERP is back."""

from __future__ import annotations

import pytest

from tests.conftest import eventually
from tests.journeys.test_registration_support import (
    Registrar,
    confirmation_token,
    new_customer,
    random_ip,
    unique_email,
)

pytestmark = pytest.mark.journey


async def test_a_registration_waits_for_the_erp_and_completes_when_it_is_back(gateway, erp_simulator, erp_sync):
    customer = await new_customer(erp_simulator)
    registrar = Registrar(gateway, random_ip())
    email = unique_email()
    paused = await erp_simulator.post("/admin/pause")
    assert paused.status_code == 200, paused.text
    try:
        rid = await registrar.started(customer, email=email)

        async def asked_again():
            r = await erp_sync.get(f"/ops/customer-verifications/{rid}")
            return r.json() if r.status_code == 200 and r.json()["attempts"] >= 2 else None

        exchange = await eventually(asked_again, timeout=30, what="erp-sync to ask the silent ERP again")
        assert exchange["status"] == "requested"
        assert (await registrar.status(rid))["status"] == "verifying"
    finally:
        resumed = await erp_simulator.post("/admin/resume")
    assert resumed.status_code == 200, resumed.text

    decided = await registrar.decided(rid, timeout=60)
    assert decided["status"] == "awaiting_confirmation"
    assert (await registrar.confirm(rid, await confirmation_token(rid, email))).status_code == 200
    questions = (await erp_simulator.get("/received", params={"key": customer["customer_number"]})).json()
    asked = [q for q in questions if q["event_type"] == "CustomerVerificationRequested"]
    assert len(asked) >= 2
    assert {q["idempotency_key"] for q in asked} == {f"customer-verification/{rid}"}
    final = (await erp_sync.get(f"/ops/customer-verifications/{rid}")).json()
    assert (final["status"], final["outcome"]) == ("answered", "verified")
