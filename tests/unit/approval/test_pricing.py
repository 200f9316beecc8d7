"""The pricing policy: every line priced from the ERP's customer prices, never from what the shop sends."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from approval.domain.pricing import (
    ArticlePrice,
    ArticlesRefused,
    MixedCurrencies,
    PriceBreak,
    PriceChanged,
    RequestedLine,
    price_lines,
)

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def article(sku: str, price: str, **state) -> ArticlePrice:
    whole = {
        "description": f"Artikel {sku}", "unit": "piece", "unit_price": Decimal(price), "currency": "EUR",
        "price_breaks": (), "valid_from": None, "valid_to": None, "blocked": False, "listed": True,
        "changed_at": NOW - timedelta(days=1),
    }  # fmt: skip
    return ArticlePrice.know("10001", sku, {**whole, **state})


def prices(*articles: ArticlePrice) -> dict[str, ArticlePrice]:
    return {a.sku: a for a in articles}


def test_a_line_is_priced_from_the_erp_whatever_the_shop_did_not_send():
    lines, currency = price_lines([RequestedLine("PUMP-9000", 10)], prices(article("PUMP-9000", "1249.00")), "EUR", NOW)
    assert currency == "EUR"
    assert lines[0].unit_price == Decimal("1249.00")
    assert lines[0].line_total == Decimal("12490.00")
    assert lines[0].description == "Artikel PUMP-9000"


def test_a_shown_price_below_the_erp_price_is_price_changed_with_the_current_price():
    with pytest.raises(PriceChanged) as refused:
        price_lines([RequestedLine("PUMP-9000", 10, Decimal("0.0001"), "EUR")], prices(article("PUMP-9000", "1249.00")),
                    "EUR", NOW)  # fmt: skip
    details = refused.value.details
    assert details[0]["field"] == "lines.0.unit_price"
    assert details[0]["unit_price"] == {"amount": "1249.00", "currency": "EUR"}
    assert details[-1] == {"field": "total", "total": {"amount": "12490.00", "currency": "EUR"}}


def test_a_shown_currency_other_than_the_companys_is_price_changed():
    with pytest.raises(PriceChanged):
        price_lines([RequestedLine("A-100", 1, Decimal("9.90"), "ZZZ")], prices(article("A-100", "9.90")), "EUR", NOW)


def test_the_shown_price_when_it_is_the_current_one_is_accepted():
    lines, _ = price_lines(
        [RequestedLine("A-100", 2, Decimal("9.9"), "EUR")], prices(article("A-100", "9.90")), "EUR", NOW
    )
    assert lines[0].line_total == Decimal("19.80")


def test_an_article_not_in_the_assortment_is_unknown_article_per_line():
    with pytest.raises(ArticlesRefused) as refused:
        price_lines([RequestedLine("A-100", 1), RequestedLine("NOPE", 1)], prices(article("A-100", "9.90")), "EUR", NOW)
    assert refused.value.code == "unknown_article"
    assert refused.value.details == [
        {"field": "lines.1.sku", "sku": "NOPE", "code": "unknown_article", "problem": "Not in your assortment."}
    ]


def test_a_blocked_article_is_article_blocked():
    with pytest.raises(ArticlesRefused) as refused:
        price_lines([RequestedLine("BLK-1", 1)], prices(article("BLK-1", "5.00", blocked=True)), "EUR", NOW)
    assert refused.value.code == "article_blocked"


def test_different_problems_on_different_lines_are_named_each():
    with pytest.raises(ArticlesRefused) as refused:
        price_lines([RequestedLine("BLK-1", 1), RequestedLine("NOPE", 1)], prices(article("BLK-1", "5", blocked=True)),
                    "EUR", NOW)  # fmt: skip
    assert refused.value.code == "articles_refused"
    assert [d["code"] for d in refused.value.details] == ["article_blocked", "unknown_article"]


def test_an_article_taken_out_of_the_assortment_is_unknown():
    with pytest.raises(ArticlesRefused) as refused:
        price_lines([RequestedLine("A-100", 1)], prices(article("A-100", "9.90", listed=False)), "EUR", NOW)
    assert refused.value.code == "unknown_article"


def test_a_price_outside_its_validity_is_no_price():
    later = article("A-100", "9.90", valid_from=NOW + timedelta(hours=1))
    ended = article("A-200", "9.90", valid_to=NOW)
    for a in (later, ended):
        with pytest.raises(ArticlesRefused):
            price_lines([RequestedLine(a.sku, 1)], prices(a), "EUR", NOW)
    current = article("A-300", "9.90", valid_from=NOW, valid_to=NOW + timedelta(days=1))
    assert price_lines([RequestedLine("A-300", 1)], prices(current), "EUR", NOW)[0][0].price_valid_from == NOW


def test_a_price_in_another_currency_than_the_companys_is_no_price_for_it():
    with pytest.raises(ArticlesRefused):
        price_lines([RequestedLine("A-100", 1)], prices(article("A-100", "9.90", currency="CHF")), "EUR", NOW)


def test_without_a_known_company_currency_the_prices_must_agree():
    with pytest.raises(MixedCurrencies):
        price_lines([RequestedLine("A", 1), RequestedLine("B", 1)],
                    prices(article("A", "1"), article("B", "1", currency="CHF")), None, NOW)  # fmt: skip


def test_a_quantity_break_lowers_the_unit_price_from_its_quantity_on():
    a = article("B-200", "2.50", price_breaks=(PriceBreak(100, Decimal("2.00")), PriceBreak(1000, Decimal("1.50"))))
    below, _ = price_lines([RequestedLine("B-200", 99)], prices(a), "EUR", NOW)
    at, _ = price_lines([RequestedLine("B-200", 100)], prices(a), "EUR", NOW)
    far, _ = price_lines([RequestedLine("B-200", 5000)], prices(a), "EUR", NOW)
    assert (below[0].unit_price, below[0].price_break) == (Decimal("2.50"), None)
    assert (at[0].unit_price, at[0].price_break, at[0].list_unit_price) == (Decimal("2.00"), 100, Decimal("2.50"))
    assert far[0].unit_price == Decimal("1.50")


def test_a_free_sample_costs_nothing():
    lines, _ = price_lines([RequestedLine("SAMPLE-1", 3)], prices(article("SAMPLE-1", "0.00")), "EUR", NOW)
    assert lines[0].line_total == Decimal("0")


def test_the_line_records_which_price_was_used():
    a = article("A-100", "9.90", valid_from=NOW - timedelta(days=3))
    line = price_lines([RequestedLine("A-100", 1)], prices(a), "EUR", NOW)[0][0]
    assert (line.price_changed_at, line.price_valid_from, line.unit) == (a.changed_at, a.valid_from, "piece")


def test_an_older_price_change_does_not_overwrite_a_newer_one():
    a = article("A-100", "9.90", changed_at=NOW)
    state = {k: getattr(a, k) for k in ArticlePrice.FIELDS}
    assert not a.change({**state, "unit_price": Decimal("1.00"), "changed_at": NOW - timedelta(seconds=1)})
    assert not a.change(state)  # the same again
    assert a.change({**state, "unit_price": Decimal("10.90"), "changed_at": NOW + timedelta(seconds=1)})
    assert a.unit_price == Decimal("10.90")


@given(
    shown=st.decimals(min_value=0, max_value=10**9, places=4, allow_nan=False, allow_infinity=False),
    quantity=st.integers(min_value=1, max_value=1_000_000),
)
def test_whatever_the_shop_shows_the_total_is_the_erp_price_times_the_quantity(shown, quantity):
    a = article("A-100", "9.90")
    try:
        lines, _ = price_lines([RequestedLine("A-100", quantity, shown, "EUR")], prices(a), "EUR", NOW)
    except PriceChanged as changed:
        lines = changed.lines
        assert shown != Decimal("9.90")
    assert lines[0].line_total == Decimal("9.90") * quantity
