"""The value that once stopped the ERP link for every company: a user with a 240-character e-mail address. The API
accepts it, the ERP contract carries it (one limit, contracts.limits), the contact reaches the ERP, and the next
registrations and contacts of other companies flow as before; nothing is parked."""

from __future__ import annotations

from uuid import uuid4

import pytest

from tests.journeys.test_erp_contacts import erp_contact, synced
from tests.support.ops import ops_headers

pytestmark = pytest.mark.journey


async def test_a_user_with_a_240_character_address_reaches_the_erp_and_others_still_flow(
    shop, users_api, erp_simulator, erp_sync
):
    email = f"{uuid4().hex}{'a' * (240 - 32 - len('@example.com'))}@example.com"
    assert len(email) == 240
    r = await shop.gw.post(
        "/api/users", json={"email": email, "first_name": "Lang", "last_name": "Adresse"}, headers=shop.main
    )
    assert r.status_code == 201, r.text
    uid = r.json()["id"]
    created = await erp_contact(erp_simulator, uid, first_name="Lang")
    assert created["email"] == email
    await synced(erp_sync, uid, 1)

    other = await users_api.company()  # a registration of another company is verified and completed
    user, _ = await users_api.user(other)
    await erp_contact(erp_simulator, user["id"], first_name="Bea")
    parked = await erp_sync.get("/ops/parked", headers=ops_headers("erp-sync"))
    assert parked.status_code == 200 and parked.json() == []  # nothing of erp-sync's is waiting for an operator
