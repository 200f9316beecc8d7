"""The deadlines page converts what is typed (hours, days; German or English decimals) into seconds for the API, and
the API's ISO 8601 durations back into the fields' units."""

import pytest

from frontend.pages_deadlines import seconds, shown


@pytest.mark.parametrize(
    ("typed", "unit", "expected"),
    [("4", 3600, 14400), ("1,5", 3600, 5400), ("0.5", 86400, 43200), (" 14 ", 86400, 1209600)],
)
def test_a_number_typed_is_so_many_seconds(typed, unit, expected):
    assert seconds(typed, unit) == expected


@pytest.mark.parametrize("typed", ["0", "-1", "vier", "NaN", "Infinity", ""])
def test_what_is_not_a_positive_number_is_refused(typed):
    assert seconds(typed, 3600) is None


@pytest.mark.parametrize(
    ("duration", "unit", "expected"),
    [("PT4H", 3600, "4"), ("P1D", 3600, "24"), ("P14D", 86400, "14"), ("PT1H30M", 3600, "1.5"), (None, 3600, "")],
)
def test_a_duration_is_shown_in_the_fields_unit(duration, unit, expected):
    assert shown(duration, unit) == expected
