"""Attack 3 of issue 13 (squatting an address across companies) through the gateway: a company creates a user
with somebody else's address; when that person registers their own company with it, the registration is refused
with a reason safe to show (after the ERP verified them), nothing is created, nobody is signed in to the
squatter's company by it, and the customer registers with another address."""

from __future__ import annotations

import pytest

from tests.conftest import eventually
from tests.journeys.test_registration_support import Registrar, confirmation_token, new_customer, random_ip
from tests.support.users import UsersApi, journey_fixtures, unique_email

pytestmark = pytest.mark.journey

registrar, users_api = journey_fixtures()


async def test_a_squatted_address_is_refused_at_registration_and_the_customer_registers_with_another(
    users_api: UsersApi, gateway, erp_simulator
):
    squatter = await users_api.company()
    victim_email = unique_email("opfer")
    r = await gateway.post(
        "/api/users", json={"email": victim_email, "first_name": "Vic", "last_name": "Tim"}, headers=squatter.main
    )
    assert r.status_code == 201, r.text
    customer = await new_customer(erp_simulator)
    applicant = Registrar(gateway, random_ip())

    async def refused() -> dict | None:
        # registration learns the address from users.users.v1: poll until that has arrived
        decided = await applicant.decided(await applicant.started(customer, email=victim_email))
        return decided if decided["reason"] == "email_taken" else None

    decided = await eventually(refused, timeout=60, interval=1, what="the squatted address to be refused")
    assert decided["status"] == "rejected"
    assert "another address" in decided["message"]
    assert squatter.registration.company.name not in str(decided)  # nothing about the other company

    # nothing was created: the customer is not registered, and registers with another address
    own = unique_email("echt")
    rid = await Registrar(gateway, random_ip()).started(customer, email=own)
    assert (await applicant.decided(rid))["status"] == "awaiting_confirmation"
    confirmed = await applicant.confirm(rid, await confirmation_token(rid, own))
    assert confirmed.status_code == 200, confirmed.text
    me = await eventually(
        lambda: _me(gateway, users_api, own), what="users to create the registered company for its main contact"
    )
    assert me["is_main_contact"] is True and me["company"]["id"] != squatter.id


async def _me(gateway, users_api: UsersApi, email: str) -> dict | None:
    r = await gateway.get("/api/me", headers=await users_api.auth(email))
    return r.json() if r.status_code == 200 else None


async def test_the_same_address_without_the_customers_invoice_gets_the_ordinary_refusal(
    users_api: UsersApi, gateway, erp_simulator
):
    """Whether an address has an account is told only to who passed the ERP's verification."""
    squatter = await users_api.company()
    taken = squatter.main_email
    customer = await new_customer(erp_simulator)
    applicant = Registrar(gateway, random_ip())
    decided = await applicant.decided(await applicant.started(customer, "R-NOT-THEIRS", email=taken))
    assert (decided["status"], decided["reason"]) == ("rejected", "verification_failed")
