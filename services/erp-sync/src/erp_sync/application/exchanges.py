"""Use cases of erp-sync."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from erp_sync.domain.model import SalesOrderExchange
from kc_runtime.eventstore import ServiceApplication


class ExchangeNotFound(Exception):
    code = "not_found"


class Exchanges(ServiceApplication):
    name = "Exchanges"

    def request_sales_order(
        self, order_id: UUID, company_id: UUID, request: dict[str, Any], requested_at: Any
    ) -> list[SalesOrderExchange]:
        """The aggregates to save for a released order; none if it was requested already (idempotent)."""
        if self.find_sales_order(order_id) is not None:
            return []
        return [
            SalesOrderExchange(order_id=order_id, company_id=company_id, request=request, requested_at=requested_at)
        ]

    def find_sales_order(self, order_id: UUID) -> SalesOrderExchange | None:
        try:
            return self.repository.get(SalesOrderExchange.create_id(order_id))
        except AggregateNotFoundError:
            return None

    def sales_order(self, order_id: UUID) -> SalesOrderExchange:
        found = self.find_sales_order(order_id)
        if found is None:
            raise ExchangeNotFound("No exchange for this order.")
        return found
