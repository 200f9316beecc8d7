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
        self,
        customer_number: str,
        sku: str,
        state: dict[str, Any],
        changed_at: datetime,
        resend_id: str | None,
        unit: tuple[str, int] | None = None,
    ) -> list[Any]:
        """The ERP's state of one article of a customer (``state``: the wire's fields as JSON values). ``unit``:
        the consumer transaction it is part of (:mod:`kc_runtime.units`): the price topic is consumed in batches
        (a fetch of one partition in one transaction), and two messages of a batch may concern one article (a
        change and its revert) or a resend and its articles — each sees what the ones before it did."""
        with self.exchanges.units.shared(unit) as loaded:
            return self._article_changed(customer_number, sku, state, changed_at, resend_id, loaded)

    def _article_changed(
        self,
        customer_number: str,
        sku: str,
        state: dict[str, Any],
        changed_at: datetime,
        resend_id: str | None,
        loaded: dict[UUID, Any],
    ) -> list[Any]:
        price_id = CustomerPrice.create_id(customer_number, sku)
        price = loaded.get(price_id) or self.find(customer_number, sku)
        pending = price_id in loaded  # changed earlier in this transaction: returned again for its new events
        if price is None:
            price = CustomerPrice(customer_number=customer_number, sku=sku)
            pending = True
        version = price.version
        company_id = self.company_of(customer_number, loaded)
        loaded[price_id] = price
        price.record(state, changed_at, company_id, resend_id)
        return [price] if pending or price.version != version else []

    def resend_ended(
        self,
        customer_number: str,
        resend_id: str,
        at: datetime,
        in_reply_to: str | None = None,
        article_count: int = 0,
        unit: tuple[str, int] | None = None,
    ) -> list[Any]:
        """A full resend of the customer's prices ended: the listed articles it did not carry are unlisted, and
        the request it answers (if erp-sync asked) is answered. The candidates: what the index holds (saved
        before this transaction) and the customer's articles changed earlier in it; each aggregate decides."""
        with self.exchanges.units.shared(unit) as loaded:
            return self._resend_ended(customer_number, resend_id, at, in_reply_to, article_count, loaded)

    def _resend_ended(
        self,
        customer_number: str,
        resend_id: str,
        at: datetime,
        in_reply_to: str | None,
        article_count: int,
        loaded: dict[UUID, Any],
    ) -> list[Any]:
        in_unit = {
            p.sku: p for p in loaded.values() if isinstance(p, CustomerPrice) and p.customer_number == customer_number
        }
        skus = set(self.exchanges.price_index.listed_not_in(customer_number, resend_id)) | set(in_unit)
        out: list[Any] = []
        unlisted = 0
        for sku in sorted(skus):
            price = in_unit.get(sku) or self.find(customer_number, sku)
            if price is None:
                continue
            loaded[price.id] = price
            if price.unlist(resend_id, at):
                unlisted += 1
                out.append(price)
        request = self.request(in_reply_to) if in_reply_to else None
        if request is not None and request.customer_number == customer_number and request.answered_at is None:
            request.answer(resend_id, article_count, unlisted, at)
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
        return self.exchanges.find(CustomerPrice.create_id(customer_number, sku), CustomerPrice)

    def request(self, idempotency_key: str) -> PriceListRequest | None:
        return self.exchanges.find(PriceListRequest.create_id(idempotency_key), PriceListRequest)

    def company_of(self, customer_number: str, loaded: dict[UUID, Any] | None = None) -> UUID | None:
        """The registered company of the customer (None: not registered); read once per consumer transaction."""
        customer_id = Customer.create_id(customer_number)
        customer = loaded.get(customer_id) if loaded is not None else None
        if customer is None:
            customer = self.exchanges.find(customer_id)
            if loaded is not None and isinstance(customer, Customer):
                loaded[customer_id] = customer
        return customer.company_id if isinstance(customer, Customer) else None
