"""Contact persons reach the ERP: a shop user created, renamed and deactivated is the ERP's contact, with its id."""

from __future__ import annotations

import pytest

from tests.conftest import eventually

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
