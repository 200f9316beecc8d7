"""The controller's figures (ADR 0021): who may read them, and which orders a report covers.

The figures themselves come from a projection of the order events into fact tables (the outbound adapter
``approval.adapters.outbound.figures``); here is what the request may ask for and what it is checked against:
the ``view_reports`` permission of the caller as approval knows it from the users service's events (never the
token), a period of at most :data:`MAX_PERIOD`, and the caller's company — always theirs, never a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from uuid import UUID

from approval.domain.budget import BUDGET_TIME_ZONE, Period
from approval.domain.members import Member
from approval.domain.model import InvalidOrder, NotAllowed, OrderStatus

VIEW_REPORTS = "view_reports"

MAX_PERIOD = timedelta(days=731)
"""The longest period one report covers (two years, a leap day included)."""

STATUSES = tuple(s.value for s in OrderStatus)


class InvalidPeriod(InvalidOrder):
    code = "invalid_period"


class PeriodTooLong(InvalidOrder):
    code = "period_too_long"


@dataclass(frozen=True)
class ReportQuery:
    """The orders a report covers: those submitted in ``[start, end)``, narrowed by the filters (None: any).

    ``user_id``: the buyer; ``approver_id``: orders this approver decided (and, for the decision figures, only
    their decisions); ``status``: the order's current status; ``reference``: the order's reference (cost centre),
    exactly."""

    start: datetime
    end: datetime
    user_id: UUID | None = None
    approver_id: UUID | None = None
    status: str | None = None
    reference: str | None = None


def _moment(value: str, name: str) -> datetime:
    """A date (midnight in the budgets' time zone, Europe/Berlin) or a date-time with an offset."""
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), tzinfo=BUDGET_TIME_ZONE)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidPeriod(f"`{name}` must be a date (2026-12-01) or a date-time with an offset.") from None
    if moment.tzinfo is None:
        raise InvalidPeriod(f"`{name}` needs an offset (e.g. 2026-12-01T00:00:00+01:00) or must be a date.")
    return moment


def report_query(
    member: Member,
    start: str | None = None,
    end: str | None = None,
    *,
    user_id: UUID | None = None,
    approver_id: UUID | None = None,
    status: str | None = None,
    reference: str | None = None,
    now: datetime,
) -> ReportQuery:
    """The caller may read figures (``view_reports``) and asks for a valid period: ``from`` defaults to the start
    of the current calendar month, ``until`` (exclusive) to its end (Europe/Berlin)."""
    if not member.can(VIEW_REPORTS):
        raise NotAllowed("Your role does not allow reading the company's figures.")
    month = Period.of("month", now)
    begin = _moment(start, "from") if start else month.start
    finish = _moment(end, "until") if end else month.end
    if finish <= begin:
        raise InvalidPeriod("`until` must be after `from`.")
    if finish - begin > MAX_PERIOD:
        raise PeriodTooLong("A report covers at most two years.")
    if status is not None and status not in STATUSES:
        raise InvalidOrder(f"`status` must be one of {', '.join(STATUSES)}.")
    return ReportQuery(begin, finish, user_id, approver_id, status, reference)


def rate(part: int, whole: int) -> str | None:
    """A share as a decimal string with four places (None when there is nothing to share)."""
    if whole == 0:
        return None
    return str((Decimal(part) / whole).quantize(Decimal("0.0001")))
