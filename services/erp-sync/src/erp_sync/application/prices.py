"""Use cases of erp-sync around the ERP's customer prices: mirror each article per customer (newest ``changed_at``
wins, the same state again changes nothing), end a full resend (the articles it did not carry leave the
assortment), and ask the ERP for a full resend (at registration, or by an operator).

Which articles a customer has is kept in the price index (:class:`PriceIndex`): one row per customer and article
with whether it is listed and the last resend that carried it, written in the events' transaction
(PostgreSQL: ``erp_sync.adapters.outbound.price_index``) — no aggregate grows with a customer's assortment.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from erp_sync.domain.customers import Customer
from erp_sync.domain.prices import CustomerPrice, PriceListRequest

PRICE_INDEX_KWARG = "price_index_entries"
"""The keyword under which a save hands its price index entries to the event recorder."""


@dataclass(frozen=True)
class PriceIndexEntry:
    """What a save changes in the index for one article: ``listed`` and ``resend_id`` (None: unchanged)."""

    customer_number: str
    sku: str
    listed: bool | None
    resend_id: str | None


def price_entries(events: Sequence[Any]) -> list[PriceIndexEntry]:
    out: list[PriceIndexEntry] = []
    for e in events:
        if isinstance(e, CustomerPrice.Changed):
            out.append(PriceIndexEntry(e.customer_number, e.sku, bool(e.state.get("listed", True)), e.resend_id))
        elif isinstance(e, CustomerPrice.SeenInResend):
            out.append(PriceIndexEntry(e.customer_number, e.sku, None, e.resend_id))
    return out


class PriceIndex(Protocol):
    def record(self, entries: Sequence[PriceIndexEntry]) -> None:
        """Called after a save committed (the PostgreSQL index has written them in its transaction)."""

    def listed_not_in(self, customer_number: str, resend_id: str) -> list[str]:
        """The skus of the customer's listed articles that the resend ``resend_id`` did not carry."""


@dataclass
class InMemoryPriceIndex:
    """The index in a dict: for the in-memory event store, which starts empty with the process."""

    rows: dict[tuple[str, str], tuple[bool, str | None]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, entries: Sequence[PriceIndexEntry]) -> None:
        with self._lock:
            for e in entries:
                listed, resend_id = self.rows.get((e.customer_number, e.sku), (False, None))
                self.rows[(e.customer_number, e.sku)] = (
                    listed if e.listed is None else e.listed,
                    e.resend_id if e.resend_id is not None else resend_id,
                )

    def listed_not_in(self, customer_number: str, resend_id: str) -> list[str]:
        with self._lock:
            return sorted(
                sku for (c, sku), (listed, r) in self.rows.items() if c == customer_number and listed and r != resend_id
            )


class Prices:
    def __init__(self, exchanges: Any) -> None:
        self.exchanges = exchanges

    # ---- consumer handlers (return what to save with the tracking record) ------------------------------

    def article_changed(
        self, customer_number: str, sku: str, state: dict[str, Any], changed_at: datetime, resend_id: str | None
    ) -> list[Any]:
        """The ERP's state of one article of a customer (``state``: the wire's fields as JSON values)."""
        price = self.find(customer_number, sku)
        new = price is None
        if price is None:
            price = CustomerPrice(customer_number=customer_number, sku=sku)
        version = price.version
        price.record(state, changed_at, self.company_of(customer_number), resend_id)
        return [price] if new or price.version != version else []

    def resend_ended(
        self, customer_number: str, resend_id: str, at: datetime, in_reply_to: str | None = None, article_count: int = 0
    ) -> list[Any]:
        """A full resend of the customer's prices ended: the listed articles it did not carry are unlisted, and
        the request it answers (if erp-sync asked) is answered."""
        out: list[Any] = []
        for sku in self.exchanges.price_index.listed_not_in(customer_number, resend_id):
            price = self.find(customer_number, sku)
            if price is not None and price.unlist(resend_id, at):
                out.append(price)
        request = self.request(in_reply_to) if in_reply_to else None
        if request is not None and request.customer_number == customer_number and request.answered_at is None:
            request.answer(resend_id, article_count, len(out), at)
            out.append(request)
        return out

    def request_price_list(self, customer_number: str, reason: str, requested_at: datetime, key: str) -> list[Any]:
        """Ask the ERP for a full resend of the customer's prices (once per key)."""
        if self.exchanges.find(PriceListRequest.create_id(key)) is not None:
            return []
        return [
            PriceListRequest(
                idempotency_key=key, customer_number=customer_number, reason=reason, requested_at=requested_at
            )
        ]

    # ---- queries ----------------------------------------------------------------------------------------

    def find(self, customer_number: str, sku: str) -> CustomerPrice | None:
        found = self.exchanges.find(CustomerPrice.create_id(customer_number, sku))
        return found if isinstance(found, CustomerPrice) else None

    def request(self, idempotency_key: str) -> PriceListRequest | None:
        found = self.exchanges.find(PriceListRequest.create_id(idempotency_key))
        return found if isinstance(found, PriceListRequest) else None

    def company_of(self, customer_number: str) -> UUID | None:
        """The registered company of the customer (None: not registered)."""
        customer = self.exchanges.find(Customer.create_id(customer_number))
        return customer.company_id if isinstance(customer, Customer) else None
