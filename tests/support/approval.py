"""A customer company as approval knows it, fed directly into approval's application (no users service)."""

from __future__ import annotations

from uuid import uuid4

from approval.application.orders import Orders
from approval.domain.budget import Budget

ALL = ["place_orders", "approve_orders", "view_company_orders", "manage_users", "manage_budgets"]


class Company:
    def __init__(self, orders: Orders) -> None:
        self.orders = orders
        self.id = uuid4()
        self.main = self.member("main", ALL, main=True)
        orders.save(*orders.company_opened(self.id, self.main.id))

    def member(self, name: str, permissions: list[str], budget: Budget | None = None, main: bool = False):
        user_id = uuid4()
        email = f"{name}-{user_id.hex[:6]}@example.com"
        self.orders.save(
            *self.orders.member_joined(
                user_id, self.id, email, name.title(), "Muster", "de",
                active=True, permissions=permissions, budget=budget or Budget(), is_main_contact=main,
            )
        )  # fmt: skip
        return self.orders.caller(email)

    def approvers(self, *members) -> None:
        self.orders.save(*self.orders.approvers_changed(self.id, tuple(m.id for m in members), []))

    def buyer(self):
        return self.member("buyer", ["place_orders"])
