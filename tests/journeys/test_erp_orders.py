"""A released order travels to the ERP once, with every detail, and the ERP's word comes back to the buyer."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.conftest import eventually
from tests.journeys.test_erp_support import (
    erp_customer,
    order_in_status,
    registered_shop,
    rejected_order_body,
    sales_orders_at_erp,
)
from tests.support.orders import order_body
from tests.support.shop import BUDGET

pytestmark = pytest.mark.journey


async def test_an_approved_order_becomes_one_sales_order_with_every_detail_and_the_buyer_sees_the_erp_number(
    users_api, erp_simulator, erp_sync
):
    customer = await erp_customer(erp_simulator)
    shop = await registered_shop(users_api, customer["customer_number"])
    buyer, buyer_auth = await shop.person(["buyer"], budget=BUDGET)
    approver, approver_auth = await shop.person(["approver"])
    await shop.approvers(approver, seen_by=buyer_auth)
    await shop.price("A-100", "49.90")  # the ERP's price for this customer
    body = order_body(quantity=12, unit_price="49.90")  # over the buyer's budget: 12 pieces, 598.80 EUR
    body["delivery_address"] = {**body["delivery_address"], "name": "Werk 2", "additional": "Rampe 3"}
    placed = await shop.gw.post("/api/orders", json=body, headers=buyer_auth)
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert order["status"] == "pending_approval"
    approved = await shop.do(order["id"], "approve", approver_auth, {"comment": "ok"})
    assert approved.status_code == 200, approved.text

    confirmed = await order_in_status(shop, order["id"], buyer_auth, "confirmed")

    (sales_order,) = await sales_orders_at_erp(erp_simulator, order["id"])
    assert confirmed["erp_order_number"] == sales_order["sales_order_number"]
    assert confirmed["erp_rejection_reason"] is None
    events = [t["event"] for t in confirmed["timeline"]]
    assert events.index("Released") < events.index("Transmitted") < events.index("ConfirmedByErp")

    request = sales_order["payload"]
    assert request["idempotency_key"] == f"sales-order/{order['id']}"
    assert request["customer_number"] == customer["customer_number"]
    assert request["company_id"] == shop.company.id
    assert (request["buyer_id"], request["approved_by"]) == (buyer["id"], approver["id"])
    assert request["buyer"]["email"] == buyer["email"] and request["buyer"]["last_name"] == buyer["last_name"]
    assert request["approver"]["email"] == approver["email"]
    (line,) = request["lines"]
    assert (line["sku"], line["quantity"], line["description"]) == ("A-100", 12, "Schraube M8")
    assert line["unit_price"] == {"amount": "49.90", "currency": "EUR"}
    assert Decimal(line["line_total"]["amount"]) == Decimal("598.80")
    assert Decimal(request["total"]["amount"]) == Decimal("598.80") and request["total_quantity"] == 12
    assert request["delivery_address"]["name"] == "Werk 2" and request["delivery_address"]["additional"] == "Rampe 3"
    assert request["billing_address"]["city"] == "Berlin"
    assert (request["payment_method"], request["shipping_method"]) == ("invoice", "standard")
    assert (request["buyer_comment"], request["reference"]) == ("Bitte Rampe 3", "PO-4711")
    assert request["released_at"] and request["attempt"] == 1
    assert sales_order["duplicates_discarded"] == 0

    state = (await erp_sync.get(f"/ops/sales-orders/{order['id']}")).json()
    assert (state["status"], state["outcome"], state["erp_order_number"]) == (
        "acknowledged",
        "confirmed",
        sales_order["sales_order_number"],
    )
    assert state["customer_number"] == customer["customer_number"]


async def test_an_order_the_erp_rejects_shows_the_erps_reason_to_the_buyer(shop, erp_simulator, erp_sync):
    _, buyer = await shop.person(["buyer"], budget=BUDGET)
    placed = await shop.gw.post("/api/orders", json=rejected_order_body(), headers=buyer)
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]

    rejected = await order_in_status(shop, order_id, buyer, "erp_rejected")

    assert "REJECT-4711" in rejected["erp_rejection_reason"]
    assert rejected["erp_order_number"] is None
    (sales_order,) = await sales_orders_at_erp(erp_simulator, order_id)
    assert sales_order["status"] == "rejected"
    state = (await erp_sync.get(f"/ops/sales-orders/{order_id}")).json()
    assert (state["status"], state["outcome"]) == ("acknowledged", "rejected")
    assert state["rejection_reason"] == rejected["erp_rejection_reason"]


async def test_the_operator_lists_orders_by_sync_state(shop, erp_sync):
    _, buyer = await shop.person(["buyer"], budget=BUDGET)
    order = await shop.order(buyer, quantity=1)
    await order_in_status(shop, order["id"], buyer, "confirmed")

    async def listed():
        r = await erp_sync.get(
            "/ops/exchanges", params={"kind": "sales_order", "status": "acknowledged", "company_id": shop.company.id}
        )
        assert r.status_code == 200, r.text
        return [x for x in r.json()["items"] if x["subject_id"] == order["id"]]

    (row,) = await eventually(listed, what="the order in erp-sync's list of acknowledged exchanges")
    assert (row["outcome"], row["attempts"]) == ("confirmed", 1)
    assert row["erp_reference"].startswith("SO-")
