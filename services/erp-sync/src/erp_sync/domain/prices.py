"""erp-sync's mirror of the ERP's customer prices: one small aggregate per customer and article (a customer may
have tens of thousands of articles; no aggregate grows with the assortment), and one per request for a full
resend of a customer's prices."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

_NS = uuid5(NAMESPACE_URL, "urn:kundencenter:erp-sync")


class CustomerPrice(Aggregate):
    """One article of one ERP customer's assortment, as the ERP last said it, whole (``state``: description,
    unit, unit price, price breaks, validity, blocked, listed — plain JSON values, the wire is not known here).

    Rules: a change whose ``changed_at`` is older than the last one applied changes nothing; the same state
    (and company) again changes nothing; every other change is a :class:`Changed` event, handed on to approval.
    A message of a full resend is remembered (:class:`SeenInResend`) even when it changes nothing, so that the
    end of the resend can tell which articles were not in it (:meth:`unlist`)."""

    class Known(Aggregate.Created):
        customer_number: str
        sku: str

    class Changed(Aggregate.Event):
        customer_number: str
        sku: str
        company_id: UUID | None
        state: dict[str, Any]
        changed_at: datetime
        resend_id: str | None

    class SeenInResend(Aggregate.Event):
        customer_number: str
        sku: str
        resend_id: str

    @staticmethod
    def create_id(customer_number: str, sku: str) -> UUID:
        return uuid5(_NS, f"customer-price/{customer_number}/{sku}")

    @event(Known)
    def __init__(self, customer_number: str, sku: str) -> None:
        self.customer_number = customer_number
        self.sku = sku
        self.company_id: UUID | None = None
        self.state: dict[str, Any] | None = None
        self.changed_at: datetime | None = None
        self.resend_id: str | None = None

    @property
    def listed(self) -> bool:
        return self.state is not None and bool(self.state.get("listed", True))

    def record(
        self, state: dict[str, Any], changed_at: datetime, company_id: UUID | None, resend_id: str | None = None
    ) -> bool:
        """The ERP's state of the article; True when it changed the mirror (a :class:`Changed` event)."""
        stale = self.changed_at is not None and changed_at < self.changed_at
        same = state == self.state and company_id == self.company_id
        if stale or same:
            if resend_id is not None and resend_id != self.resend_id:
                self._seen_in_resend(customer_number=self.customer_number, sku=self.sku, resend_id=resend_id)
            return False
        self._changed(
            customer_number=self.customer_number, sku=self.sku, company_id=company_id, state=state,
            changed_at=changed_at, resend_id=resend_id,
        )  # fmt: skip
        return True

    def unlist(self, resend_id: str, at: datetime) -> bool:
        """The full resend ``resend_id`` ended without this article: it left the customer's assortment. Nothing
        changes when it was in that resend or is not listed anyway. ``at``: the ERP's time of the resend (never
        before the last change applied)."""
        if self.state is None or not self.listed or self.resend_id == resend_id:
            return False
        changed_at = max(at, self.changed_at) if self.changed_at is not None else at
        self._changed(
            customer_number=self.customer_number, sku=self.sku, company_id=self.company_id,
            state={**self.state, "listed": False}, changed_at=changed_at, resend_id=resend_id,
        )  # fmt: skip
        return True

    @event(Changed)
    def _changed(
        self,
        customer_number: str,
        sku: str,
        company_id: UUID | None,
        state: dict[str, Any],
        changed_at: datetime,
        resend_id: str | None,
    ) -> None:
        self.company_id = company_id
        self.state = state
        self.changed_at = changed_at
        if resend_id is not None:
            self.resend_id = resend_id

    @event(SeenInResend)
    def _seen_in_resend(self, customer_number: str, sku: str, resend_id: str) -> None:
        self.resend_id = resend_id


class PriceListRequest(Aggregate):
    """A request to the ERP for a full resend of one customer's prices (at registration, or by an operator),
    one per idempotency key; the relay sends it to the ERP."""

    class Requested(Aggregate.Created):
        idempotency_key: str
        customer_number: str
        reason: str
        requested_at: datetime

    @staticmethod
    def create_id(idempotency_key: str) -> UUID:
        return uuid5(_NS, f"price-list-request/{idempotency_key}")

    @staticmethod
    def key_of(customer_number: str, requested_at: datetime, reason: str) -> str:
        return f"price-list-request/{customer_number}/{reason}/{requested_at.isoformat()}"

    class Answered(Aggregate.Event):
        resend_id: str
        article_count: int
        unlisted: int
        at: datetime
        reason: str

    @event(Requested)
    def __init__(self, idempotency_key: str, customer_number: str, reason: str, requested_at: datetime) -> None:
        self.idempotency_key = idempotency_key
        self.customer_number = customer_number
        self.reason = reason
        self.requested_at = requested_at
        self.resend_id: str | None = None
        self.article_count: int | None = None
        self.unlisted: int | None = None
        self.answered_at: datetime | None = None

    @property
    def status(self) -> str:
        return "requested" if self.answered_at is None else "answered"

    def answer(self, resend_id: str, article_count: int, unlisted: int, at: datetime) -> None:
        """The ERP's full resend that answers this request ended (the first answer counts)."""
        if self.answered_at is None:
            self._answered(
                resend_id=resend_id, article_count=article_count, unlisted=unlisted, at=at, reason=self.reason
            )

    @event(Answered)
    def _answered(self, resend_id: str, article_count: int, unlisted: int, at: datetime, reason: str = "") -> None:
        self.resend_id = resend_id
        self.article_count = article_count
        self.unlisted = unlisted
        self.answered_at = at
