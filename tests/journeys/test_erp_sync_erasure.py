"""Erasing a user reaches the ERP (ADR 0035 decision 5): the main contact erases a deactivated user through the
gateway; erp-sync asks the ERP (simulator) to erase its contact person with ``ContactErasureRequested`` (ids only),
the ERP erases it and answers ``ContactErased``, and erp-sync records the answer — its view of the exchange keeps no
names, and no table of erp-sync's database holds the person's markers: not even its event store, which keeps them
sealed with the key users destroyed (ADR 0035 plan step 1)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import eventually
from tests.support.erasure import found_in_tables, holds_any
from tests.support.infra import dsn_for, random_suffix
from tests.support.orders import order_body
from tests.support.shop import BUDGET
from tests.support.users import unique_email

pytestmark = pytest.mark.journey


async def test_the_erp_is_asked_to_erase_the_contact_and_erp_sync_records_its_answer(shop, erp_simulator, erp_sync):
    tag = random_suffix()
    first, last, comment = f"Erika{tag}", f"Loeschmann{tag}", f"Rampe Loeschmann {tag}"
    user, buyer = await shop.api.user(
        shop.company, ["buyer"], email=unique_email(f"erased-{tag}"), first_name=first, last_name=last, budget=BUDGET
    )
    uid, markers = user["id"], [first, last, user["email"], comment]
    await eventually(lambda: shop.known_to_approval(buyer), what="approval to know the buyer")
    placed = await shop.gw.post("/api/orders", json={**order_body(quantity=1), "buyer_comment": comment}, headers=buyer)
    assert placed.status_code == 201, placed.text

    async def at_erp() -> dict[str, Any] | None:
        r = await erp_simulator.get(f"/sales-orders/{placed.json()['id']}")
        return r.json() if r.status_code == 200 else None

    sales_order = await eventually(at_erp, what="the released order at the ERP")
    payload = sales_order.get("payload", sales_order)
    # the ERP is told the buyer plain (decision 5); erp-sync keeps the request sealed with the buyer's key
    assert (payload["buyer"]["first_name"], payload["buyer_comment"]) == (first, comment)

    async def erp_contact() -> dict[str, Any] | None:
        r = await erp_simulator.get(f"/contacts/{uid}")
        return r.json() if r.status_code == 200 and r.json()["first_name"] == first else None

    contact_id = (await eventually(erp_contact, what="the ERP to keep the contact"))["contact_id"]
    live = (await erp_sync.get(f"/ops/contacts/{uid}")).json()
    assert (live["first_name"], live["email"]) == (first, user["email"])  # opened with the key while they live
    # sealed from the start: no table of erp-sync's database holds the markers as they are, base64 or URL-encoded
    assert await found_in_tables(dsn_for("erp_sync"), markers, skip=set()) == []
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
    assert await found_in_tables(dsn_for("erp_sync"), markers, skip=set()) == []
