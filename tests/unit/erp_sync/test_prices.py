"""The price mirror's rules on the aggregate itself: newest ``changed_at`` wins, the same state again changes
nothing, a full resend unlists what it did not carry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from erp_sync.application.prices import InMemoryPriceIndex, price_entries
from erp_sync.domain.prices import CustomerPrice, PriceListRequest

T0 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)


def state(amount: str = "9.90", **kw: Any) -> dict[str, Any]:
    return {
        "description": "Schraube M8", "unit": "piece", "unit_price": {"amount": amount, "currency": "EUR"},
        "price_breaks": [], "valid_from": None, "valid_to": None, "blocked": False, "listed": True, **kw,
    }  # fmt: skip


def price(amount: str = "9.90", minutes: int = 0) -> CustomerPrice:
    p = CustomerPrice(customer_number="10001", sku="A-100")
    p.record(state(amount), T0 + timedelta(minutes=minutes), None)
    return p


def changes(p: CustomerPrice) -> list[Any]:
    return [e for e in p.collect_events() if isinstance(e, CustomerPrice.Changed)]


def test_a_price_changed_later_replaces_the_mirror():
    p = price()
    assert p.record(state("10.50"), T0 + timedelta(minutes=1), None)
    assert [e.state["unit_price"]["amount"] for e in changes(p)] == ["9.90", "10.50"]
    assert p.changed_at == T0 + timedelta(minutes=1)


def test_an_older_changed_at_changes_nothing():
    p = price(minutes=5)
    p.collect_events()
    assert not p.record(state("1.00"), T0 + timedelta(minutes=4), None)
    assert p.collect_events() == [] and p.state == state()


def test_the_same_state_again_is_no_event():
    p = price()
    p.collect_events()
    assert not p.record(state(), T0 + timedelta(minutes=3), None)
    assert p.collect_events() == []


def test_the_same_change_at_the_same_instant_with_another_state_applies():
    p = price()
    assert p.record(state(blocked=True), T0, None)


def test_the_company_once_registered_makes_the_same_price_a_change_to_hand_on():
    p = price()
    p.collect_events()
    company = uuid4()
    assert p.record(state(), T0, company)
    (changed,) = changes(p)
    assert changed.company_id == company


def test_an_unchanged_article_of_a_resend_is_remembered_without_a_change():
    p = price()
    p.collect_events()
    assert not p.record(state(), T0, None, resend_id="r-1")
    (seen,) = p.collect_events()
    assert isinstance(seen, CustomerPrice.SeenInResend) and seen.resend_id == "r-1"
    assert not p.unlist("r-1", T0 + timedelta(minutes=1))  # it was in the resend


def test_a_resend_that_did_not_carry_the_article_unlists_it():
    p = price(minutes=10)
    p.collect_events()
    assert p.unlist("r-2", T0)
    (unlisted,) = changes(p)
    assert unlisted.state == state(listed=False)
    assert unlisted.changed_at == T0 + timedelta(minutes=10)  # never before the last change applied
    assert not p.unlist("r-2", T0)  # and once only
    assert not p.unlist("r-3", T0)  # not listed anyway


def test_the_index_names_the_listed_articles_a_resend_did_not_carry():
    index = InMemoryPriceIndex()
    a, b, c = (CustomerPrice(customer_number="10001", sku=s) for s in ("A", "B", "C"))
    for p in (a, b, c):
        p.record(state(), T0, None)
    c.record(state(listed=False), T0 + timedelta(minutes=1), None)
    a.record(state(), T0, None, resend_id="r-1")  # carried by the resend, unchanged
    index.record(price_entries([e for p in (a, b, c) for e in p.collect_events()]))
    assert index.listed_not_in("10001", "r-1") == ["B"]
    assert index.listed_not_in("10002", "r-1") == []


def test_a_price_list_request_is_answered_once():
    r = PriceListRequest(idempotency_key="k", customer_number="10001", reason="operator", requested_at=T0)
    r.answer("r-1", 3, 1, T0)
    r.answer("r-2", 5, 0, T0)
    assert (r.status, r.resend_id, r.article_count, r.unlisted) == ("answered", "r-1", 3, 1)
    assert r.id == PriceListRequest.create_id("k")

