"""Approval prices every order itself from the ERP's prices (in-memory store; prices arrive over the wire from
erp-sync's topic): the buyer's price never counts, budgets are judged on the ERP's prices, approvers never type
prices, resubmissions are priced again, and the order keeps which price it used."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from approval.adapters.inbound.kafka import consumer_specs
from approval.application.orders import Orders
from approval.domain.budget import Budget
from approval.domain.model import OrderStatus
from approval.domain.pricing import ArticlePrice, ArticlesRefused, OrderRequest, PriceChanged, RequestedLine
from contracts.base import Money
from contracts.erp_sync import v1 as wire
from contracts.topics import ERP_SYNC_PRICES
from tests.service.registration.wire import Inbox, published
from tests.support.approval import Company
from tests.support.orders import order_request

BUDGET = Budget(max_quantity=100, max_value=Decimal("500.00"), currency="EUR")


@pytest.fixture
def approval():
    orders = Orders(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    inbox = Inbox(orders, "approval", consumer_specs(orders, lambda _company: []))
    ids = iter(range(1, 10_000))

    async def price(customer_number: str, sku: str, amount: str, company_id=None, **fields) -> None:
        message = wire.ArticlePriceChanged(
            customer_number=customer_number, company_id=company_id, sku=sku, description=f"Artikel {sku}",
            unit_price=Money(amount=Decimal(amount), currency=fields.pop("currency", "EUR")),
            changed_at=fields.pop("changed_at", datetime.now(UTC)), **fields,
        )  # fmt: skip
        await inbox.deliver(published(ERP_SYNC_PRICES, customer_number, message, next(ids), "erp-sync"))

    return orders, price


def request(sku: str, quantity: int, shown: str | None = None) -> OrderRequest:
    base = order_request()
    return OrderRequest(**{**vars(base), "lines": (RequestedLine(sku, quantity, Decimal(shown) if shown else None),)})


async def test_the_buyers_low_price_never_counts_and_the_budget_is_judged_on_the_erps(approval):
    orders, price = approval
    company = Company(orders, prices={})
    await price(company.customer_number, "PUMP-9000", "1249.00")
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    with pytest.raises(PriceChanged):
        orders.submit(buyer, request("PUMP-9000", 10, shown="0.0001"))
    held = orders.submit(buyer, request("PUMP-9000", 10))
    assert held.content.total_value == Decimal("12490.00")
    assert held.status is OrderStatus.PENDING_APPROVAL
    assert [x.limit for x in held.exceeded] == ["max_value"]


async def test_a_price_change_from_the_erp_counts_at_the_next_evaluation(approval):
    orders, price = approval
    company = Company(orders, prices={})
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    await price(company.customer_number, "A-100", "9.90")
    assert orders.evaluate(buyer, request("A-100", 10)).content.total_value == Decimal("99.00")
    await price(company.customer_number, "A-100", "60.00")
    evaluation = orders.evaluate(buyer, request("A-100", 10))
    assert evaluation.content.total_value == Decimal("600.00")
    assert evaluation.exceeded


async def test_an_older_price_message_arriving_late_changes_nothing(approval):
    orders, price = approval
    company = Company(orders, prices={})
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    now = datetime.now(UTC)
    await price(company.customer_number, "A-100", "12.00", changed_at=now)
    await price(company.customer_number, "A-100", "1.00", changed_at=now - timedelta(minutes=1))
    assert orders.evaluate(buyer, request("A-100", 1)).content.total_value == Decimal("12.00")


async def test_prices_of_another_customer_never_price_this_companys_orders(approval):
    orders, price = approval
    ours, theirs = Company(orders, prices={}), Company(orders, prices={})
    await price(theirs.customer_number, "A-100", "0.01")
    buyer = ours.member("buyer", ["place_orders"], BUDGET)
    with pytest.raises(ArticlesRefused) as refused:
        orders.evaluate(buyer, request("A-100", 1))
    assert refused.value.code == "unknown_article"


async def test_a_company_known_before_its_customer_number_learns_it_from_the_prices(approval):
    orders, price = approval
    company = Company(orders, prices={})
    old = uuid4()  # a company opened by an older version of approval: no customer number in its view
    orders.save(*orders.company_opened(old, company.main.id))
    await price("C-OLD", "A-100", "9.90", company_id=old)
    assert orders.company(old).customer_number == "C-OLD"


async def test_a_blocked_article_cannot_be_ordered_and_unblocked_it_can(approval):
    orders, price = approval
    company = Company(orders, prices={})
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    await price(company.customer_number, "BLK-1", "5.00", blocked=True)
    with pytest.raises(ArticlesRefused) as refused:
        orders.submit(buyer, request("BLK-1", 1))
    assert refused.value.code == "article_blocked"
    await price(company.customer_number, "BLK-1", "5.00", blocked=False)
    assert orders.submit(buyer, request("BLK-1", 1)).status is OrderStatus.RELEASED


async def test_an_approver_who_changes_quantities_gets_them_priced_never_a_price_of_their_own(approval):
    orders, price = approval
    company = Company(orders, prices={})
    await price(company.customer_number, "B-200", "2.50", price_breaks=[{"min_quantity": 100,
                "unit_price": {"amount": "2.00", "currency": "EUR"}}])  # fmt: skip
    buyer = company.member("buyer", ["place_orders"], Budget(max_quantity=50))
    held = orders.submit(buyer, request("B-200", 60))
    with pytest.raises(PriceChanged):
        orders.approve(company.main, held.id, modified=request("B-200", 150, shown="0.01"))
    released = orders.approve(company.main, held.id, modified=request("B-200", 150))
    line = released.content.lines[0]
    assert (line.quantity, line.unit_price, line.price_break) == (150, Decimal("2.00"), 100)
    assert released.status is OrderStatus.RELEASED


async def test_approving_after_a_price_change_shows_the_new_price_first(approval):
    orders, price = approval
    company = Company(orders, prices={})
    await price(company.customer_number, "A-100", "9.90")
    buyer = company.member("buyer", ["place_orders"], Budget(max_quantity=5))
    held = orders.submit(buyer, request("A-100", 10))
    await price(company.customer_number, "A-100", "19.90")
    with pytest.raises(PriceChanged) as changed:
        orders.approve(company.main, held.id)
    assert changed.value.details[-1]["total"]["amount"] == "199.00"
    assert orders.get_order(company.main, held.id).status is OrderStatus.PENDING_APPROVAL
    released = orders.approve(company.main, held.id, modified=request("A-100", 10, shown="19.90"))
    assert released.content.total_value == Decimal("199.00")
    assert [c.field for c in released.modifications] == ["line:A-100:unit_price"]


async def test_a_resubmission_is_priced_at_its_own_moment(approval):
    orders, price = approval
    company = Company(orders, prices={})
    await price(company.customer_number, "A-100", "9.90")
    buyer = company.member("buyer", ["place_orders"], Budget(max_quantity=5))
    held = orders.submit(buyer, request("A-100", 10))
    orders.reject(company.main, held.id, "zu viel")
    await price(company.customer_number, "A-100", "8.00")
    again = orders.resubmit(buyer, held.id, "nur 5", request("A-100", 5))
    assert again.content.lines[0].unit_price == Decimal("8.00")
    assert again.status is OrderStatus.RELEASED


async def test_a_retried_submission_after_a_price_change_is_the_same_order(approval):
    orders, price = approval
    company = Company(orders, prices={})
    await price(company.customer_number, "A-100", "9.90")
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    first = orders.submit(buyer, request("A-100", 2), idempotency_key="retry-after-change")
    await price(company.customer_number, "A-100", "11.00")
    again = orders.submit(buyer, request("A-100", 2), idempotency_key="retry-after-change")
    assert again.id == first.id
    assert again.content.total_value == Decimal("19.80")


async def test_the_order_keeps_which_price_it_used(approval):
    orders, price = approval
    company = Company(orders, prices={})
    changed_at = datetime.now(UTC) - timedelta(hours=1)
    valid_from = changed_at - timedelta(days=30)
    await price(company.customer_number, "A-100", "9.90", changed_at=changed_at, valid_from=valid_from)
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    order = orders.submit(buyer, request("A-100", 1))
    stored = orders.repository.get(order.id)
    line = stored.content.lines[0]
    assert (line.price_changed_at, line.price_valid_from, line.list_unit_price) == (
        changed_at, valid_from, Decimal("9.90"))  # fmt: skip
    assert orders.repository.get(ArticlePrice.create_id(company.customer_number, "A-100")).version == 1
