"""Use cases of erp-sync around released orders, and the service's one event store (``Exchanges``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar, TypeVar, overload
from uuid import UUID

from erp_sync.application.personal import PERSONAL_DATA
from erp_sync.application.prices import PRICE_INDEX_KWARG, InMemoryPriceIndex, PriceIndex, price_entries
from erp_sync.application.replay_index import REPLAY_INDEX_KWARG, InMemoryReplayIndex, ReplayIndex, replay_entries
from erp_sync.domain.model import ContactExchange, SalesOrderExchange
from erp_sync.domain.verification import CustomerCenterActivation
from kc_runtime.consumer import MISSING, preloaded
from kc_runtime.eventstore import ServiceApplication
from kc_runtime.sealing import KeyRing, Personal

"""The save's keyword with the tracking records besides the first (a consumer batch of several partitions)."""


class ExchangeNotFound(Exception):
    code = "not_found"


A = TypeVar("A")


class Exchanges(ServiceApplication):
    """The event store of erp-sync (every exchange with the ERP), and the use cases of released orders."""

    name = "Exchanges"
    personal_data: ClassVar[Mapping[type, Personal | tuple[Personal, ...]]] = PERSONAL_DATA
    """Names, e-mail, phone and comments of shop users, stored sealed with their own key (ADR 0035): once users
    destroyed the key, the event store holds nothing readable of them (see :mod:`erp_sync.application.personal`)."""

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        replay_index_factory: Callable[[Any], ReplayIndex] | None = None,
        price_index_factory: Callable[[Any], PriceIndex] | None = None,
        key_ring: KeyRing | None = None,
    ) -> None:
        """``key_ring``: the persons' keys (ADR 0035; users' internal endpoint through ``kc_runtime.person_keys``)
        its event store seals :attr:`personal_data` with; None: stored as they are (tests, tools)."""
        super().__init__(env, key_ring=key_ring)
        self.replay_index: ReplayIndex = (
            replay_index_factory(self.recorder) if replay_index_factory else InMemoryReplayIndex(self.recorder)
        )
        self.price_index: PriceIndex = (
            price_index_factory(self.recorder) if price_index_factory else InMemoryPriceIndex()
        )

    def rows_with_events(self, events: Sequence[Any]) -> dict[str, Any]:
        """Every save hands the replay index and the price index their entries (PostgreSQL: written in the events'
        transaction)."""
        rows: dict[str, Any] = {}
        if entries := replay_entries(events):
            rows[REPLAY_INDEX_KWARG] = entries
        if prices := price_entries(events):
            rows[PRICE_INDEX_KWARG] = prices
        return rows

    def rows_recorded(self, rows: dict[str, Any], notification_ids: Sequence[int]) -> None:
        if REPLAY_INDEX_KWARG in rows:
            self.replay_index.record(rows[REPLAY_INDEX_KWARG], notification_ids)
        if PRICE_INDEX_KWARG in rows:
            self.price_index.record(rows[PRICE_INDEX_KWARG])

    # ---- consumer handlers (return what to save with the tracking record) ------------------------------

    def request_sales_order(
        self, order_id: UUID, company_id: UUID, request: dict[str, Any], requested_at: Any
    ) -> list[SalesOrderExchange]:
        """The aggregates to save for a released order; none if it was requested already (idempotent)."""
        if self.find_sales_order(order_id) is not None:
            return []
        return [
            SalesOrderExchange(
                order_id=order_id, company_id=company_id, request=request, requested_at=requested_at, awaits_answer=True
            )
        ]

    def confirm_sales_order(self, order_id: UUID, erp_order_number: str, at: datetime) -> list[Any]:
        """The ERP created the sales order; an answer for an unknown order changes nothing."""
        exchange = self.find_sales_order(order_id)
        if exchange is None:
            return []
        exchange.confirm(erp_order_number, at)
        return [exchange]

    def reject_sales_order(self, order_id: UUID, reason: str, reason_code: str | None, at: datetime) -> list[Any]:
        exchange = self.find_sales_order(order_id)
        if exchange is None:
            return []
        exchange.reject(reason, reason_code, at)
        return [exchange]

    # ---- what a sales-order request says about the company and its people ---------------------------------

    def customer_number_of(self, company_id: UUID) -> str | None:
        """The ERP's customer number of a registered company (from its customer-center activation)."""
        activation = self.find(CustomerCenterActivation.create_id(company_id))
        return activation.customer_number if isinstance(activation, CustomerCenterActivation) else None

    def contact_reference(self, user_id: UUID | None) -> dict[str, Any] | None:
        """Who a user is, as the ERP knows contact persons (``ContactReference`` of the contract)."""
        if user_id is None:
            return None
        contact = self.find(ContactExchange.create_id(user_id))
        if not isinstance(contact, ContactExchange):
            return {"user_id": str(user_id)}
        if contact.erased:  # ADR 0035: by ids only
            return {"user_id": str(user_id), "erp_contact_id": contact.erp_contact_id}
        return {
            "user_id": str(user_id),
            "erp_contact_id": contact.erp_contact_id,
            "email": contact.email,
            "first_name": contact.first_name,
            "last_name": contact.last_name,
        }

    # ---- queries ----------------------------------------------------------------------------------------

    @overload
    def find(self, aggregate_id: UUID) -> Any | None: ...
    @overload
    def find(self, aggregate_id: UUID, kind: type[A]) -> A | None: ...
    def find(self, aggregate_id: UUID, kind: type[Any] | None = None) -> Any | None:
        """As :meth:`ServiceApplication.find`; in a consumer batch, as its bulk read loaded it (``load_many``)."""
        hit = preloaded(aggregate_id)
        if hit is MISSING:
            return super().find(aggregate_id, kind) if kind is not None else super().find(aggregate_id)
        return hit if kind is None or isinstance(hit, kind) else None

    def find_sales_order(self, order_id: UUID) -> SalesOrderExchange | None:
        return self.find(SalesOrderExchange.create_id(order_id), SalesOrderExchange)

    def sales_order(self, order_id: UUID) -> SalesOrderExchange:
        found = self.find_sales_order(order_id)
        if found is None:
            raise ExchangeNotFound("No exchange for this order.")
        return found
