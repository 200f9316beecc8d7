"""Operator API of erp-sync (internal port; not routed through the public gateway)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel

from erp_sync.application.exchanges import Exchanges
from kc_runtime.eventstore import Blocking


class SalesOrderExchangeOut(BaseModel):
    order_id: UUID
    company_id: UUID
    status: str
    version: int
    idempotency_key: str
    requested_at: datetime
    request: dict[str, Any]


def ops_router(exchanges: Exchanges, blocking: Blocking) -> APIRouter:
    router = APIRouter(prefix="/ops", tags=["operations"])

    @router.get("/sales-orders/{order_id}", response_model=SalesOrderExchangeOut, summary="Exchange state of one order")
    async def sales_order(order_id: UUID) -> SalesOrderExchangeOut:
        x = await blocking.run(exchanges.sales_order, order_id)
        return SalesOrderExchangeOut(
            order_id=x.order_id,
            company_id=x.company_id,
            status=x.status.value,
            version=x.version,
            idempotency_key=x.idempotency_key,
            requested_at=x.requested_at,
            request=x.request,
        )

    return router
