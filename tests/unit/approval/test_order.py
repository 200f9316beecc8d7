from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from approval.domain.budget import UNLIMITED
from approval.domain.model import Address, InvalidOrder, Order, OrderContent, OrderLine, OrderStatus, WrongState

ADDRESS = Address(name="Muster GmbH", street="Hauptstr. 1", postal_code="10115", city="Berlin", country="DE")


def content(*lines: OrderLine) -> OrderContent:
    return OrderContent(
        lines=lines or (OrderLine("A-1", "Bolt", 3, Decimal("1.25")),),
        currency="EUR",
        delivery_address=ADDRESS,
        billing_address=ADDRESS,
        payment_method="invoice",
        shipping_method="standard",
    )


def test_totals_are_computed_from_the_lines():
    c = content(OrderLine("A", "a", 3, Decimal("1.10")), OrderLine("B", "b", 2, Decimal("0.45")))
    assert c.total_value == Decimal("4.20")
    assert c.total_quantity == 5


def test_an_order_without_lines_is_refused():
    with pytest.raises(InvalidOrder):
        OrderContent(
            lines=(),
            currency="EUR",
            delivery_address=ADDRESS,
            billing_address=ADDRESS,
            payment_method="invoice",
            shipping_method="standard",
        )


def test_a_line_with_zero_quantity_is_refused():
    with pytest.raises(InvalidOrder):
        content(OrderLine("A", "a", 0, Decimal("1")))


def test_released_order_pins_the_content_it_released():
    order = Order(
        company_id=uuid4(), buyer_id=uuid4(), content=content(), budget=UNLIMITED, submitted_at=datetime.now(UTC)
    )
    order.release(at=datetime.now(UTC))
    released = [e for e in order.collect_events() if isinstance(e, Order.Released)]
    assert order.status is OrderStatus.RELEASED
    assert len(released) == 1 and released[0].content == order.content


def test_a_released_order_cannot_be_released_again():
    order = Order(
        company_id=uuid4(), buyer_id=uuid4(), content=content(), budget=UNLIMITED, submitted_at=datetime.now(UTC)
    )
    order.release(at=datetime.now(UTC))
    with pytest.raises(WrongState):
        order.release(at=datetime.now(UTC))
    assert sum(isinstance(e, Order.Released) for e in order.collect_events()) == 1


def test_an_empty_comment_is_refused():
    order = Order(
        company_id=uuid4(), buyer_id=uuid4(), content=content(), budget=UNLIMITED, submitted_at=datetime.now(UTC)
    )
    with pytest.raises(InvalidOrder):
        order.add_comment(uuid4(), "   ", datetime.now(UTC))


@given(
    st.lists(
        st.tuples(st.integers(min_value=1, max_value=10_000), st.decimals(min_value=0, max_value=100_000, places=2)),
        min_size=1,
        max_size=20,
    )
)
def test_total_value_is_the_exact_sum_of_quantity_times_price(pairs):
    lines = tuple(OrderLine(f"S{i}", "x", q, p) for i, (q, p) in enumerate(pairs))
    c = content(*lines)
    assert c.total_value == sum((q * p for q, p in pairs), Decimal(0))
    assert c.total_quantity == sum(q for q, _ in pairs)
