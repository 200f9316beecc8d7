"""Kafka handlers of approval: the users service's events keep approval's view of members and companies; erp-sync's
events bring the ERP's word on released orders and on the companies' use of the customer center."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

from approval.application.orders import Orders
from approval.domain.budget import Budget, PeriodBudget
from approval.domain.credit import CreditFigures
from approval.domain.pricing import PriceBreak
from contracts.erp_sync import v1 as erp_sync
from contracts.topics import ERP_SYNC_CUSTOMERS, ERP_SYNC_PRICES, ERP_SYNC_SALES_ORDERS, USERS_COMPANIES, USERS_USERS
from contracts.users import v1 as users
from kc_runtime.consumer import ConsumerSpec, Handler, Inbound


def _budget(b: users.Budget) -> Budget:
    value, p = b.max_order_value, b.period_budget
    period = None
    if p is not None:
        period = PeriodBudget(p.period, Decimal(p.max_value.amount), p.max_value.currency, p.max_total_quantity)
    return Budget(
        max_quantity=b.max_total_quantity,
        max_value=Decimal(value.amount) if value else None,
        currency=value.currency if value else None,
        period=period,
    )


def consumer_specs(orders: Orders, pending_of_company: Callable[[UUID], list[UUID]]) -> list[ConsumerSpec]:
    """``pending_of_company`` lists a company's pending orders (from the read model) for rerouting."""

    def created(i: Inbound[users.UserCreated]) -> list[Any]:
        m = i.message
        return orders.member_joined(
            m.user_id, m.company_id, m.email, m.first_name, m.last_name, m.language,
            active=m.status == "active", permissions=m.permissions, budget=_budget(m.budget),
            is_main_contact=m.is_main_contact, role_ids=m.role_ids,
        )  # fmt: skip

    def changed(extract: Callable[[Any], dict[str, Any]]) -> Handler:
        def handle(i: Inbound) -> list[Any]:
            return orders.member_changed(i.message.user_id, **extract(i.message))

        return handle

    def company_created(i: Inbound[users.CompanyCreated]) -> list[Any]:
        m = i.message
        return orders.company_opened(m.company_id, m.main_contact_id, m.customer_number, m.currency)

    def approvers(i: Inbound) -> list[Any]:
        m = i.message
        return orders.approvers_changed(
            m.company_id,
            tuple(m.approver_ids),
            pending_of_company(m.company_id),
        )

    def main_contact(i: Inbound[users.MainContactTransferred]) -> list[Any]:
        m = i.message
        return orders.main_contact_changed(m.company_id, m.main_contact_id, pending_of_company(m.company_id))

    user_handlers: dict[Any, Handler] = {
        users.UserCreated: created,
        users.UserRenamed: changed(lambda m: {"first_name": m.first_name, "last_name": m.last_name}),
        users.UserEmailChanged: changed(lambda m: {"email": m.email}),
        users.UserActivated: changed(lambda m: {"active": True}),
        users.UserDeactivated: changed(lambda m: {"active": False}),
        users.UserBudgetSet: changed(lambda m: {"budget": _budget(m.budget)}),
        users.UserRolesSet: changed(
            lambda m: {"permissions": m.permissions, "is_main_contact": m.is_main_contact, "role_ids": m.role_ids}
        ),
        users.UserPermissionsChanged: changed(lambda m: {"permissions": m.permissions}),
        users.UserErased: lambda i: orders.member_erased(i.message.user_id, i.message.company_id, i.message.erased_at),
        users.UserSignInBound: lambda i: orders.member_signed_in(
            i.message.user_id,
            i.message.issuer,
            i.message.subject,
        ),
    }
    company_handlers: dict[Any, Handler] = {
        users.CompanyCreated: company_created,
        users.ApproversSet: approvers,
        users.ApproverRemoved: approvers,
        users.MainContactTransferred: main_contact,
    }

    def transmitted(i: Inbound[erp_sync.SalesOrderTransmitted]) -> list[Any]:
        m = i.message
        return orders.erp_transmitted(m.order_id, i.unit)

    def confirmed(i: Inbound[erp_sync.SalesOrderConfirmedByErp]) -> list[Any]:
        m = i.message
        return orders.erp_confirmed(m.order_id, m.erp_order_number, i.unit, m.confirmed_at)

    def rejected(i: Inbound[erp_sync.SalesOrderRejectedByErp]) -> list[Any]:
        m = i.message
        return orders.erp_rejected(m.order_id, m.reason, i.unit)

    def access(i: Inbound[erp_sync.CustomerCenterAccessChanged]) -> list[Any]:
        m = i.message
        return orders.ordering_allowed_changed(m.company_id, m.allowed)

    def credit(i: Inbound[erp_sync.CompanyCreditChanged]) -> list[Any]:
        m = i.message
        figures = CreditFigures(
            m.currency, m.credit_limit, m.open_receivables, m.open_orders, m.credit_blocked, m.as_of
        )
        return orders.credit.figures_changed(m.company_id, figures)

    def price(i: Inbound[erp_sync.ArticlePriceChanged]) -> list[Any]:
        m = i.message
        state = {
            "description": m.description,
            "unit": m.unit,
            "unit_price": m.unit_price.amount,
            "currency": m.unit_price.currency,
            "price_breaks": tuple(
                PriceBreak(b.min_quantity, b.unit_price.amount)
                for b in sorted(m.price_breaks, key=lambda b: b.min_quantity)
                if b.unit_price.currency == m.unit_price.currency
            ),
            "valid_from": m.valid_from,
            "valid_to": m.valid_to,
            "blocked": m.blocked,
            "listed": m.listed,
            "changed_at": m.changed_at,
        }
        return orders.article_price_changed(m.customer_number, m.sku, state, m.company_id, i.unit)

    def erp_orders(batch: Sequence[Inbound]) -> Mapping[Any, Any]:
        """The orders a batch of the ERP's word names, in one read of the event store."""
        return orders.load_many([i.message.order_id for i in batch])

    erp_order_handlers: dict[Any, Handler] = {
        erp_sync.SalesOrderTransmitted: transmitted,
        erp_sync.SalesOrderConfirmedByErp: confirmed,
        erp_sync.SalesOrderRejectedByErp: rejected,
    }
    # The users' and companies' messages one by one: they are few, and one may reroute orders another touches.
    # The ERP's word on orders in batches: its handlers share the orders within a batch (Orders._erp).
    return [
        # approval's read fence waits on these (ADR 0012): their offsets are committed after every batch
        ConsumerSpec(topic=USERS_USERS, handlers=user_handlers, commit_at_once=True),
        ConsumerSpec(topic=USERS_COMPANIES, handlers=company_handlers, commit_at_once=True),
        ConsumerSpec(topic=ERP_SYNC_SALES_ORDERS, handlers=erp_order_handlers, batch=True, preload=erp_orders),
        ConsumerSpec(
            topic=ERP_SYNC_CUSTOMERS,
            handlers={erp_sync.CustomerCenterAccessChanged: access, erp_sync.CompanyCreditChanged: credit},
        ),
        # Prices come in bursts (a customer's whole assortment at registration or after a resend): in batches.
        ConsumerSpec(topic=ERP_SYNC_PRICES, handlers={erp_sync.ArticlePriceChanged: price}, batch=True),
    ]
