"""Contact persons reach the ERP: a shop user created, renamed and deactivated is the ERP's contact, with its id."""

from __future__ import annotations

import pytest

from tests.conftest import eventually
from tests.journeys.test_erp_support import erp_customer, registered_shop
from tests.support.users import unique_email

pytestmark = pytest.mark.journey


async def erp_contact(erp_simulator, user_id: str, **expected):
    async def matches():
        r = await erp_simulator.get(f"/contacts/{user_id}")
        if r.status_code != 200:
            return None
        contact = r.json()
        return contact if all(contact[k] == v for k, v in expected.items()) else None

    return await eventually(matches, what=f"the ERP to keep contact {user_id} with {expected}")


async def synced(erp_sync, user_id: str, sequence: int):
    async def acknowledged():
        r = await erp_sync.get(f"/ops/contacts/{user_id}")
        state = r.json() if r.status_code == 200 else None
        return state if state and state["sequence"] == sequence and state["status"] == "acknowledged" else None

    return await eventually(acknowledged, what=f"erp-sync to hear the ERP applied message {sequence} of {user_id}")


async def test_a_contact_created_renamed_and_deactivated_reaches_the_erp(shop, erp_simulator, erp_sync):
    user, _ = await shop.person(["buyer"])
    uid = user["id"]

    created = await erp_contact(erp_simulator, uid, first_name="Bea", last_name="Buyer", active=True)
    assert created["email"] == user["email"]
    assert created["customer_number"] == shop.company.registration.company.customer_number
    assert created["company_id"] == shop.company.id
    state = await synced(erp_sync, uid, 1)
    assert state["erp_contact_id"] == created["contact_id"]

    renamed = await shop.gw.put(
        f"/api/users/{uid}/name", json={"first_name": "Beatrix", "last_name": "Brenner"}, headers=shop.main
    )
    assert renamed.status_code == 200, renamed.text
    await erp_contact(erp_simulator, uid, first_name="Beatrix", last_name="Brenner", active=True, sequence=2)
    await synced(erp_sync, uid, 2)

    deactivated = await shop.gw.post(f"/api/users/{uid}/deactivate", headers=shop.main)
    assert deactivated.status_code == 200, deactivated.text
    final = await erp_contact(erp_simulator, uid, active=False, sequence=3)
    assert final["contact_id"] == created["contact_id"] and final["last_name"] == "Brenner"
    state = await synced(erp_sync, uid, 3)
    assert (state["message"], state["active"]) == ("deactivated", False)
    assert [m["event_type"] for m in final["messages"]] == ["ContactCreated", "ContactChanged", "ContactDeactivated"]
    for n in (1, 2, 3):  # each message applied once, none discarded as a copy
        processed = (await erp_simulator.get(f"/messages/contact/{uid}/{n}")).json()
        assert processed["duplicates_discarded"] == 0


async def test_the_main_contact_of_a_new_company_is_the_erps_contact_too(shop, erp_simulator):
    contact = await erp_contact(erp_simulator, shop.company.main_id, is_main_contact=True)
    assert contact["email"] == shop.company.main_email


# ---- contact persons the ERP keeps reach the shop's take-over list ---------------------------------------------


async def erp_candidates(shop) -> dict[str, dict]:
    r = await shop.gw.get("/api/erp-contacts", headers=shop.main)
    assert r.status_code == 200, r.text
    return {c["erp_contact_id"]: c for c in r.json()}


async def test_a_contact_the_erp_adds_can_be_taken_over_and_one_it_deactivates_disappears(users_api, erp_simulator):
    number = (await erp_customer(erp_simulator))["customer_number"]
    shop = await registered_shop(users_api, number)
    nora_email, otto_email = unique_email("nora"), unique_email("otto")
    nora = await erp_simulator.post(
        f"/admin/customers/{number}/contacts",
        json={"email": nora_email, "first_name": "Nora", "last_name": "Neu", "phone": "+49 30 1"},
    )
    otto = await erp_simulator.post(
        f"/admin/customers/{number}/contacts", json={"email": otto_email, "first_name": "Otto", "last_name": "Ott"}
    )
    assert nora.status_code == otto.status_code == 200, (nora.text, otto.text)
    nora_id, otto_id = nora.json()["contact_id"], otto.json()["contact_id"]

    async def both_listed():
        listed = await erp_candidates(shop)
        return listed if {nora_id, otto_id} <= set(listed) else None

    listed = await eventually(both_listed, what="the ERP's new contacts in the company's take-over list")
    assert (listed[nora_id]["email"], listed[nora_id]["first_name"], listed[nora_id]["phone"]) == (
        nora_email, "Nora", "+49 30 1",
    )  # fmt: skip

    deactivated = await erp_simulator.post(
        f"/admin/customers/{number}/contacts", json={"contact_id": otto_id, "active": False}
    )
    assert deactivated.status_code == 200, deactivated.text

    async def otto_gone():
        listed = await erp_candidates(shop)
        return listed if otto_id not in listed else None

    assert nora_id in await eventually(otto_gone, what="the contact the ERP deactivated to leave the list")
    refused = await shop.gw.post(f"/api/erp-contacts/{otto_id}/take-over", headers=shop.main)
    assert refused.status_code == 404, refused.text

    taken = await shop.gw.post(f"/api/erp-contacts/{nora_id}/take-over", headers=shop.main)
    assert taken.status_code == 201, taken.text
    user = taken.json()
    assert (user["email"], user["last_name"], user["erp_contact_id"]) == (nora_email, "Neu", nora_id)
    assert nora_id not in await erp_candidates(shop)

    renamed_in_erp = await erp_simulator.post(
        f"/admin/customers/{number}/contacts", json={"contact_id": nora_id, "last_name": "Neumann"}
    )
    assert renamed_in_erp.status_code == 200, renamed_in_erp.text

    # The shop is the master of its users: the ERP's change is recorded with the company (its audit log shows
    # it), not in the user account.
    async def recorded():
        r = await shop.gw.get("/api/audit", params={"subject_id": shop.company.id}, headers=shop.main)
        entries = r.json()["items"] if r.status_code == 200 else []
        return [e for e in entries if e["action"] == "company.erp_contact_recorded"
                and e["details"]["contact"]["last_name"] == "Neumann"]  # fmt: skip

    await eventually(recorded, what="users to record the ERP's change of the contact taken over")
    after = (await shop.gw.get(f"/api/users/{user['id']}", headers=shop.main)).json()
    assert (after["last_name"], after["version"]) == ("Neu", user["version"])


async def test_the_erps_master_data_renames_the_company_in_the_shop(users_api, erp_simulator):
    number = (await erp_customer(erp_simulator))["customer_number"]
    shop = await registered_shop(users_api, number)
    changed = await erp_simulator.post(f"/admin/customers/{number}/master-data", json={"name": "Umbenannt AG"})
    assert changed.status_code == 200, changed.text

    async def renamed():
        r = await shop.gw.get("/api/company", headers=shop.main)
        return r.json() if r.status_code == 200 and r.json()["name"] == "Umbenannt AG" else None

    company = await eventually(renamed, what="users to take the company's name from the ERP")
    assert company["customer_number"] == number


async def test_a_contact_the_erp_added_before_the_registration_is_in_the_list_after_it(
    users_api, erp_simulator, erp_sync
):
    number = (await erp_customer(erp_simulator))["customer_number"]
    email = unique_email("early")
    added = await erp_simulator.post(
        f"/admin/customers/{number}/contacts", json={"email": email, "first_name": "Frieda", "last_name": "Früh"}
    )
    assert added.status_code == 200, added.text
    contact_id = added.json()["contact_id"]

    async def kept_by_erp_sync():
        r = await erp_sync.get(f"/ops/customers/{number}")
        contacts = r.json()["erp_contacts"] if r.status_code == 200 else []
        return [c for c in contacts if c["contact_id"] == contact_id]

    await eventually(kept_by_erp_sync, what="erp-sync to keep the contact of a customer not registered yet")
    shop = await registered_shop(users_api, number)  # the registration itself names no contacts

    async def listed():
        return (await erp_candidates(shop)).get(contact_id)

    contact = await eventually(listed, what="the contact the ERP sent before the registration in the list")
    assert (contact["email"], contact["last_name"]) == (email, "Früh")
