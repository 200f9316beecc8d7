"""The simulated ERP's customer prices: the default price list, the seed, and the messages that carry them.

Every customer created through ``POST /admin/customers`` gets the **default price list** (in the customer's
currency), published at once (one ``CustomerArticlePriceChanged`` per article on
the ERP's customer-prices topic). Existing journeys, ``bench/run.py`` and ``bench/chaos.py`` order these
articles, so they keep their meaning:

| sku                     | description                   | unit  | price | from 100 pieces | note                     |
|-------------------------|-------------------------------|-------|-------|-----------------|--------------------------|
| A-100                   | Schraube M8                   | piece | 9.90  |                 |                          |
| SKU-0 … SKU-49          | Testartikel 0 … 49            | piece | 9.90  |                 | bench and chaos          |
| A-1, LOST-1, IDEM-1     | Testartikel …                 | piece | 9.90  |                 | journeys                 |
| REJECT-9, REJECT-4711   | Auslaufartikel …              | piece | 9.90  |                 | the ERP rejects the order|
| B-200                   | Unterlegscheibe M8            | piece | 2.50  | 2.00            | a quantity break         |
| M-300                   | Kabel NYM-J 3x1,5             | m     | 1.20  |                 |                          |
| BLK-1                   | Gesperrter Artikel            | piece | 19.90 |                 | blocked                  |
| SAMPLE-1                | Warenprobe (kostenlos)        | piece | 0.00  |                 | a free sample            |

The **seed customers** (:mod:`.seed`) have the default list in their currency with these differences (inserted
and published once, at the first start with an empty catalogue: only what was never published is published):

| customer | currency | differences from the default list                                          |
|----------|----------|----------------------------------------------------------------------------|
| 10001    | EUR      | PUMP-9000 Kreiselpumpe 9000 at 1,249.00                                    |
| 10002    | EUR      | A-100 at 8.50; PUMP-9000 at 1,189.00, from 5 pieces 1,099.00                |
| 10003    | EUR      | none                                                                       |
| 10004    | EUR      | PUMP-9000 at 1,299.00, blocked                                             |
| 10005    | GBP      | the default list in GBP; A-100 at 8.40                                     |
| 10006    | EUR      | none                                                                       |

A price changes at runtime through ``PUT /admin/customers/{n}/prices/{sku}`` (a new version, published like any
ERP change); ``CustomerPriceListRequested`` is answered with a full resend (every article, then
``CustomerPriceListResent``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from contracts.base import Money
from contracts.erp.v1 import CustomerArticlePriceChanged, CustomerPriceListResent, PriceBreak

NINE_NINETY = Decimal("9.90")


def _article(
    sku: str,
    description: str,
    price: str | Decimal,
    unit: str = "piece",
    breaks: list[tuple[int, str]] | None = None,
    blocked: bool = False,
) -> dict[str, Any]:
    return {
        "sku": sku,
        "description": description,
        "unit": unit,
        "unit_price": Decimal(price),
        "price_breaks": [{"min_quantity": q, "unit_price": p} for q, p in breaks or []],
        "blocked": blocked,
    }


DEFAULT_PRICE_LIST: list[dict[str, Any]] = [
    _article("A-100", "Schraube M8", NINE_NINETY),
    *(_article(f"SKU-{i}", f"Testartikel {i}", NINE_NINETY) for i in range(50)),
    _article("A-1", "Testartikel A-1", NINE_NINETY),
    _article("LOST-1", "Testartikel LOST-1", NINE_NINETY),
    _article("IDEM-1", "Testartikel IDEM-1", NINE_NINETY),
    _article("REJECT-9", "Auslaufartikel REJECT-9", NINE_NINETY),
    _article("REJECT-4711", "Auslaufartikel REJECT-4711", NINE_NINETY),
    _article("B-200", "Unterlegscheibe M8", "2.50", breaks=[(100, "2.00")]),
    _article("M-300", "Kabel NYM-J 3x1,5", "1.20", unit="m"),
    _article("BLK-1", "Gesperrter Artikel", "19.90", blocked=True),
    _article("SAMPLE-1", "Warenprobe (kostenlos)", "0.00"),
]
"""The articles every customer created through ``POST /admin/customers`` gets (amounts in its currency)."""

SEED_DIFFERENCES: dict[str, list[dict[str, Any]]] = {
    "10001": [_article("PUMP-9000", "Kreiselpumpe 9000", "1249.00")],
    "10002": [
        _article("A-100", "Schraube M8", "8.50"),
        _article("PUMP-9000", "Kreiselpumpe 9000", "1189.00", breaks=[(5, "1099.00")]),
    ],
    "10004": [_article("PUMP-9000", "Kreiselpumpe 9000", "1299.00", blocked=True)],
    "10005": [_article("A-100", "Schraube M8", "8.40")],
}


def price_list(customer_number: str | None = None) -> list[dict[str, Any]]:
    """The articles of a new customer: the default list, with the seed's differences for a seed customer."""
    by_sku = {a["sku"]: a for a in DEFAULT_PRICE_LIST}
    for a in SEED_DIFFERENCES.get(customer_number or "", []):
        by_sku[a["sku"]] = a
    return list(by_sku.values())


def idempotency_key(row: dict[str, Any]) -> str:
    return f"price/{row['customer_number']}/{row['sku']}/{row['version']}"


def article_message(
    row: dict[str, Any], resend_id: str | None = None, key: str | None = None
) -> CustomerArticlePriceChanged:
    """The message of one stored price row (``customer_prices``); in a resend with ``resend_id`` and its own key."""
    currency = row["currency"]
    return CustomerArticlePriceChanged(
        idempotency_key=key or idempotency_key(row),
        customer_number=row["customer_number"],
        sku=row["sku"],
        description=row["description"],
        unit=row["unit"],
        unit_price=Money(amount=row["unit_price"], currency=currency),
        price_breaks=[
            PriceBreak(
                min_quantity=b["min_quantity"],
                unit_price=Money(amount=Decimal(str(b["unit_price"])), currency=currency),
            )
            for b in row["price_breaks"]
        ],
        valid_from=row["valid_from"],
        valid_to=row["valid_to"],
        blocked=row["blocked"],
        listed=row["listed"],
        resend_id=resend_id,
        changed_at=row["changed_at"],
    )


def resent_message(
    customer_number: str, resend_id: str, article_count: int, in_reply_to: str | None, now: datetime
) -> CustomerPriceListResent:
    return CustomerPriceListResent(
        idempotency_key=f"price-list/{resend_id}",
        customer_number=customer_number,
        resend_id=resend_id,
        article_count=article_count,
        in_reply_to=in_reply_to,
        sent_at=now,
    )
