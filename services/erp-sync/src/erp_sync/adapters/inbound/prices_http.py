"""Operator API of erp-sync around the ERP's customer prices (internal port; not routed through the public
gateway; every route needs the operator token, like the other ``/ops`` commands).

``POST /ops/customers/{customer_number}/price-list-requests`` asks the ERP for a full resend of one customer's
prices (e.g. after an ERP restore): stored as an event, sent by the relay; ``GET /ops/price-list-requests/{id}``
says whether the resend that answers it has ended. ``GET /ops/customers/{customer_number}/prices/{sku}`` is the
mirror of one article.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Response, status
from pydantic import BaseModel, Field

from erp_sync.adapters.inbound.http import ops_token_dependency
from erp_sync.application.exchanges import ExchangeNotFound
from erp_sync.application.prices import Prices
from erp_sync.domain.prices import CustomerPrice, PriceListRequest
from erp_sync.settings import ErpSyncSettings
from kc_runtime.eventstore import WorkerPool

CustomerNumber = Annotated[
    str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", description="ERP customer number")
]
Sku = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$")]


class PriceListRequestOut(BaseModel):
    id: UUID
    idempotency_key: str = Field(description="The request's key; the ERP's resend names it in in_reply_to")
    customer_number: str
    reason: str
    status: str = Field(description="requested, or answered once the resend that answers it ended")
    requested_at: datetime
    resend_id: str | None
    article_count: int | None = Field(description="Articles the resend carried")
    unlisted: int | None = Field(description="Articles erp-sync knew that the resend did not carry (now unlisted)")
    answered_at: datetime | None
    version: int


class ArticlePriceOut(BaseModel):
    customer_number: str
    sku: str
    company_id: UUID | None
    state: dict[str, Any] | None = Field(description="The article as the ERP last said it (price, breaks, flags)")
    changed_at: datetime | None
    last_resend_id: str | None
    version: int


def _request_out(r: PriceListRequest) -> PriceListRequestOut:
    return PriceListRequestOut(
        id=r.id, idempotency_key=r.idempotency_key, customer_number=r.customer_number, reason=r.reason,
        status=r.status, requested_at=r.requested_at, resend_id=r.resend_id, article_count=r.article_count,
        unlisted=r.unlisted, answered_at=r.answered_at, version=r.version,
    )  # fmt: skip


def price_ops_router(exchanges: Any, blocking: WorkerPool, settings: ErpSyncSettings) -> APIRouter:
    prices = Prices(exchanges)
    router = APIRouter(prefix="/ops", tags=["operations"], dependencies=[Depends(ops_token_dependency(settings))])

    def request(customer_number: str) -> PriceListRequest:
        now = datetime.now(UTC)
        key = PriceListRequest.key_of(customer_number, now, "operator")
        (created,) = prices.request_price_list(customer_number, "operator", now, key)
        exchanges.save(created)
        return created

    @router.post(
        "/customers/{customer_number}/price-list-requests",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=PriceListRequestOut,
        summary="Ask the ERP to send this customer's prices again, whole (articles it leaves out become unlisted)",
    )
    async def request_price_list(customer_number: CustomerNumber, response: Response) -> PriceListRequestOut:
        created = await blocking.run(request, customer_number)
        response.headers["Location"] = f"/ops/price-list-requests/{created.id}"
        return _request_out(created)

    @router.get(
        "/price-list-requests/{request_id}",
        response_model=PriceListRequestOut,
        summary="A request for a full resend of prices, and whether the resend ended",
    )
    async def price_list_request(request_id: UUID) -> PriceListRequestOut:
        found = await blocking.run(exchanges.find, request_id)
        if not isinstance(found, PriceListRequest):
            raise ExchangeNotFound("No such price-list request.")
        return _request_out(found)

    @router.get(
        "/customers/{customer_number}/prices/{sku}",
        response_model=ArticlePriceOut,
        summary="erp-sync's mirror of one article of a customer",
    )
    async def article_price(customer_number: CustomerNumber, sku: Sku) -> ArticlePriceOut:
        p: CustomerPrice | None = await blocking.run(prices.find, customer_number, sku)
        if p is None:
            raise ExchangeNotFound("The ERP sent no price of this article for this customer.")
        return ArticlePriceOut(
            customer_number=p.customer_number, sku=p.sku, company_id=p.company_id, state=p.state,
            changed_at=p.changed_at, last_resend_id=p.resend_id, version=p.version,
        )  # fmt: skip

    return router
