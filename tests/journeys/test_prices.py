"""The ERP is the price authority (through the gateway, the whole stack): a buyer cannot set a price with their own
token; every line is priced from the ERP's customer prices, which travel ERP → Kafka → erp-sync → Kafka → approval."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.conftest import eventually
from tests.support.orders import order_body
from tests.support.shop import BUDGET, Shop

pytestmark = pytest.mark.journey

BUDGET_500 = {"max_order_value": {"amount": "500.00", "currency": "EUR"}}


def lines(*items: tuple[str, int], **line_fields) -> dict:
    body = order_body()
    body["lines"] = [{"sku": sku, "quantity": q, **line_fields} for sku, q in items]
    return body


async def test_the_buyers_own_low_price_never_reaches_the_erp_and_the_budget_is_judged_on_the_erps(
    shop: Shop, erp_simulator
):
    _, buyer = await shop.person(["buyer"], budget=BUDGET_500)
    await shop.price("PUMP-9000", "1249.00")

    cheap = lines(("PUMP-9000", 10), unit_price="0.0001", currency="EUR")
    refused = await shop.gw.post("/api/orders", json=cheap, headers=buyer)
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert error["code"] == "price_changed"
    assert error["details"][0]["unit_price"] == {"amount": "1249.00", "currency": "EUR"}
    assert error["details"][-1]["total"] == {"amount": "12490.00", "currency": "EUR"}
    assert (await shop.gw.get("/api/orders", headers=buyer)).json()["total"] == 0  # nothing stored

    placed = await shop.gw.post("/api/orders", json=lines(("PUMP-9000", 10)), headers=buyer)
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert order["status"] == "pending_approval"  # 12,490.00 EUR is over the 500 EUR budget
    assert [x["limit"] for x in order["exceeded_limits"]] == ["max_value"]
    assert order["total"] == {"amount": "12490.00", "currency": "EUR"}

    approved = await shop.do(order["id"], "approve", shop.main, {"comment": "ok"})
    assert approved.status_code == 200, approved.text

    async def at_erp():
        r = await erp_simulator.get(f"/sales-orders/{order['id']}")
        return r.json() if r.status_code == 200 else None

    sales_order = await eventually(at_erp, what="the approved order at the ERP")
    (line,) = sales_order["payload"]["lines"]
    assert line["unit_price"] == {"amount": "1249.00", "currency": "EUR"}
    assert sales_order["payload"]["total"] == {"amount": "12490.00", "currency": "EUR"}


async def test_a_made_up_currency_and_price_are_refused_and_the_order_is_in_the_companys_currency(shop: Shop):
    _, buyer = await shop.person(["buyer"], budget={"max_total_quantity": 10})
    bogus = lines(("A-100", 1), unit_price="999999999", currency="ZZZ")
    r = await shop.gw.post("/api/orders", json=bogus, headers=buyer)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "price_changed")
    placed = await shop.gw.post("/api/orders", json=lines(("A-100", 1)), headers=buyer)
    assert placed.json()["total"] == {"amount": "9.90", "currency": "EUR"}


async def test_the_shown_price_when_current_is_accepted_and_lines_say_which_price_was_used(shop: Shop):
    _, buyer = await shop.person(["buyer"], budget=BUDGET)
    placed = await shop.gw.post("/api/orders", json=lines(("A-100", 2), unit_price="9.90", currency="EUR"),
                                headers=buyer)  # fmt: skip
    assert placed.status_code == 201, placed.text
    (line,) = placed.json()["lines"]
    assert line["unit_price"] == {"amount": "9.90", "currency": "EUR"}
    assert line["price"]["list_unit_price"] == {"amount": "9.90", "currency": "EUR"}
    assert line["price"]["changed_at"]


async def test_an_article_outside_the_assortment_is_unknown_article_per_line(shop: Shop):
    _, buyer = await shop.person(["buyer"], budget=BUDGET)
    r = await shop.gw.post("/api/orders", json=lines(("A-100", 1), ("NO-SUCH-ARTICLE", 1)), headers=buyer)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "unknown_article"
    assert [(d["field"], d["sku"], d["code"]) for d in error["details"]] == [
        ("lines.1.sku", "NO-SUCH-ARTICLE", "unknown_article")
    ]


async def test_a_blocked_article_is_article_blocked(shop: Shop):
    _, buyer = await shop.person(["buyer"], budget=BUDGET)
    r = await shop.gw.post("/api/orders/evaluate", json=lines(("BLK-1", 1)), headers=buyer)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "article_blocked"
    assert r.json()["error"]["details"][0]["code"] == "article_blocked"


async def test_a_quantity_break_prices_the_line_from_its_quantity_on(shop: Shop):
    _, buyer = await shop.person(["buyer"], budget={"max_total_quantity": 1000})
    small = (await shop.gw.post("/api/orders/evaluate", json=lines(("B-200", 99)), headers=buyer)).json()
    large = (await shop.gw.post("/api/orders/evaluate", json=lines(("B-200", 100)), headers=buyer)).json()
    assert small["lines"][0]["unit_price"]["amount"] == "2.50"
    assert large["lines"][0]["unit_price"]["amount"] == "2.00"
    assert large["lines"][0]["price"]["price_break"] == 100
    assert Decimal(large["total"]["amount"]) == Decimal("200.00")


async def test_a_free_sample_is_priced_zero(shop: Shop):
    _, buyer = await shop.person(["buyer"], budget=BUDGET)
    placed = await shop.gw.post("/api/orders", json=lines(("SAMPLE-1", 3)), headers=buyer)
    assert placed.status_code == 201, placed.text
    assert Decimal(placed.json()["total"]["amount"]) == 0
    assert placed.json()["status"] == "released"


async def test_an_erp_price_change_reaches_the_next_evaluation(shop: Shop):
    _, buyer = await shop.person(["buyer"], budget=BUDGET_500)
    before = (await shop.gw.post("/api/orders/evaluate", json=lines(("A-100", 10)), headers=buyer)).json()
    assert (before["total"]["amount"], before["within_budget"]) == ("99.00", True)
    await shop.price("A-100", "55.00")  # through the ERP simulator, Kafka, erp-sync and Kafka again
    after = (await shop.gw.post("/api/orders/evaluate", json=lines(("A-100", 10)), headers=buyer)).json()
    assert (after["total"]["amount"], after["within_budget"]) == ("550.00", False)
