"""Texts, money and dates in the user's language."""

from frontend.i18n import TEXTS, Texts, from_accept_language


def test_money_and_dates_follow_the_locale():
    assert Texts("de").money({"amount": "1234.5", "currency": "EUR"}) == "1.234,50\xa0€"
    assert Texts("en").money({"amount": "1234.5", "currency": "EUR"}) == "€1,234.50"
    assert Texts("de").datetime("2026-12-05T08:00:00Z") == "05.12.2026, 09:00:00"


def test_an_api_error_code_has_a_sentence_and_an_unknown_one_shows_the_apis_own():
    assert Texts("en").error("user_inactive").startswith("Your access has been deactivated")
    assert Texts("de").error("no_such_code", "The API's sentence.") == "The API's sentence."
    assert "no_such_code" in Texts("de").error("no_such_code")


def test_every_text_has_both_languages_with_the_same_placeholders():
    import re

    for key, (de, en) in TEXTS.items():
        assert de and en, key
        assert set(re.findall(r"\{(\w+)\}", de)) == set(re.findall(r"\{(\w+)\}", en)), key


def test_the_browsers_language_is_taken_when_it_is_one_of_ours():
    assert from_accept_language("en-GB,en;q=0.9,de;q=0.8") == "en"
    assert from_accept_language("fr-FR,fr;q=0.9") == "de"
    assert from_accept_language(None) == "de"
