"""What approval's HTTP answers show a frontend: the buyer's comment, the words written with each step of the
timeline, and the names of buyers and approvers in order lists."""

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

from approval.adapters.inbound.http import order_out, summary_out
from approval.application.orders import Orders
from approval.domain.budget import Budget
from approval.domain.members import Names
from approval.domain.model import OrderLine
from approval.domain.pricing import OrderRequest
from tests.support.approval import Company
from tests.unit.approval.test_order import content

BUDGET = Budget(max_quantity=10, max_value=Decimal("100.00"), currency="EUR")


def request(quantity: int, comment: str | None = "Bitte an Rampe 3") -> OrderRequest:
    return OrderRequest.of(
        replace(content(OrderLine("A-1", "Schraube", quantity, Decimal("10.00"))), buyer_comment=comment)
    )


def test_the_order_shows_the_buyers_comment_and_the_words_of_each_step():
    orders = Orders(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    company = Company(orders)
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    held = orders.submit(buyer, request(20))
    rejected = orders.reject(company.main, held.id, "Zu viel")
    resubmitted = orders.resubmit(buyer, held.id, "Auf 10 reduziert", request(10))
    names = orders.names([buyer.id, company.main.id])
    out = order_out(resubmitted, orders.timeline(resubmitted), names)
    assert out.buyer_comment == "Bitte an Rampe 3"
    said = {(e.event, e.comment) for e in out.timeline}
    assert ("Rejected", "Zu viel") in said
    assert ("Resubmitted", "Auf 10 reduziert") in said
    assert next(e for e in out.timeline if e.event == "Submitted").comment is None
    assert rejected.status.value == "rejected"


def test_an_order_without_a_comment_says_none():
    orders = Orders(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    company = Company(orders)
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    placed = orders.submit(buyer, request(1, comment=None))
    assert order_out(placed, orders.timeline(placed), Names()).buyer_comment is None


def test_a_listed_order_names_its_buyer_and_approvers():
    buyer, first, second = uuid4(), uuid4(), uuid4()
    now = datetime.now(UTC)
    row = {
        "order_id": uuid4(), "status": "pending_approval", "buyer_id": buyer, "total": Decimal("200.00"),
        "currency": "EUR", "total_quantity": 20, "line_count": 1, "reference": None, "approvers": [first, second],
        "round": 1, "submitted_at": now, "updated_at": now,
    }  # fmt: skip
    summary = summary_out(row, {buyer: "Bea Buyer", first: "Arno Approver"})
    assert (summary.buyer.id, summary.buyer.name) == (buyer, "Bea Buyer")
    assert [(p.id, p.name) for p in summary.approvers_with_names] == [(first, "Arno Approver"), (second, None)]
    assert summary.approvers == [first, second]
