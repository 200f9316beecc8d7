"""HTTP routes of bundles — several waiting orders approved together and sent to the ERP as one sales order
(``/api/orders/bundles``; issue 17 item 6, ADR 0034). Thin: request → use case → response.

Added to the orders' router (:func:`approval.adapters.inbound.http.orders_router`): the same caller, fence and worker
pool."""

# No `from __future__ import annotations` here: FastAPI resolves the dependencies declared in closures.

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from approval.adapters.inbound.http import LongText, MoneyOut, PersonOut
from approval.application.orders import Orders
from approval.domain.bundles import BUNDLE_MAX, BUNDLE_MIN, OrderBundle
from approval.domain.members import Member, Names
from approval.domain.model import Order
from kc_runtime.eventstore import WorkerPool
from kc_runtime.models import Strict

_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}


class BundleIn(Strict):
    """Orders waiting for the caller's approval, to be approved together and sent to the ERP as one sales order."""

    order_ids: list[UUID] = Field(
        min_length=BUNDLE_MIN,
        max_length=BUNDLE_MAX,
        json_schema_extra={"uniqueItems": True},
        description=f"{BUNDLE_MIN} to {BUNDLE_MAX} orders, each once; the bundle's lines follow this order",
    )
    comment: LongText | None = Field(default=None, description="The approval's comment, on every order")


class BundleLineOut(BaseModel):
    order_id: UUID = Field(description="The order the line came from")
    line_no: int = Field(description="Its position in that order, from 1")
    sku: str
    description: str
    quantity: int
    unit: str
    unit_price: MoneyOut
    line_total: MoneyOut


class BundleMemberOut(BaseModel):
    order_id: UUID
    buyer: PersonOut
    reference: str | None
    total: MoneyOut
    status: str = Field(description="The order's status now")


class BundleOut(BaseModel):
    id: UUID
    version: int
    status: str = Field(description="`released` (on its way to the ERP), `transmitted`, `confirmed`, `erp_rejected`")
    bundled_by: PersonOut
    released_at: datetime
    comment: str | None
    members: list[BundleMemberOut] = Field(description="The orders of the bundle the caller may see")
    other_orders: int = Field(description="How many orders of the bundle the caller may not see (they count in none of "
                              "the figures here)")  # fmt: skip
    lines: list[BundleLineOut] = Field(description="The lines of the orders the caller may see, each naming its order")
    total: MoneyOut = Field(description="Of the lines shown")
    delivery_address: dict[str, Any]
    billing_address: dict[str, Any]
    payment_method: str
    shipping_method: str
    erp_order_number: str | None = Field(description="The ERP's one sales order number, once it confirmed the bundle")
    erp_rejection_reason: str | None


def bundle_out(bundle: OrderBundle, visible: list[Order], names: Names) -> BundleOut:
    cur = bundle.currency

    def money(amount: Any) -> MoneyOut:
        return MoneyOut(amount=amount, currency=cur)

    def person(i: UUID) -> PersonOut:
        return PersonOut.of(i, names)

    seen = {o.id: o for o in visible}
    lines = [ln for ln in bundle.lines if ln.order_id in seen]
    return BundleOut(
        id=bundle.id,
        version=bundle.version,
        status=bundle.status,
        bundled_by=person(bundle.bundled_by),
        released_at=bundle.released_at,
        comment=bundle.comment,
        members=[
            BundleMemberOut(
                order_id=m.order_id,
                buyer=person(m.buyer_id),
                reference=m.reference,
                total=money(m.total),
                status=seen[m.order_id].status.value,
            )
            for m in bundle.members
            if m.order_id in seen
        ],
        other_orders=sum(1 for m in bundle.members if m.order_id not in seen),
        lines=[
            BundleLineOut(
                order_id=ln.order_id,
                line_no=ln.line_no,
                sku=ln.sku,
                description=ln.description,
                quantity=ln.quantity,
                unit=ln.unit,
                unit_price=money(ln.unit_price),
                line_total=money(ln.line_total),
            )
            for ln in lines
        ],
        total=money(sum(ln.line_total for ln in lines)),
        delivery_address=vars(bundle.delivery_address),
        billing_address=vars(bundle.billing_address),
        payment_method=bundle.payment_method,
        shipping_method=bundle.shipping_method,
        erp_order_number=bundle.erp_order_number,
        erp_rejection_reason=bundle.erp_rejection_reason,
    )


def add_bundle_routes(
    router: APIRouter, orders: Orders, blocking: WorkerPool, member: Callable[..., Awaitable[Member]]
) -> None:
    """The routes of bundles on ``router``; ``member``: the dependency that yields the calling member."""
    Me = Annotated[Member, Depends(member)]

    def present(me: Member, bundle_id: UUID) -> BundleOut:
        bundle, visible = orders.bundle_of(me, bundle_id)
        return bundle_out(bundle, visible, orders.names({bundle.bundled_by, *(o.buyer_id for o in visible)}))

    @router.post(
        "/api/orders/bundles",
        response_model=BundleOut,
        status_code=201,
        tags=["orders"],
        summary="Approve several waiting orders together and send them to the ERP as one sales order (a bundle)",
        description="All or nothing. Each order is approved exactly as by its own `approve` (routed to the caller or "
        "to the absent approver they substitute, never the caller's own, waiting, priced again now) and keeps its "
        "own budget, status and mails; the ERP receives one sales order whose lines each name their order, and its "
        "answer (order number, or refusal) becomes every order's. The orders must share delivery address, billing "
        "address, payment and shipping method and currency (422 `bundle_mismatch`, `details` name the order and the "
        "field). When one cannot be approved, nothing is stored and the error is the one its single decision would "
        "answer, `details` naming the order: `not_found` (404; also another company's order), `not_allowed`, "
        "`self_approval` (403), `wrong_state`, `price_changed` (409); `bundle_refused` (409) when approving it would "
        "not release it — it climbs to a higher approval tier (`higher_tier`) or would wait for the company's credit "
        "(`credit_hold`). Sent again, nothing is approved twice: the orders are no longer waiting (`wrong_state`).",
        responses={
            403: {"description": "`not_allowed`, `self_approval`", "content": _ERROR},
            404: {"description": "`not_found`", "content": _ERROR},
            409: {"description": "`wrong_state`, `price_changed`, `bundle_refused`, `conflict`", "content": _ERROR},
        },
    )
    async def create_bundle(body: BundleIn, me: Me) -> BundleOut:
        def run() -> BundleOut:
            with orders.one_read():
                bundle = orders.bundle(me, body.order_ids, body.comment)
                return present(me, bundle.id)

        return await blocking.run(run)

    @router.get(
        "/api/orders/bundles/{bundle_id}",
        response_model=BundleOut,
        tags=["orders"],
        summary="A bundle: its orders, lines and the ERP's answer",
        description="Seen by who may see one of its orders (each sees the orders and lines they may see; the others "
        "are counted in `other_orders`) and by who bundled it. Another company's bundle is `not_found`.",
        responses={404: {"description": "`not_found`", "content": _ERROR}},
    )
    async def get_bundle(bundle_id: UUID, me: Me) -> BundleOut:
        return await blocking.run(lambda: present(me, bundle_id))
