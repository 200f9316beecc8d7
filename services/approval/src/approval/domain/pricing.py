"""Pricing order lines from the ERP's customer prices. The ERP is the price authority: the shop names articles
and quantities (and may say which price it showed the buyer); every price, total and the currency come from here.

``ArticlePrice`` is approval's view of one article of one ERP customer, kept from erp-sync's
``ArticlePriceChanged`` messages. :func:`price_lines` is the pure policy that turns what the shop asked for into
priced lines, or says per line why it cannot (``unknown_article``, ``article_blocked``) or that the price the
buyer saw is no longer the price (``price_changed``). Nothing here reads clocks: callers pass the instant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from approval.domain.model import Address, OrderContent, OrderError, OrderLine, check_articles

_NS = uuid5(NAMESPACE_URL, "urn:kundencenter:approval:prices")


@dataclass(frozen=True)
class PriceBreak:
    min_quantity: int
    unit_price: Decimal


class ArticlePrice(Aggregate):
    """One article of one ERP customer's assortment with its price, as the ERP last said (whole state)."""

    @staticmethod
    def create_id(customer_number: str, sku: str) -> UUID:
        return uuid5(_NS, f"{customer_number}/{sku}")

    class Known(Aggregate.Created):
        customer_number: str
        sku: str
        state: dict[str, Any]

    @classmethod
    def know(cls, customer_number: str, sku: str, state: dict[str, Any]) -> ArticlePrice:
        return cls._create(
            cls.Known, id=cls.create_id(customer_number, sku), customer_number=customer_number, sku=sku, state=state
        )

    def __init__(self, customer_number: str, sku: str, state: dict[str, Any]) -> None:
        self.customer_number = customer_number
        self.sku = sku
        self._apply(state)

    FIELDS = ("description", "unit", "unit_price", "currency", "price_breaks", "valid_from", "valid_to", "blocked",
              "listed", "changed_at")  # fmt: skip

    def change(self, state: dict[str, Any]) -> bool:
        """The ERP's new state of the article. Older than the one applied, or the same again: nothing changes."""
        state = {**state, "price_breaks": tuple(state["price_breaks"])}
        if state["changed_at"] < self.changed_at:
            return False
        if {k: state[k] for k in self.FIELDS if k != "changed_at"} == {
            k: getattr(self, k) for k in self.FIELDS if k != "changed_at"
        }:
            return False
        self._changed(state=state)
        return True

    class Changed(Aggregate.Event):
        state: dict[str, Any]

    @event(Changed)
    def _changed(self, state: dict[str, Any]) -> None:
        self._apply(state)

    def _apply(self, state: dict[str, Any]) -> None:
        self.description: str = state["description"]
        self.unit: str = state["unit"]
        self.unit_price: Decimal = state["unit_price"]
        self.currency: str = state["currency"]
        self.price_breaks: tuple[PriceBreak, ...] = tuple(state["price_breaks"])
        self.valid_from: datetime | None = state["valid_from"]
        self.valid_to: datetime | None = state["valid_to"]
        self.blocked: bool = state["blocked"]
        self.listed: bool = state["listed"]
        self.changed_at: datetime = state["changed_at"]

    def valid_at(self, at: datetime) -> bool:
        return (self.valid_from is None or self.valid_from <= at) and (self.valid_to is None or at < self.valid_to)

    def unit_price_for(self, quantity: int) -> tuple[Decimal, int | None]:
        """The price per unit for a line of ``quantity``, and the break that gave it (its minimum quantity)."""
        best: PriceBreak | None = None
        for b in self.price_breaks:
            if quantity >= b.min_quantity and (best is None or b.min_quantity > best.min_quantity):
                best = b
        return (best.unit_price, best.min_quantity) if best else (self.unit_price, None)


# ---- what the shop asks for ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestedLine:
    """A line as the shop sends it: the article, how many, and optionally the price and currency it showed."""

    sku: str
    quantity: int
    shown_unit_price: Decimal | None = None
    shown_currency: str | None = None


@dataclass(frozen=True)
class LineProblem:
    index: int
    sku: str
    code: str
    """``unknown_article`` | ``article_blocked``"""
    message: str


@dataclass(frozen=True)
class PriceDifference:
    index: int
    sku: str
    shown_unit_price: Decimal | None
    shown_currency: str | None
    line: OrderLine


class ArticlesRefused(OrderError):
    """Some lines name articles the customer cannot order now (a 422; nothing is stored)."""

    code = "articles_refused"

    def __init__(self, problems: Sequence[LineProblem]) -> None:
        self.problems = tuple(problems)
        codes = {p.code for p in self.problems}
        if len(codes) == 1:
            self.code = codes.pop()
        skus = ", ".join(p.sku for p in self.problems)
        super().__init__(f"These articles cannot be ordered: {skus}.")

    def own_details(self) -> list[Any]:
        return [
            {"field": f"lines.{p.index}.sku", "sku": p.sku, "code": p.code, "problem": p.message} for p in self.problems
        ]


class PriceChanged(OrderError):
    """The price the buyer was shown is not the price now (a 409; nothing is stored): the details carry the
    current price of each line and the new total, so the shop can show them before the buyer submits again."""

    code = "price_changed"

    def __init__(self, differences: Sequence[PriceDifference], lines: Sequence[OrderLine], currency: str) -> None:
        self.differences = tuple(differences)
        self.lines = tuple(lines)
        self.currency = currency
        super().__init__("The price of at least one article changed since it was shown; here are the current ones.")

    def own_details(self) -> list[Any]:
        out: list[dict[str, Any]] = []
        for d in self.differences:
            out.append(
                {
                    "field": f"lines.{d.index}.unit_price",
                    "sku": d.sku,
                    "shown": {"amount": _text(d.shown_unit_price), "currency": d.shown_currency},
                    "unit_price": {"amount": _text(d.line.unit_price), "currency": self.currency},
                    "line_total": {"amount": _text(d.line.line_total), "currency": self.currency},
                }
            )
        total = sum((ln.line_total for ln in self.lines), Decimal("0"))
        out.append({"field": "total", "total": {"amount": _text(total), "currency": self.currency}})
        return out


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


class MixedCurrencies(OrderError):
    code = "mixed_currencies"


def price_lines(
    requested: Sequence[RequestedLine],
    prices: Mapping[str, ArticlePrice],
    currency: str | None,
    at: datetime,
) -> tuple[tuple[OrderLine, ...], str]:
    """The lines priced from the customer's ``prices`` (by sku) valid ``at``, and the order's currency.

    ``currency``: the company's (none known: the prices' own, which must then agree). Raises
    :class:`ArticlesRefused` for lines that cannot be ordered, else :class:`PriceChanged` when a shown price (or
    currency) is not the current one.
    """
    problems: list[LineProblem] = []
    found: list[tuple[int, RequestedLine, ArticlePrice]] = []
    for i, req in enumerate(requested):
        price = prices.get(req.sku)
        if price is None or not price.listed:
            problems.append(LineProblem(i, req.sku, "unknown_article", "Not in your assortment."))
        elif currency is not None and price.currency != currency:
            problems.append(LineProblem(i, req.sku, "unknown_article", f"No price in {currency}."))
        elif price.blocked:
            problems.append(LineProblem(i, req.sku, "article_blocked", "Blocked: cannot be ordered at the moment."))
        elif not price.valid_at(at):
            problems.append(LineProblem(i, req.sku, "unknown_article", "No price valid at the moment."))
        else:
            found.append((i, req, price))
    if problems:
        raise ArticlesRefused(problems)
    currencies = {p.currency for _, _, p in found}
    if len(currencies) != 1:
        raise MixedCurrencies("The articles of this order are priced in different currencies.")
    order_currency = currencies.pop()
    lines: list[OrderLine] = []
    differences: list[PriceDifference] = []
    for i, req, price in found:
        unit_price, break_from = price.unit_price_for(req.quantity)
        line = OrderLine(
            sku=req.sku,
            description=price.description,
            quantity=req.quantity,
            unit_price=unit_price,
            unit=price.unit,
            list_unit_price=price.unit_price,
            price_break=break_from,
            price_valid_from=price.valid_from,
            price_valid_to=price.valid_to,
            price_changed_at=price.changed_at,
        )
        lines.append(line)
        shown_differs = req.shown_unit_price is not None and req.shown_unit_price != unit_price
        if shown_differs or (req.shown_currency is not None and req.shown_currency != order_currency):
            differences.append(PriceDifference(i, req.sku, req.shown_unit_price, req.shown_currency, line))
    if differences:
        raise PriceChanged(differences, lines, order_currency)
    return tuple(lines), order_currency


@dataclass(frozen=True)
class OrderRequest:
    """An order as the shop asks for it, before pricing: articles and quantities, addresses, methods, texts."""

    lines: tuple[RequestedLine, ...]
    delivery_address: Address
    billing_address: Address
    payment_method: str
    shipping_method: str
    buyer_comment: str | None = None
    reference: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "lines", tuple(self.lines))
        check_articles([line.sku for line in self.lines])

    @classmethod
    def of(cls, content: OrderContent) -> OrderRequest:
        """The request an order's content answers, with its prices as the ones shown (to price it again)."""
        return cls(
            lines=tuple(RequestedLine(ln.sku, ln.quantity, ln.unit_price, content.currency) for ln in content.lines),
            delivery_address=content.delivery_address,
            billing_address=content.billing_address,
            payment_method=content.payment_method,
            shipping_method=content.shipping_method,
            buyer_comment=content.buyer_comment,
            reference=content.reference,
        )

    def priced(self, lines: tuple[OrderLine, ...], currency: str) -> OrderContent:
        return OrderContent(
            lines=lines,
            currency=currency,
            delivery_address=self.delivery_address,
            billing_address=self.billing_address,
            payment_method=self.payment_method,
            shipping_method=self.shipping_method,
            buyer_comment=self.buyer_comment,
            reference=self.reference,
        )

    def matches(self, content: OrderContent) -> bool:
        """``content`` is what this request asked for, whatever prices it was given (a retried submission)."""
        return self.priced(
            tuple(OrderLine(r.sku, "", r.quantity, Decimal(0)) for r in self.lines), content.currency
        ).same_request(content)
