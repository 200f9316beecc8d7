"""ERP exchange records: what was requested of the ERP, and (ERP exchange issue) acknowledged or failed."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

_NS = uuid5(NAMESPACE_URL, "urn:kundencenter:erp-sync")


class ExchangeStatus(StrEnum):
    REQUESTED = "requested"


class SalesOrderExchange(Aggregate):
    """The exchange of one released order with the ERP. One per order: its id derives from the order id."""

    @staticmethod
    def create_id(order_id: UUID) -> UUID:
        return uuid5(_NS, f"sales-order/{order_id}")

    @event("Requested")
    def __init__(self, order_id: UUID, company_id: UUID, request: dict[str, Any], requested_at: datetime) -> None:
        self.order_id = order_id
        self.company_id = company_id
        self.request = request
        self.requested_at = requested_at
        self.status = ExchangeStatus.REQUESTED

    @property
    def idempotency_key(self) -> str:
        return f"sales-order/{self.order_id}"
