"""Erasing a user reaches the ERP (ADR 0035 decision 5): the main contact erases a deactivated user through the
gateway; erp-sync asks the ERP (simulator) to erase its contact person with ``ContactErasureRequested`` (ids only),
the ERP erases it and answers ``ContactErased``, and erp-sync records the answer — its view of the exchange keeps no
names, and no table of erp-sync's database but its event store holds the person's markers."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import eventually
from tests.support.erasure import found_in_tables, holds_any
from tests.support.infra import dsn_for, random_suffix
from tests.support.users import unique_email

pytestmark = pytest.mark.journey


async def test_the_erp_is_asked_to_erase_the_contact_and_erp_sync_records_its_answer(shop, erp_simulator, erp_sync):
    tag = random_suffix()
    first, last = f"Erika{tag}", f"Loeschmann{tag}"
    user, _ = await shop.api.user(
        shop.company, ["buyer"], email=unique_email(f"erased-{tag}"), first_name=first, last_name=last
    )
    uid, markers = user["id"], [first, last, user["email"]]

    async def erp_contact() -> dict[str, Any] | None:
        r = await erp_simulator.get(f"/contacts/{uid}")
        return r.json() if r.status_code == 200 and r.json()["first_name"] == first else None

    contact_id = (await eventually(erp_contact, what="the ERP to keep the contact"))["contact_id"]
    deactivated = await shop.gw.post(f"/api/users/{uid}/deactivate", headers=shop.main)
    assert deactivated.status_code == 200, deactivated.text
    erased = await shop.gw.post(f"/api/users/{uid}/erasure", headers=shop.main)
    assert erased.status_code == 200, erased.text

    async def erased_at_the_erp() -> dict[str, Any] | None:
        r = await erp_simulator.get(f"/contacts/{uid}")
        return r.json() if r.status_code == 200 and r.json().get("erased_at") else None

    at_erp = await eventually(erased_at_the_erp, what="the ERP to erase the contact")
    assert at_erp["contact_id"] == contact_id and at_erp["active"] is False
    assert (at_erp["email"], at_erp["first_name"], at_erp["last_name"]) == (None, None, None)
    asked = at_erp["messages"][-1]
    assert asked["event_type"] == "ContactErasureRequested"
    received = (await erp_simulator.get(f"/messages/{asked['idempotency_key']}")).json()
    assert received["kind"] == "contact_erasure"

    async def recorded() -> dict[str, Any] | None:
        r = await erp_sync.get(f"/ops/contacts/{uid}")
        state = r.json() if r.status_code == 200 else None
        return state if state and state["erp_erased_at"] and state["status"] == "acknowledged" else None

    state = await eventually(recorded, what="erp-sync to record the ERP's ContactErased")
    assert (state["erased"], state["message"], state["erp_contact_id"]) == (True, "erasure_requested", contact_id)
    assert state["idempotency_key"] == asked["idempotency_key"]
    assert holds_any(str(state), markers) == []

    async def projected() -> list[Any] | None:
        rows = (await erp_sync.get("/ops/exchanges", params={"kind": "contact", "company_id": shop.company.id})).json()
        mine = [r for r in rows["items"] if r["subject_id"] == uid and r["outcome"] == "erased"]
        return mine or None

    await eventually(projected, what="erp-sync's read model to show the erasure")
    assert await found_in_tables(dsn_for("erp_sync"), markers, skip={"exchanges_events"}) == []
