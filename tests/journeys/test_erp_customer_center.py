"""The ERP decides whether a customer may use the customer center: revoking it blocks the company's ordering."""

from __future__ import annotations

import pytest

from tests.conftest import eventually
from tests.journeys.test_erp_support import erp_customer, registered_shop
from tests.support.orders import order_body
from tests.support.shop import BUDGET

pytestmark = pytest.mark.journey


async def test_the_erp_revokes_the_customer_center_and_new_orders_of_the_company_are_refused(
    users_api, erp_simulator, erp_sync
):
    customer = await erp_customer(erp_simulator)
    number = customer["customer_number"]
    shop = await registered_shop(users_api, number)
    _, buyer = await shop.person(["buyer"], budget=BUDGET)
    await shop.order(buyer, quantity=1)  # allowed so far

    revoked = await erp_simulator.post(
        f"/admin/customers/{number}/master-data", json={"customer_center_allowed": False}
    )
    assert revoked.status_code == 200, revoked.text

    async def refused():
        r = await shop.gw.post("/api/orders", json=order_body(quantity=1), headers=buyer)
        return r if r.status_code == 403 else None

    response = await eventually(refused, what="approval to refuse the company's orders")
    error = response.json()["error"]
    assert error["code"] == "ordering_blocked"
    assert error["message"]
    known = (await erp_sync.get(f"/ops/customers/{number}")).json()
    assert (known["company_id"], known["customer_center_allowed"]) == (shop.company.id, False)
    listed = await shop.gw.get("/api/orders", headers=buyer)
    assert listed.status_code == 200  # reading goes on

    allowed = await erp_simulator.post(f"/admin/customers/{number}/master-data", json={"customer_center_allowed": True})
    assert allowed.status_code == 200, allowed.text

    async def accepted():
        r = await shop.gw.post("/api/orders", json=order_body(quantity=1), headers=buyer)
        return r if r.status_code == 201 else None

    await eventually(accepted, what="approval to accept the company's orders again")


async def test_master_data_of_a_customer_that_never_registered_changes_no_company(erp_simulator, erp_sync):
    number = (await erp_customer(erp_simulator, name="Nie Registriert GmbH"))["customer_number"]
    r = await erp_simulator.post(f"/admin/customers/{number}/master-data", json={"name": "Nie Registriert AG"})
    assert r.status_code == 200, r.text

    async def known():
        r = await erp_sync.get(f"/ops/customers/{number}")
        return r.json() if r.status_code == 200 else None

    customer = await eventually(known, what="erp-sync to remember the ERP's master data")
    assert customer["company_id"] is None
    assert customer["master_data"]["name"] == "Nie Registriert AG"


async def test_an_invoice_the_erp_issues_is_recorded_and_valid_for_a_registration(erp_simulator, erp_sync):
    number = (await erp_customer(erp_simulator))["customer_number"]
    issued = await erp_simulator.post(
        f"/admin/customers/{number}/invoices", json={"total": {"amount": "119.00", "currency": "EUR"}}
    )
    assert issued.status_code == 201, issued.text
    invoice_number = issued.json()["invoice_number"]
    assert invoice_number in (await erp_simulator.get(f"/customers/{number}")).json()["invoices"]

    async def recorded():
        r = await erp_sync.get(f"/ops/customers/{number}/invoices/{invoice_number}")
        return r.json() if r.status_code == 200 else None

    invoice = await eventually(recorded, what="erp-sync to record the ERP's invoice")
    assert invoice["total"] == {"amount": "119.00", "currency": "EUR"}


async def test_a_contact_person_the_erp_adds_is_known_to_erp_sync(users_api, erp_simulator, erp_sync):
    number = (await erp_customer(erp_simulator))["customer_number"]
    await registered_shop(users_api, number)
    added = await erp_simulator.post(
        f"/admin/customers/{number}/contacts",
        json={"email": "neu@example.com", "first_name": "Nora", "last_name": "Neu"},
    )
    assert added.status_code == 200, added.text
    contact_id = added.json()["contact_id"]

    async def known():
        r = await erp_sync.get(f"/ops/customers/{number}")
        contacts = r.json()["erp_contacts"] if r.status_code == 200 else []
        return [c for c in contacts if c["contact_id"] == contact_id]

    (contact,) = await eventually(known, what="erp-sync to keep the ERP's new contact person")
    assert (contact["first_name"], contact["email"], contact["active"]) == ("Nora", "neu@example.com", True)
