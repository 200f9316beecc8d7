"""The ERP-facing contract as the ERP team reads it: stable topic families, idempotency keys, valid examples; and the
simulated ERP's rules."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

import pytest

from contracts.base import Money
from contracts.common import Address, OrderLine
from contracts.erp.v1 import SalesOrderRequested
from contracts.topics import ERP, ERP_INBOUND_TOPICS, ERP_OUTBOUND_TOPICS
from standins.erp_simulator.erp import Rules, sales_order_answer

ERP_MESSAGES = sorted(
    {m for t in (*ERP_OUTBOUND_TOPICS, *ERP_INBOUND_TOPICS) for m in t.messages}, key=lambda m: m.__name__
)


def test_the_erp_facing_topics_are_their_own_family():
    assert all(t.name.startswith("erp.outbound.") and t.consumers == (ERP,) for t in ERP_OUTBOUND_TOPICS)
    assert all(t.name.startswith("erp.inbound.") and t.consumers == ("erp-sync",) for t in ERP_INBOUND_TOPICS)


@pytest.mark.parametrize("message", ERP_MESSAGES, ids=lambda m: m.__name__)
def test_every_erp_message_has_a_valid_example_and_an_idempotency_key(message):
    examples = message.model_config["json_schema_extra"]["examples"]
    assert examples
    for example in examples:
        parsed = message.model_validate(example)
        assert parsed.idempotency_key


def _request(sku: str = "A-1", total: str = "10.00") -> SalesOrderRequested:
    price = Money(amount=Decimal(total), currency="EUR")
    address = Address(name="M", street="S 1", postal_code="1", city="B", country="DE")
    order_id = uuid4()
    return SalesOrderRequested(
        idempotency_key=f"sales-order/{order_id}", order_id=order_id, company_id=uuid4(), buyer_id=uuid4(),
        lines=[OrderLine(sku=sku, description="d", quantity=1, unit_price=price, line_total=price)], total=price,
        delivery_address=address, billing_address=address, payment_method="invoice", shipping_method="standard",
        requested_at=datetime.now(UTC),
    )  # fmt: skip


def test_the_simulated_erp_rejects_articles_it_does_not_sell_and_totals_over_its_limit():
    rules = Rules(reject_sku_prefix="REJECT-", reject_total_above=Decimal("100"))
    assert rules.decide(_request()) == ("confirmed", None, None)
    status, reason, code = rules.decide(_request(sku="REJECT-9"))
    assert (status, code) == ("rejected", "unknown_article") and "REJECT-9" in (reason or "")
    assert rules.decide(_request(total="100.01"))[2] == "credit_limit"


def test_the_simulated_erp_can_drop_orders_as_a_fault():
    assert Rules(ignore_sku_prefix="LOST-").ignores(_request(sku="LOST-1"))
    assert not Rules().ignores(_request(sku="LOST-1"))


def test_the_answer_to_every_copy_of_a_sales_order_is_the_same():
    order = {"idempotency_key": "sales-order/x", "order_id": uuid4(), "customer_number": "1", "status": "confirmed",
             "sales_order_number": "SO-100001", "rejection_reason": None}  # fmt: skip
    now = datetime.now(UTC)
    assert sales_order_answer(order, now) == sales_order_answer(dict(order), now)
    assert sales_order_answer(order, now).erp_order_number == "SO-100001"
