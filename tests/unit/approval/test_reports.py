"""Which orders a controller's report covers, and who may ask (ADR 0021): pure, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from approval.adapters.inbound.reports_http import FiguresOut, rows, to_csv
from approval.application.reports import (
    InvalidPeriod,
    PeriodTooLong,
    ReportQuery,
    rate,
    report_query,
)
from approval.domain.budget import BUDGET_TIME_ZONE
from approval.domain.members import Member
from approval.domain.model import InvalidOrder, NotAllowed

NOW = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)


def member(*permissions: str, active: bool = True) -> Member:
    m = Member.join(uuid4(), uuid4(), "c@example.com", "Clara", "Controller", "de")
    m.update(permissions=list(permissions), active=active)
    return m


CONTROLLER = member("view_company_orders", "view_reports")


def test_without_a_period_the_report_covers_the_current_calendar_month_in_berlin():
    q = report_query(CONTROLLER, now=datetime(2026, 11, 30, 23, 30, tzinfo=UTC))  # 00:30 on 1 December in Berlin
    assert (q.start, q.end) == (
        datetime(2026, 12, 1, tzinfo=BUDGET_TIME_ZONE), datetime(2027, 1, 1, tzinfo=BUDGET_TIME_ZONE),
    )  # fmt: skip


def test_dates_are_midnight_in_berlin_and_date_times_keep_their_offset():
    q = report_query(CONTROLLER, "2026-03-29", "2026-03-30T12:00:00+00:00", now=NOW)
    assert q.start == datetime(2026, 3, 29, tzinfo=BUDGET_TIME_ZONE)
    assert q.start.utcoffset() == timedelta(hours=1)  # the night the clocks go forward: still CET at midnight
    assert q.end == datetime(2026, 3, 30, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "end", "error"),
    [
        ("2026-03-01", "2026-02-01", InvalidPeriod),
        ("2026-03-01", "2026-03-01", InvalidPeriod),  # `until` is exclusive: an empty period is a mistake
        ("yesterday", None, InvalidPeriod),
        ("2026-01-01T00:00:00", "2026-02-01", InvalidPeriod),  # no offset: whose midnight?
        ("2026-13-01", "2027-01-01", InvalidPeriod),
        ("2024-01-01", "2026-01-03", PeriodTooLong),
    ],
)
def test_a_bad_period_is_refused_with_its_code(start, end, error):
    with pytest.raises(error) as refused:
        report_query(CONTROLLER, start, end, now=NOW)
    assert refused.value.code in ("invalid_period", "period_too_long")


def test_two_years_are_allowed_a_leap_day_included():
    q = report_query(CONTROLLER, "2024-01-01", "2026-01-01", now=NOW)
    assert q.end - q.start == timedelta(days=731)


@pytest.mark.parametrize(
    "who",
    [member("view_company_orders", "approve_orders", "manage_budgets"), member("view_reports", active=False)],
    ids=["without view_reports", "deactivated"],
)
def test_only_an_active_member_with_view_reports_may_ask(who):
    with pytest.raises(NotAllowed):
        report_query(who, now=NOW)


def test_an_unknown_status_is_refused():
    with pytest.raises(InvalidOrder):
        report_query(CONTROLLER, status="lost", now=NOW)


def test_rates_have_four_places_and_none_without_a_whole():
    assert (rate(1, 3), rate(0, 5), rate(2, 2), rate(0, 0)) == ("0.3333", "0.0000", "1.0000", None)


def _figures(reason: str, sku: str) -> FiguresOut:
    q = ReportQuery(NOW, NOW + timedelta(days=1))
    return FiguresOut.model_validate({
        "period": {"from": q.start, "until": q.end}, "spend": [], "spend_by_reference": [], "orders_by_status": [],
        "cycle_time": {"decisions": 1, "p50_seconds": 1.0, "p90_seconds": 1.0}, "cycle_time_per_approver": [],
        "rejections": {"decisions": 1, "rejected": 1, "rate": "1.0000", "reasons": [{"reason": reason, "count": 1}],
                       "erp": {"answered": 0, "rejected": 0, "rate": None, "reasons": []}},
        "budget_use": [],
        "top_articles": [{"sku": sku, "description": "x", "quantity": 1, "value": {"amount": "1", "currency": "EUR"},
                          "orders": 1}],
    })  # fmt: skip


@pytest.mark.parametrize("text", ["=HYPERLINK(1)", "+1", "-1+1", "@SUM(A1)", "\tx"])
def test_a_text_a_spreadsheet_would_run_is_kept_text_in_the_csv(text):
    csv = to_csv(_figures(text, text))
    assert f"rejection_reasons,'{text}" in csv or f"rejection_reasons,\"'{text}" in csv
    assert f"top_articles,'{text}" in csv or f"top_articles,\"'{text}" in csv
    assert ("rejection_reasons", text, "", "count", 1) in rows(_figures(text, "A-1"))  # the figure itself unchanged
