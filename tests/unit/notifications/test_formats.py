"""Money, numbers and dates in a mail read as its reader writes them: German ``1.234,50 €``, English ``€1,234.50``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from notifications.adapters.outbound.formats import Change, Formats

NBSP = "\xa0"  # Babel keeps amount and currency on one line
DE, EN = Formats("de"), Formats("en")


@pytest.mark.parametrize(
    ("formats", "value", "expected"),
    [
        (DE, {"amount": "1234.5", "currency": "EUR"}, f"1.234,50{NBSP}€"),
        (EN, {"amount": "1234.5", "currency": "EUR"}, "€1,234.50"),
        (DE, {"amount": "1234567.891", "currency": "EUR"}, f"1.234.567,89{NBSP}€"),
        (EN, {"amount": "0.5", "currency": "CHF"}, "CHF0.50"),
        (DE, {"amount": "99", "currency": "CHF"}, f"99,00{NBSP}CHF"),
    ],
)
def test_an_amount_with_its_currency_reads_as_money_in_the_mails_language(formats, value, expected):
    assert formats.money(value) == expected


def test_an_amount_is_never_rounded_through_a_float():
    # 0.125 has no exact float; Babel rounds the Decimal half-even to the currency's two places.
    assert DE.money({"amount": "1000000000000.125", "currency": "EUR"}) == f"1.000.000.000.000,12{NBSP}€"


def test_an_amount_and_a_currency_given_apart_read_the_same_as_together():
    assert DE.money("1000", "EUR") == DE.money({"amount": "1000", "currency": "EUR"}) == f"1.000,00{NBSP}€"


def test_an_amount_without_a_currency_is_a_plain_number():
    assert (DE.money("1234.5"), EN.money("1234.5")) == ("1.234,5", "1,234.5")


def test_what_is_not_an_amount_is_shown_as_it_came_instead_of_failing_the_mail():
    assert DE.money({"amount": "n/a", "currency": "EUR"}) == "n/a"
    assert DE.money("Infinity", "EUR") == "Infinity"
    assert DE.number("zwölf") == "zwölf"


def test_quantities_are_grouped_per_language():
    assert (DE.number("12000"), EN.number(12000), DE.number(12)) == ("12.000", "12,000", "12")


def test_a_moment_reads_in_the_shops_time_zone_with_its_name():
    winter = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    assert DE.moment(winter) == "27. November 2026, 11:00 MEZ"
    assert EN.moment(winter) == "27 November 2026, 11:00 CET"
    summer = datetime(2026, 7, 1, 22, 30, tzinfo=UTC)  # a day later in Berlin, summer time
    assert DE.moment(summer) == "2. Juli 2026, 00:30 MESZ"
    assert EN.moment(summer) == "2 July 2026, 00:30 CEST"


def test_a_moment_stored_as_iso_text_in_any_offset_reads_the_same():
    at = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    new_york = at.astimezone(timezone(timedelta(hours=-5)))
    assert DE.moment(at.isoformat()) == DE.moment(new_york.isoformat()) == DE.moment("2026-11-27T10:00:00Z")


def test_a_moment_queued_before_mails_stored_iso_text_still_reads_per_language():
    assert DE.moment("2026-11-27 10:00 UTC") == "27. November 2026, 11:00 MEZ"


def test_a_moment_reads_in_another_time_zone_when_the_shop_is_elsewhere():
    assert Formats("en", "Europe/London").moment("2026-11-27T10:00:00+00:00") == "27 November 2026, 10:00 GMT"


def test_an_unknown_language_formats_as_german_like_the_templates_fall_back():
    assert Formats("fr").money({"amount": "1234.5", "currency": "EUR"}) == f"1.234,50{NBSP}€"


def test_an_approvers_changes_read_with_labels_quantities_and_prices_of_the_mails_language():
    modifications = [
        {"field": "line:A-100:quantity", "before": "1200", "after": "900"},
        {"field": "line:B-2:unit_price", "before": "1249.5", "after": "1100"},
        {"field": "line:C-3", "before": None, "after": "3 × 12.50"},
        {"field": "line:D-4", "before": "2 × 5", "after": None},
        {"field": "delivery_address", "before": "A, 1 B", "after": "C, 2 D"},
        {"field": "something_new", "before": "x", "after": "y"},
    ]
    assert DE.changes(modifications, "EUR") == [
        Change("Menge A-100", "1.200", "900"),
        Change("Stückpreis B-2", f"1.249,50{NBSP}€", f"1.100,00{NBSP}€"),
        Change("Position C-3", None, f"3 × 12,50{NBSP}€"),
        Change("Position D-4", f"2 × 5,00{NBSP}€", None),
        Change("Lieferadresse", "A, 1 B", "C, 2 D"),
        Change("something_new", "x", "y"),
    ]
    assert [c.label for c in EN.changes(modifications, "EUR")][:3] == ["quantity A-100", "unit price B-2", "line C-3"]
    assert EN.changes(modifications, "EUR")[1] == Change("unit price B-2", "€1,249.50", "€1,100.00")


@pytest.mark.parametrize(
    ("key", "german", "english"),
    [
        ("month:2026-12", "Dezember 2026", "December 2026"),
        ("quarter:2026-Q4", "4. Quartal 2026", "4th quarter 2026"),
        ("year:2027", "2027", "2027"),
        ("week:2026-50", "week:2026-50", "week:2026-50"),  # a period the mails do not know yet: as it came
    ],
)
def test_a_budget_period_reads_in_the_mails_language(key, german, english):
    assert (DE.period(key), EN.period(key)) == (german, english)
