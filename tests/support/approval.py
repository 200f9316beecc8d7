"""A customer company as approval knows it, fed directly into approval's application (no users service)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

from approval.application.orders import Orders
from approval.domain.budget import Budget
from approval.domain.pricing import PriceBreak
from tests.support.users import signed_in

PRICES = {"A-1": "10.00", "A-100": "9.90", "LOST-1": "9.90"}
"""The articles every test company can order (as the ERP simulator's default price list has them)."""

ALL = ["place_orders", "approve_orders", "view_company_orders", "manage_users", "manage_budgets"]


class Company:
    def __init__(self, orders: Orders, prices: dict[str, str] | None = None) -> None:
        self.orders = orders
        self.id = uuid4()
        self.customer_number = f"T-{self.id.hex[:10]}"
        self.main = self.member("main", ALL, main=True)
        orders.save(*orders.company_opened(self.id, self.main.id, self.customer_number, "EUR"))
        for sku, unit_price in (PRICES if prices is None else prices).items():
            self.price(sku, unit_price)

    def price(self, sku: str, unit_price: str, **state: Any) -> None:
        """The ERP's price of ``sku`` for this company, as erp-sync hands it on (``state`` overrides fields)."""
        breaks = tuple(PriceBreak(q, Decimal(p)) for q, p in state.pop("breaks", {}).items())
        whole = {
            "description": f"Artikel {sku}", "unit": "piece", "unit_price": Decimal(unit_price), "currency": "EUR",
            "price_breaks": breaks, "valid_from": None, "valid_to": None, "blocked": False, "listed": True,
            "changed_at": datetime.now(UTC),
        }  # fmt: skip
        self.orders.save(*self.orders.article_price_changed(self.customer_number, sku, {**whole, **state}))

    def member(self, name: str, permissions: list[str], budget: Budget | None = None, main: bool = False):
        user_id = uuid4()
        email = f"{name}-{user_id.hex[:6]}@example.com"
        self.orders.save(
            *self.orders.member_joined(
                user_id, self.id, email, name.title(), "Muster", "de",
                active=True, permissions=permissions, budget=budget or Budget(), is_main_contact=main,
            )
        )  # fmt: skip
        return self.orders.caller(signed_in(email))

    def approvers(self, *members) -> None:
        self.orders.save(*self.orders.approvers_changed(self.id, tuple(m.id for m in members), []))

    def buyer(self):
        return self.member("buyer", ["place_orders"])
