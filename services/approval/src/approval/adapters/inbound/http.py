"""HTTP routes of the approval service (``/api/orders``). Thin: request → use case → response."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Header, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from approval.application.orders import Orders
from approval.domain.model import Address, Order, OrderContent, OrderLine
from kc_runtime.auth import Caller
from kc_runtime.errors import ApiError
from kc_runtime.eventstore import Blocking

Text = Annotated[str, StringConstraints(max_length=200, strip_whitespace=True, min_length=1)]
LongText = Annotated[str, StringConstraints(max_length=4000)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AddressIn(Strict):
    name: Text
    street: Text
    postal_code: Annotated[str, StringConstraints(max_length=20, min_length=1, strip_whitespace=True)]
    city: Text
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
    additional: Annotated[str, StringConstraints(max_length=200)] | None = None

    def to_domain(self) -> Address:
        return Address(**self.model_dump())


class LineIn(Strict):
    sku: Text
    description: Annotated[str, StringConstraints(max_length=200)] = ""
    quantity: int = Field(gt=0, le=1_000_000)
    unit_price: Decimal = Field(ge=0, le=Decimal("1000000000"), max_digits=14, decimal_places=4)
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class OrderIn(Strict):
    lines: list[LineIn] = Field(min_length=1, max_length=500)
    delivery_address: AddressIn
    billing_address: AddressIn
    payment_method: Text
    shipping_method: Text
    buyer_comment: LongText | None = None
    reference: Annotated[str, StringConstraints(max_length=200)] | None = None


class CommentIn(Strict):
    text: Annotated[str, StringConstraints(min_length=1, max_length=4000)]


class MoneyOut(BaseModel):
    amount: Decimal
    currency: str


class LineOut(BaseModel):
    sku: str
    description: str
    quantity: int
    unit_price: MoneyOut
    line_total: MoneyOut


class CommentOut(BaseModel):
    author_id: UUID
    text: str
    at: datetime


class OrderOut(BaseModel):
    id: UUID
    version: int
    status: str
    company_id: UUID
    buyer_id: UUID
    lines: list[LineOut]
    total: MoneyOut
    total_quantity: int
    delivery_address: dict[str, Any]
    billing_address: dict[str, Any]
    payment_method: str
    shipping_method: str
    buyer_comment: str | None
    reference: str | None
    submitted_at: datetime
    released_at: datetime | None
    comments: list[CommentOut]


def order_out(order: Order) -> OrderOut:
    c = order.content
    cur = c.currency
    return OrderOut(
        id=order.id,
        version=order.version,
        status=order.status.value,
        company_id=order.company_id,
        buyer_id=order.buyer_id,
        lines=[
            LineOut(
                sku=ln.sku,
                description=ln.description,
                quantity=ln.quantity,
                unit_price=MoneyOut(amount=ln.unit_price, currency=cur),
                line_total=MoneyOut(amount=ln.line_total, currency=cur),
            )
            for ln in c.lines
        ],
        total=MoneyOut(amount=c.total_value, currency=cur),
        total_quantity=c.total_quantity,
        delivery_address=vars(c.delivery_address),
        billing_address=vars(c.billing_address),
        payment_method=c.payment_method,
        shipping_method=c.shipping_method,
        buyer_comment=c.buyer_comment,
        reference=c.reference,
        submitted_at=order.submitted_at,
        released_at=order.released_at,
        comments=[CommentOut(author_id=x.author_id, text=x.text, at=x.at) for x in order.comments],
    )


def _uuid_claim(caller: Caller, claim: str) -> UUID:
    try:
        return UUID(str(caller.claims.get(claim) if claim != "sub" else caller.subject))
    except ValueError:
        raise ApiError(403, "forbidden", "This account cannot use orders.") from None


def _parse_if_match(value: str | None) -> int | None:
    if value is None:
        return None
    v = value.strip().removeprefix("W/").strip('"')
    if not v.isdigit() or len(v) > 9:
        raise ApiError(400, "invalid_if_match", 'If-Match must be the order\'s version, e.g. "3".')
    return int(v)


def orders_router(orders: Orders, blocking: Blocking, caller: Any) -> APIRouter:
    """``caller`` is the dependency that verifies the JWT and yields a :class:`Caller`."""
    router = APIRouter(prefix="/api/orders", tags=["orders"])

    # Interim identity: the buyer is the token's subject and the company its ``company_id`` claim, until
    # approval has its read model of users (approval issue); then both come from that read model.
    def ids(c: Caller) -> tuple[UUID, UUID]:
        return _uuid_claim(c, "company_id"), _uuid_claim(c, "sub")

    @router.post("", status_code=status.HTTP_201_CREATED, response_model=OrderOut, summary="Submit an order")
    async def submit(body: OrderIn, who: Annotated[Caller, Depends(caller)]) -> OrderOut:
        company_id, buyer_id = ids(who)
        currencies = {ln.currency for ln in body.lines}
        if len(currencies) != 1:
            raise ApiError(422, "mixed_currencies", "All lines of an order must have the same currency.")
        content = OrderContent(
            lines=tuple(
                OrderLine(sku=ln.sku, description=ln.description, quantity=ln.quantity, unit_price=ln.unit_price)
                for ln in body.lines
            ),
            currency=currencies.pop(),
            delivery_address=body.delivery_address.to_domain(),
            billing_address=body.billing_address.to_domain(),
            payment_method=body.payment_method,
            shipping_method=body.shipping_method,
            buyer_comment=body.buyer_comment,
            reference=body.reference,
        )
        order = await blocking.run(orders.submit, company_id, buyer_id, content)
        return order_out(order)

    @router.get("/{order_id}", response_model=OrderOut, summary="One order of the caller's company")
    async def get(order_id: UUID, who: Annotated[Caller, Depends(caller)]) -> OrderOut:
        company_id, _ = ids(who)
        return order_out(await blocking.run(orders.get_order, company_id, order_id))

    @router.post("/{order_id}/comments", response_model=OrderOut, summary="Add to the order's conversation")
    async def comment(
        order_id: UUID,
        body: CommentIn,
        who: Annotated[Caller, Depends(caller)],
        if_match: Annotated[str | None, Header(alias="If-Match")] = None,
    ) -> OrderOut:
        company_id, author_id = ids(who)
        order = await blocking.run(
            orders.comment, company_id, order_id, author_id, body.text, _parse_if_match(if_match)
        )
        return order_out(order)

    return router
