"""Money, numbers and dates in a mail as its reader writes them (Babel).

German mails read ``1.234,50 €`` and ``27. November 2026, 11:00 MEZ``; English ones ``€1,234.50`` and
``27 November 2026, 11:00 CET``. Times are shown in the shop's time zone (the mails do not know the reader's),
with the zone's name. The locales are the reference frontend's, so a mail and the page it links to agree.

A value that is not what its filter expects is shown as it came rather than failing the mail.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time, get_datetime_format
from babel.numbers import format_currency, format_decimal

LOCALES = {"de": "de_DE", "en": "en_GB"}
SHOP_TIMEZONE = "Europe/Berlin"

# Mails queued before the dates were stored as ISO 8601 hold this text instead.
_LEGACY_MOMENT = "%Y-%m-%d %H:%M UTC"

# The modifications an approver makes (approval's ``OrderChange.field``): a line's quantity or unit price, a line
# added or removed (``<quantity> × <unit price>``), an address, a method or the reference.
_LINE_FIELD = re.compile(r"^line:(?P<sku>.+?)(?::(?P<part>quantity|unit_price))?$")
_LINE_VALUE = re.compile(r"^\s*(?P<quantity>\d+)\s*×\s*(?P<price>\S+)\s*$")
_PERIOD = re.compile(
    r"^(?:month:(?P<year_m>\d{4})-(?P<month>0[1-9]|1[0-2])|quarter:(?P<year_q>\d{4})-Q(?P<quarter>[1-4])|year:(?P<year_y>\d{4}))$"
)
_LABELS = {
    "de": {
        "quantity": "Menge {sku}",
        "unit_price": "Stückpreis {sku}",
        "line": "Position {sku}",
        "delivery_address": "Lieferadresse",
        "billing_address": "Rechnungsadresse",
        "payment_method": "Zahlungsart",
        "shipping_method": "Versandart",
        "reference": "Referenz",
    },
    "en": {
        "quantity": "quantity {sku}",
        "unit_price": "unit price {sku}",
        "line": "line {sku}",
        "delivery_address": "delivery address",
        "billing_address": "billing address",
        "payment_method": "payment method",
        "shipping_method": "shipping method",
        "reference": "reference",
    },
}


@dataclass(frozen=True)
class Change:
    """One modification of an order as a mail shows it."""

    label: str
    before: str | None
    after: str | None


class Formats:
    """The formats of one mail language: ``money``, ``number``, ``moment`` and ``changes`` (template filters)."""

    def __init__(self, language: str, timezone: tzinfo | str = SHOP_TIMEZONE) -> None:
        self.language = language if language in LOCALES else "de"
        self.locale = LOCALES[self.language]
        self.timezone = ZoneInfo(timezone) if isinstance(timezone, str) else timezone

    def money(self, value: Any, currency: str | None = None) -> str:
        """``{"amount": "1234.5", "currency": "EUR"}`` (or an amount and a currency) → ``1.234,50 €``; an amount
        without a currency is a plain number."""
        if isinstance(value, dict):
            value, currency = value.get("amount"), value.get("currency") or currency
        amount = _decimal(value)
        if amount is None:
            return "" if value is None else str(value)
        if not currency:
            return format_decimal(amount, locale=self.locale)
        return format_currency(amount, str(currency), locale=self.locale)

    def number(self, value: Any) -> str:
        """``12000`` → ``12.000`` (German) or ``12,000`` (English)."""
        amount = _decimal(value)
        if amount is None:
            return "" if value is None else str(value)
        return format_decimal(amount, locale=self.locale)

    def moment(self, value: Any) -> str:
        """A point in time (a datetime or its ISO 8601 text) → ``27. November 2026, 11:00 MEZ`` in the shop's
        time zone."""
        at = _moment(value)
        if at is None:
            return "" if value is None else str(value)
        local = at.astimezone(self.timezone)
        date = format_date(local, "long", locale=self.locale)
        time = format_time(local, "short", tzinfo=self.timezone, locale=self.locale)
        zone = format_time(local, "z", tzinfo=self.timezone, locale=self.locale)
        pattern = str(get_datetime_format("long", locale=self.locale)).replace("'", "")
        return pattern.replace("{0}", f"{time} {zone}").replace("{1}", date)

    def day(self, value: Any) -> str:
        """A calendar day (a date or its ISO 8601 text) → ``6. Dezember 2026`` / ``6 December 2026``."""
        if isinstance(value, date):
            found: date | None = value
        else:
            try:
                found = date.fromisoformat(str(value or "").strip())
            except ValueError:
                found = None
        if found is None:
            return "" if value is None else str(value)
        return format_date(found, "long", locale=self.locale)

    def period(self, value: Any) -> str:
        """A budget period's key (approval's ``month:2026-12``, ``quarter:2026-Q4``, ``year:2026``) →
        ``Dezember 2026``, ``4. Quartal 2026``, ``2026`` (``December 2026``, ``4th quarter 2026``)."""
        found = _PERIOD.match(str(value or ""))
        if found is None:
            return "" if value is None else str(value)
        year = int(found["year_m"] or found["year_q"] or found["year_y"])
        if found["month"]:
            return format_date(date(year, int(found["month"]), 1), "LLLL y", locale=self.locale)
        if found["quarter"]:
            return format_date(date(year, 3 * int(found["quarter"]) - 2, 1), "QQQQ y", locale=self.locale)
        return str(year)

    def changes(self, modifications: Any, currency: str | None = None) -> list[Change]:
        """An approver's modifications (``{"field", "before", "after"}``) with a label in the mail's language and
        quantities and prices formatted (prices in the order's ``currency``)."""
        return [self._change(m, currency) for m in modifications or () if isinstance(m, dict)]

    def _change(self, modification: dict[str, Any], currency: str | None) -> Change:
        field = str(modification.get("field") or "")
        before, after = modification.get("before"), modification.get("after")
        labels = _LABELS[self.language]
        line = _LINE_FIELD.match(field)
        if line is None:
            return Change(labels.get(field, field), before, after)
        part = line["part"] or "line"
        label = labels[part].format(sku=line["sku"])
        if part == "quantity":
            return Change(label, self._or_none(self.number, before), self._or_none(self.number, after))
        if part == "unit_price":
            price = partial(self.money, currency=currency)
            return Change(label, self._or_none(price, before), self._or_none(price, after))
        return Change(label, self._line(before, currency), self._line(after, currency))

    def _line(self, value: Any, currency: str | None) -> str | None:
        """``3 × 12.50`` → ``3 × 12,50 €``."""
        if value is None:
            return None
        found = _LINE_VALUE.match(str(value))
        if found is None:
            return str(value)
        return f"{self.number(found['quantity'])} × {self.money(found['price'], currency)}"

    @staticmethod
    def _or_none(fmt: Callable[[Any], str], value: Any) -> str | None:
        return None if value is None else fmt(value)

    def filters(self) -> dict[str, Any]:
        return {
            "money": self.money,
            "number": self.number,
            "moment": self.moment,
            "day": self.day,
            "period": self.period,
            "changes": self.changes,
        }


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        at = value
    elif isinstance(value, str):
        try:
            at = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            try:
                at = datetime.strptime(value.strip(), _LEGACY_MOMENT)
            except ValueError:
                return None
    else:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)
