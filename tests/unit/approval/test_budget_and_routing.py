from decimal import Decimal
from uuid import uuid4

from hypothesis import given
from hypothesis import strategies as st

from approval.domain.budget import UNLIMITED, Budget, evaluate
from approval.domain.model import OrderLine
from approval.domain.routing import route
from tests.unit.approval.test_order import content


def order(quantity: int, price: str = "10.00"):
    return content(OrderLine("A", "a", quantity, Decimal(price)))


def test_an_unlimited_budget_never_holds_an_order():
    assert evaluate(order(10_000, "999.99"), UNLIMITED) == ()


def test_over_the_quantity_limit_names_the_limit_and_both_figures():
    (ex,) = evaluate(order(11), Budget(max_quantity=10))
    assert (ex.limit, ex.allowed, ex.actual) == ("max_quantity", Decimal(10), Decimal(11))


def test_over_the_value_limit_names_the_limit_and_both_amounts():
    (ex,) = evaluate(order(3, "40.00"), Budget(max_value=Decimal("100.00"), currency="EUR"))
    assert (ex.limit, ex.allowed, ex.actual, ex.currency) == ("max_value", Decimal("100.00"), Decimal("120.00"), "EUR")


def test_exactly_at_the_limits_is_within_budget():
    assert evaluate(order(10, "10.00"), Budget(max_quantity=10, max_value=Decimal("100.00"), currency="EUR")) == ()


def test_an_order_in_another_currency_than_the_budget_needs_approval():
    (ex,) = evaluate(order(1, "1.00"), Budget(max_value=Decimal("100"), currency="CHF"))
    assert ex.reason == "currency_mismatch"


@given(
    quantity=st.integers(1, 500),
    price=st.decimals(min_value=0, max_value=1000, places=2),
    max_quantity=st.none() | st.integers(0, 500),
    max_value=st.none() | st.decimals(min_value=0, max_value=100_000, places=2),
)
def test_budget_evaluation_matches_its_definition(quantity, price, max_quantity, max_value):
    o = order(quantity, str(price))
    exceeded = {e.limit for e in evaluate(o, Budget(max_quantity, max_value, "EUR" if max_value is not None else None))}
    assert ("max_quantity" in exceeded) == (max_quantity is not None and quantity > max_quantity)
    assert ("max_value" in exceeded) == (max_value is not None and quantity * price > max_value)


def test_routing_sends_to_the_approvers_other_than_the_buyer():
    buyer, a, b, main = uuid4(), uuid4(), uuid4(), uuid4()
    assert route(buyer, [a, buyer, b], main) == (a, b)


def test_without_approvers_the_main_contact_decides():
    buyer, main = uuid4(), uuid4()
    assert route(buyer, [], main) == (main,)


def test_a_buyer_who_is_the_only_approver_goes_to_the_main_contact():
    buyer, main = uuid4(), uuid4()
    assert route(buyer, [buyer], main) == (main,)


def test_the_main_contacts_own_order_goes_to_the_approvers():
    main, a = uuid4(), uuid4()
    assert route(main, [a], main) == (a,)


def test_the_main_contact_alone_has_nobody_to_decide():
    main = uuid4()
    assert route(main, [main], main) == ()
