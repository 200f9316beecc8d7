"""A customer company ready for ordering, used through the gateway (journey tests)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from tests.conftest import eventually
from tests.support.orders import order_body
from tests.support.users import JourneyCompany, UsersApi

BUDGET = {"max_total_quantity": 10, "max_order_value": {"amount": "500.00", "currency": "EUR"}}


class Shop:
    """One company with a buyer (budget: 10 pieces, 500 EUR per order) and approvers, ready in approval."""

    def __init__(self, api: UsersApi, company: JourneyCompany) -> None:
        self.api = api
        self.gw = api.gateway
        self.company = company
        self.main = company.main

    async def person(self, roles: list[str], language: str = "de", budget: dict | None = None) -> tuple[dict, dict]:
        fields: dict[str, Any] = {"language": language}
        if budget is not None:
            fields["budget"] = budget
        user, headers = await self.api.user(self.company, roles, **fields)
        await eventually(lambda: self.known_to_approval(headers), what="approval to know the new user")
        return user, headers

    async def known_to_approval(self, headers: dict) -> bool:
        r = await self.gw.get("/api/orders", headers=headers)
        return r.status_code == 200

    async def approvers(
        self, *users: dict, seen_by: dict, expected: set[str] | None = None, by: dict | None = None
    ) -> None:
        """Name the approvers, and wait until approval routes ``seen_by``'s over-budget orders to them. ``by``: who
        names them (default: the main contact, who cannot name themselves)."""
        r = await self.gw.put(
            "/api/company/approvers", json={"user_ids": [u["id"] for u in users]}, headers=by or self.main
        )
        assert r.status_code == 200, r.text
        want = expected if expected is not None else {u["id"] for u in users}

        async def routed() -> bool:
            r = await self.gw.post("/api/orders/evaluate", json=order_body(quantity=1000), headers=seen_by)
            return {a["id"] for a in r.json()["approvers"]} == want

        await eventually(routed, what="approval to route to the new approvers")

    async def order(self, headers: dict, quantity: int, sku: str = "A-100", shown: str | None = None) -> dict:
        """Place an order of ``quantity`` × ``sku`` (``shown``: the unit price the shop showed, if it sends one)."""
        body = order_body(quantity=quantity, unit_price=shown, sku=sku)
        r = await self.gw.post("/api/orders", json=body, headers=headers)
        assert r.status_code == 201, r.text
        return r.json()

    async def order_to(self, headers: dict, quantity: int, city: str) -> dict:
        """Place an order of ``quantity`` × A-100 delivered to ``city`` (the other fields as :meth:`order`)."""
        body = order_body(quantity=quantity)
        body["delivery_address"] = {**body["delivery_address"], "city": city}
        r = await self.gw.post("/api/orders", json=body, headers=headers)
        assert r.status_code == 201, r.text
        return r.json()

    async def price(self, sku: str, unit_price: str, **fields: Any) -> None:
        """Change the company's price of ``sku`` in the ERP (the simulator's hook), and wait until approval
        prices with it: the change travels ERP → Kafka → erp-sync → Kafka → approval."""
        number = self.company.registration.company.customer_number
        async with httpx.AsyncClient(base_url=self.api.erp_simulator, timeout=30) as erp:
            r = await erp.put(f"/admin/customers/{number}/prices/{sku}", json={"unit_price": unit_price, **fields})
            assert r.status_code == 200, r.text

        async def priced() -> bool:
            r = await self.gw.post("/api/orders/evaluate", json=order_body(quantity=1, sku=sku), headers=self.main)
            return r.status_code == 200 and Decimal(r.json()["lines"][0]["unit_price"]["amount"]) == Decimal(unit_price)

        await eventually(priced, what=f"approval to price {sku} at {unit_price}")

    async def get(self, order_id: str, headers: dict) -> httpx.Response:
        return await self.gw.get(f"/api/orders/{order_id}", headers=headers)

    async def do(self, order_id: str, action: str, headers: dict, body: dict | None = None) -> httpx.Response:
        return await self.gw.post(f"/api/orders/{order_id}/{action}", json=body or {}, headers=headers)
