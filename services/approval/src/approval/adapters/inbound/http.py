"""HTTP routes of the approval service (``/api/orders``, ``/api/approvals``). Thin: request → use case → response."""

# No `from __future__ import annotations` here: FastAPI resolves the dependencies declared in closures.

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request, status
from pydantic import BaseModel, Field, StringConstraints, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from approval.adapters.inbound.absences_http import add_absence_routes
from approval.adapters.inbound.deadlines_http import add_deadline_routes
from approval.adapters.inbound.people import PersonOut
from approval.adapters.inbound.policy_http import (
    ApprovalTierOut,
    add_policy_routes,
    approval_tier_out,
    order_people,
)
from approval.adapters.outbound.read_model import OrderSummaries
from approval.application.orders import (
    DECISIONS_MAX,
    RE_EVALUATION_MAX,
    Decision,
    Evaluation,
    Orders,
    ReJudgement,
    Verdict,
)
from approval.domain.budget import Budget, LimitExceeded, PeriodBudget
from approval.domain.credit import CompanyCredit
from approval.domain.ledger import Figures
from approval.domain.members import Member, Names
from approval.domain.model import Address, Order, OrderContent, OrderLine, OrderStatus, StatusName
from approval.domain.model import Comment as OrderComment
from approval.domain.pricing import OrderRequest, RequestedLine
from contracts.common import MultilineText, PlainText
from contracts.limits import LONG_TEXT_MAX, SHORT_TEXT_MAX
from kc_runtime.auth import Caller
from kc_runtime.errors import ApiError
from kc_runtime.eventstore import WorkerPool
from kc_runtime.fence import ReadFence
from kc_runtime.models import Strict

# Limits from contracts.limits; texts refuse control and bidi-override characters (comments keep line breaks).
Text = Annotated[str, StringConstraints(max_length=SHORT_TEXT_MAX, strip_whitespace=True, min_length=1), PlainText]
LongText = Annotated[str, StringConstraints(max_length=LONG_TEXT_MAX), MultilineText]
Comment = Annotated[str, StringConstraints(min_length=1, max_length=LONG_TEXT_MAX), MultilineText]
StatusFilter = StatusName


_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
PRICING_ERRORS: dict[int | str, dict[str, Any]] = {
    409: {
        "description": "`price_changed`: a `unit_price` (or `currency`) the shop sent is not the ERP's current price. "
        "Nothing was stored. `details` has one entry per differing line (`field` `lines.<i>.unit_price`, `sku`, "
        "`shown`, the current `unit_price` and `line_total`) and a last entry with the new `total`.",
        "content": _ERROR,
    },
}
PRICING_DESCRIPTION = (
    "Every line is priced from the ERP's prices for the caller's company at this moment (quantity breaks "
    "included); the currency is the company's. Lines that cannot be ordered are refused with 422 and one "
    "`details` entry per line (`field` `lines.<i>.sku`, `code`): `unknown_article` (not in the company's assortment, "
    "or no price valid now) or `article_blocked`; the error's `code` is that code when all lines share it, else "
    "`articles_refused`."
)


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
    """An article and how many. The price is the ERP's: ``unit_price`` and ``currency``, when sent, are what the
    shop showed the buyer, and only checked against the current price (``409 price_changed`` if it differs)."""

    sku: Text
    description: Annotated[str, StringConstraints(max_length=200)] = Field(
        default="", description="Ignored: the article's description comes from the ERP"
    )
    quantity: int = Field(gt=0, le=1_000_000)
    unit_price: Decimal | None = Field(
        default=None,
        ge=0,
        le=Decimal("1000000000"),
        max_digits=14,
        decimal_places=4,
        description="The unit price the shop showed the buyer (optional); never used as the price",
    )
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = Field(
        default=None, description="The currency the shop showed (optional); the order's currency is the company's"
    )


class OrderIn(Strict):
    """An order as the shop's checkout sends it: articles and quantities. Prices, totals and the currency are not
    taken from the caller: approval prices every line from the ERP's prices for the company."""

    lines: list[LineIn] = Field(min_length=1, max_length=500)
    delivery_address: AddressIn
    billing_address: AddressIn
    payment_method: Text
    shipping_method: Text
    buyer_comment: LongText | None = None
    reference: Annotated[str, StringConstraints(max_length=SHORT_TEXT_MAX), PlainText] | None = Field(
        default=None, description="The customer's order reference or cost centre"
    )

    def to_domain(self) -> OrderRequest:
        return OrderRequest(
            lines=tuple(RequestedLine(ln.sku, ln.quantity, ln.unit_price, ln.currency) for ln in self.lines),
            delivery_address=self.delivery_address.to_domain(),
            billing_address=self.billing_address.to_domain(),
            payment_method=self.payment_method,
            shipping_method=self.shipping_method,
            buyer_comment=self.buyer_comment,
            reference=self.reference,
        )


class CommentIn(Strict):
    text: Comment


class ApproveIn(Strict):
    comment: LongText | None = None
    modified_order: OrderIn | None = Field(
        default=None, description="The order as the approver changed it (quantities, lines, addresses, methods)"
    )


class RejectIn(Strict):
    comment: Comment


class ResubmitIn(Strict):
    comment: Comment
    order: OrderIn


class CancelIn(Strict):
    comment: LongText | None = None


class DecisionsIn(Strict):
    """Several orders decided alike, with one comment for all (the approver's inbox: "approve the selected")."""

    decision: Literal["approve", "reject"]
    order_ids: list[UUID] = Field(
        min_length=1,
        max_length=DECISIONS_MAX,
        json_schema_extra={"uniqueItems": True},
        description=f"The orders, each once (1 to {DECISIONS_MAX}); the results come in this order",
    )
    comment: LongText | None = Field(
        default=None,
        validate_default=True,
        description="For every order: the approval's comment (optional), the rejection's (required)",
    )

    @field_validator("order_ids")
    @classmethod
    def _each_once(cls, value: list[UUID]) -> list[UUID]:
        if len(set(value)) != len(value):
            raise PydanticCustomError("duplicate_order_ids", "Each order may be named once")
        return value

    @field_validator("comment")
    @classmethod
    def _rejection_says_why(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("decision") == "reject" and not (value or "").strip():
            raise PydanticCustomError("comment_required", "A rejection needs a comment for the buyer")
        return value


class MoneyOut(BaseModel):
    amount: Decimal
    currency: str


class LimitOut(BaseModel):
    limit: str = Field(
        description="max_quantity or max_value (per order); period_value or period_quantity (per period)"
    )
    allowed: Decimal = Field(description="Per order: the limit. Per period: what was left of the period budget")
    actual: Decimal
    currency: str | None
    reason: str = Field(description="over_limit, currency_mismatch, or period_budget")
    period: str | None = Field(default=None, description="Per period: the period, e.g. `month:2026-12`")
    budget: Decimal | None = Field(default=None, description="Per period: the period budget")
    reserved: Decimal | None = Field(default=None, description="Per period: reserved by open orders then")
    consumed: Decimal | None = Field(default=None, description="Per period: confirmed by the ERP then")


class PeriodBudgetOut(BaseModel):
    period: str = Field(description="month, quarter or year (calendar periods, Europe/Berlin)")
    max_value: MoneyOut | None
    max_quantity: int | None


class BudgetOut(BaseModel):
    max_quantity: int | None
    max_value: MoneyOut | None
    period_budget: PeriodBudgetOut | None = Field(default=None, description="The budget per period, if any")


class PeriodFiguresOut(BaseModel):
    """Where a buyer's period budget stands in the current period."""

    user_id: UUID
    period: str = Field(description="The period, e.g. `month:2026-12`, `quarter:2026-Q4`, `year:2026`")
    starts_at: datetime
    ends_at: datetime = Field(description="Exclusive")
    budget: PeriodBudgetOut
    reserved_value: MoneyOut | None = Field(description="Taken by orders submitted or released, not yet confirmed")
    consumed_value: MoneyOut | None = Field(description="Taken by orders the ERP confirmed")
    available_value: MoneyOut | None = Field(description="What is left (null: no value limit)")
    reserved_quantity: int
    consumed_quantity: int
    available_quantity: int | None = Field(description="null: no quantity limit")


class PeriodBudgetStatusOut(BaseModel):
    user_id: UUID
    figures: PeriodFiguresOut | None = Field(description="null: the user has no period budget")


class PriceUsedOut(BaseModel):
    """Which of the ERP's prices priced the line (absent on orders from before approval priced lines itself)."""

    list_unit_price: MoneyOut = Field(description="The article's price without a quantity break")
    price_break: int | None = Field(description="The minimum quantity of the quantity break applied, if any")
    valid_from: datetime | None
    valid_to: datetime | None
    changed_at: datetime = Field(description="When the ERP set this price")


class LineOut(BaseModel):
    sku: str
    description: str
    quantity: int
    unit: str
    unit_price: MoneyOut
    line_total: MoneyOut
    price: PriceUsedOut | None = None


class MessageOut(BaseModel):
    author: PersonOut
    kind: str
    text: str | None = Field(description="Null: the author was erased (the message's place in the conversation stays)")
    at: datetime
    on_behalf_of: PersonOut | None = Field(
        default=None, description="A substitute's decision: the absent approver they decided for"
    )


class ChangeOut(BaseModel):
    field: str
    before: str | None
    after: str | None


class TimelineEntry(BaseModel):
    at: datetime
    event: str
    by: PersonOut | None = None
    on_behalf_of: PersonOut | None = Field(
        default=None,
        description="`Approved`/`Rejected` by a substitute: the absent approver they decided for; "
        "`OfferedToSubstitute`: the absent approver whose order was offered (`detail`: `substitute`, `until`)",
    )
    comment: str | None = Field(
        default=None,
        description="What the person wrote with this step (a decision's, resubmission's or message's text; null as "
        "well when its author was erased)",
    )
    detail: dict[str, Any] = Field(default_factory=dict)


class JudgedOnOut(BaseModel):
    """What the order's verdict (released, or held for whom and why) was judged on; it stays so until the buyer
    resubmits or the main contact asks for a re-evaluation of pending orders (ADR 0024)."""

    at: datetime = Field(description="When: the submission, resubmission or re-evaluation")
    re_evaluated_by: PersonOut | None = Field(description="Who asked for the re-evaluation (null: as submitted)")
    budget: BudgetOut = Field(description="The buyer's budget per order and per period, as it was then")
    exceeded_limits: list[LimitOut] = Field(description="With the period budget's figures of that moment")
    approvers: list[PersonOut]
    period_budget: PeriodFiguresOut | None = Field(
        default=None,
        description="Where the buyer's period budget stood then, apart from this order (null: no period budget, or "
        "an order judged before these figures were recorded)",
    )


class CreditHoldOut(BaseModel):
    """Why an order waits for the company's credit (ADR 0026). The company's figures are not shown here: the main
    contact sees them at `GET /api/orders/credit`."""

    reason: Literal["credit_blocked", "credit_limit", "credit_queue", "credit_currency"] = Field(
        description="`credit_blocked`: the ERP blocked the company; `credit_limit`: the order does not fit into the "
        "available credit; `credit_queue`: older orders of the company wait for credit first; `credit_currency`: the "
        "ERP's credit is in another currency"
    )
    amount: MoneyOut
    since: datetime


class WaitingOut(BaseModel):
    order_id: UUID
    amount: MoneyOut
    submitted_at: datetime


class CompanyCreditOut(BaseModel):
    """The company's credit as the ERP reported it and as approval counts on it (ADR 0026). Orders waiting for credit
    go on by themselves, oldest first, when the ERP's figures allow it."""

    known: bool = Field(description="False: the ERP never sent the company's credit; orders are not checked")
    currency: str | None = None
    credit_limit: Decimal | None = None
    open_receivables: Decimal | None = None
    open_orders: Decimal | None = Field(default=None, description="The ERP's sales orders not invoiced yet")
    released_unconfirmed: Decimal | None = Field(
        default=None, description="Orders released to the ERP that its figures did not include yet"
    )
    available: Decimal | None = None
    credit_blocked: bool = False
    as_of: datetime | None = Field(default=None, description="When the ERP took its figures")
    waiting: list[WaitingOut] = Field(default_factory=list, description="Orders waiting for credit, oldest first")


class OrderOut(BaseModel):
    id: UUID
    version: int
    status: str
    round: int
    company_id: UUID
    buyer: PersonOut
    lines: list[LineOut]
    total: MoneyOut
    total_quantity: int
    delivery_address: dict[str, Any] = Field(
        description="The company's delivery address as typed at checkout (or changed by an approver); kept as it is "
        "when the buyer is erased (ADR 0035): it is the company's shipping data"
    )
    billing_address: dict[str, Any] = Field(
        description="The company's billing address; kept as it is when the buyer is erased (ADR 0035)"
    )
    payment_method: str
    shipping_method: str
    reference: str | None
    buyer_comment: str | None = Field(
        default=None, description="What the buyer wrote with the order (checkout; null when the buyer was erased)"
    )
    exceeded_limits: list[LimitOut]
    budget_at_submission: BudgetOut = Field(description="The budget of the last judgement (see `judged_on`)")
    judged_on: JudgedOnOut
    approvers: list[PersonOut]
    approval_tier: ApprovalTierOut | None = Field(
        default=None, description="Under a tiered approval policy: the tier the order waits at (null: no tiers)"
    )
    decided_by: PersonOut | None
    decided_on_behalf_of: PersonOut | None = Field(
        default=None, description="When a substitute decided: the absent approver they decided for"
    )
    modifications: list[ChangeOut]
    conversation: list[MessageOut]
    timeline: list[TimelineEntry]
    submitted_at: datetime
    released_at: datetime | None
    erp_order_number: str | None = Field(description="The ERP's sales order number, once it confirmed the order")
    erp_rejection_reason: str | None = Field(description="Why the ERP refused the order (status erp_rejected)")
    credit_hold: CreditHoldOut | None = Field(
        default=None, description="Status `credit_hold`: why it waits for the company's credit (ADR 0026)"
    )
    bundle_id: UUID | None = Field(
        default=None,
        description="Approved in a bundle (ADR 0034): it went to the ERP as part of this one sales order with the "
        "bundle's other orders (`GET /api/orders/bundles/{bundle_id}`); the ERP's order number is the bundle's",
    )


class ReEvaluationIn(Strict):
    buyer_id: UUID | None = Field(
        default=None, description="Only this buyer's pending orders (of the caller's company)"
    )
    dry_run: bool = Field(default=False, description="Judge and report, store nothing")


class VerdictOut(BaseModel):
    status: str
    budget: BudgetOut
    exceeded_limits: list[LimitOut]
    approvers: list[PersonOut]


class ReJudgementOut(BaseModel):
    order_id: UUID
    outcome: Literal["released", "updated", "unchanged"] = Field(
        description="`released`: fits today's budget, sent on to the ERP; `updated`: still pending, with today's "
        "limits or approvers; `unchanged`: the same verdict (nothing stored)"
    )
    before: VerdictOut
    after: VerdictOut
    kept_because: str | None = Field(
        default=None,
        description="`unchanged` although the order fits today's budget: what a release would meet (`price_changed`: "
        "the ERP's price is no longer the order's; `unknown_article`, `article_blocked` …) — an approver decides it",
    )


class ReEvaluationOut(BaseModel):
    dry_run: bool
    results: list[ReJudgementOut] = Field(description="One per pending order judged, oldest first")
    released: int
    updated: int
    unchanged: int
    more_pending: bool = Field(
        description=f"More than {RE_EVALUATION_MAX} orders were pending: ask again for the rest (after a real run)"
    )


class EvaluationOut(BaseModel):
    lines: list[LineOut] = Field(description="The lines priced from the ERP's prices for the company, now")
    within_budget: bool
    exceeded_limits: list[LimitOut]
    budget: BudgetOut
    total: MoneyOut
    total_quantity: int
    approvers: list[PersonOut] = Field(description="Who would decide, if over budget")
    period_budget: PeriodFiguresOut | None = Field(
        default=None, description="Where the buyer's period budget stands before this order (null: none)"
    )


class SummaryOut(BaseModel):
    id: UUID
    status: str
    buyer_id: UUID
    total: MoneyOut
    total_quantity: int
    line_count: int
    reference: str | None
    approvers: list[UUID]
    round: int
    submitted_at: datetime
    updated_at: datetime
    buyer: PersonOut | None = Field(default=None, description="The buyer with their name")
    approvers_with_names: list[PersonOut] = Field(
        default_factory=list, description="The approvers with their names (`approvers` in the same order)"
    )
    substitute_for: PersonOut | None = Field(
        default=None,
        description="In the inbox: the absent approver for whom the caller would decide this order as their "
        "substitute (null: the caller decides it in their own right)",
    )


class DecisionErrorOut(BaseModel):
    code: str = Field(
        description="What a single decision of this order would have answered: `not_found` (also another "
        "company's order, or one the caller may not see), `not_allowed`, `self_approval`, `wrong_state` (decided or "
        "closed already, also by the caller's own earlier request), `conflict` (changed by another request at the "
        "same moment), `price_changed` (approve it on its own with the current prices), …"
    )
    message: str
    details: list[Any] | None = Field(default=None, description="As in the single decision's error (price_changed)")


class DecisionOut(BaseModel):
    order_id: UUID
    outcome: Literal["approved", "rejected", "failed"] = Field(description="failed: see `error`; nothing was stored")
    status: str | None = Field(description="The order's status now (null: not found)")
    version: int | None = Field(description="The order's version now (null: not found)")
    decided_by: PersonOut | None = Field(description="Who decided the order (this request or someone before)")
    on_behalf_of: PersonOut | None = Field(
        default=None, description="When a substitute decided: the absent approver they decided for"
    )
    error: DecisionErrorOut | None = Field(default=None, description="Why it was not decided (outcome failed)")


class DecisionsOut(BaseModel):
    results: list[DecisionOut] = Field(description="One per order, in the order of `order_ids`")
    decided: int = Field(description="How many orders this request decided")
    failed: int = Field(description="How many it did not (see their `error`)")


class PageOut(BaseModel):
    items: list[SummaryOut]
    total: int
    limit: int
    offset: int


def _limit(x: LimitExceeded) -> LimitOut:
    return LimitOut(
        limit=x.limit, allowed=x.allowed, actual=x.actual, currency=x.currency, reason=x.reason, period=x.period,
        budget=x.budget, reserved=x.reserved, consumed=x.consumed,
    )  # fmt: skip


def _period_budget(p: PeriodBudget) -> PeriodBudgetOut:
    value = MoneyOut(amount=p.max_value, currency=p.currency or "EUR") if p.max_value is not None else None
    return PeriodBudgetOut(period=p.period, max_value=value, max_quantity=p.max_quantity)


def _budget(b: Budget) -> BudgetOut:
    value = MoneyOut(amount=b.max_value, currency=b.currency or "EUR") if b.max_value is not None else None
    period = _period_budget(b.period) if b.period is not None else None
    return BudgetOut(max_quantity=b.max_quantity, max_value=value, period_budget=period)


def _figures(user_id: UUID, f: Figures) -> PeriodFiguresOut:
    cur = f.budget.currency or "EUR"
    has_value = f.budget.max_value is not None
    available = f.available_value

    def money(amount: Decimal | None) -> MoneyOut | None:
        return MoneyOut(amount=amount, currency=cur) if has_value and amount is not None else None

    return PeriodFiguresOut(
        user_id=user_id, period=f.period.key, starts_at=f.period.start, ends_at=f.period.end,
        budget=_period_budget(f.budget), reserved_value=money(f.reserved_value),
        consumed_value=money(f.consumed_value), available_value=money(available),
        reserved_quantity=f.reserved_quantity, consumed_quantity=f.consumed_quantity,
        available_quantity=f.available_quantity,
    )  # fmt: skip


def _timeline(events: list[Any], names: Names) -> list[TimelineEntry]:
    def person(i: UUID | None) -> PersonOut | None:
        return PersonOut.of(i, names) if i else None

    out = []
    for e in events:
        kind = type(e).__name__
        by = (
            getattr(e, "approver_id", None)
            or getattr(e, "buyer_id", None)
            or getattr(e, "by", None)
            or getattr(getattr(e, "comment", None), "author_id", None)
        )
        author = by  # who wrote the step's comment, if any (Released below names its approver, not an author)
        detail: dict[str, Any] = {}
        match e:
            case Order.ApprovalRequested():
                detail = {"exceeded_limits": [_limit(x).model_dump(mode="json") for x in e.exceeded],
                          "approvers": [str(a) for a in e.approvers]}  # fmt: skip
            case Order.Reassigned():
                detail = {"approvers": [str(a) for a in e.approvers]}
            case Order.Escalated():  # approved at a tier below the order's value: lifted to the next (ADR 0025)
                detail = {"from_tier": e.from_tier, "tier": e.position.tier,
                          "approvers": [str(a) for a in e.approvers]}  # fmt: skip
            case Order.ReEvaluated():
                detail = {"exceeded_limits_before": [_limit(x).model_dump(mode="json") for x in e.before],
                          "exceeded_limits": [_limit(x).model_dump(mode="json") for x in e.exceeded],
                          "budget_before": _budget(e.previous_budget).model_dump(mode="json"),
                          "budget": _budget(e.budget).model_dump(mode="json")}  # fmt: skip
            case Order.Modified():
                detail = {"changes": [ChangeOut(**vars(c)).model_dump() for c in e.changes]}
            case Order.Released():
                by = e.approved_by
                if getattr(e, "bundle_id", None) is not None:  # went out as part of a bundle (ADR 0034)
                    detail = {"bundle_id": str(e.bundle_id)}
            case Order.CreditHeld():  # why it waits for credit (the company's figures are the main contact's)
                by, detail = e.approved_by, {"reason": e.hold.reason}
            case Order.Reminded():  # the company's deadlines (ADR 0033)
                detail = {"approvers": [str(a) for a in e.reminded]}
            case Order.EscalatedOnDeadline():
                detail = {"approvers": [str(a) for a in e.approvers], "before": [str(a) for a in e.before],
                          "from_tier": e.from_tier, "tier": e.position.tier if e.position else None}  # fmt: skip
            case Order.Expired():
                detail = {"waited_s": e.waited_s}
            case Order.OfferedToSubstitute():
                detail = {"substitute": PersonOut.of(e.substitute_id, names).model_dump(mode="json"),
                          "until": e.until.isoformat()}  # fmt: skip
        said = getattr(e, "comment", None)
        text = said.text if isinstance(said, OrderComment) else said if isinstance(said, str) else None
        if isinstance(said, OrderComment):
            author = said.author_id
        if author in names.erased:  # an erased person's words are gone from the views; that they spoke stays
            text = None
        out.append(
            TimelineEntry(
                at=e.timestamp, event=kind, by=person(by), on_behalf_of=person(getattr(e, "on_behalf_of", None)),
                comment=text, detail=detail,
            )
        )  # fmt: skip
    return out


def _lines(c: OrderContent) -> list[LineOut]:
    cur = c.currency

    def used(ln: OrderLine) -> PriceUsedOut | None:
        if ln.price_changed_at is None or ln.list_unit_price is None:
            return None
        return PriceUsedOut(
            list_unit_price=MoneyOut(amount=ln.list_unit_price, currency=cur),
            price_break=ln.price_break,
            valid_from=ln.price_valid_from,
            valid_to=ln.price_valid_to,
            changed_at=ln.price_changed_at,
        )

    return [
        LineOut(
            sku=ln.sku,
            description=ln.description,
            quantity=ln.quantity,
            unit=ln.unit,
            unit_price=MoneyOut(amount=ln.unit_price, currency=cur),
            line_total=MoneyOut(amount=ln.line_total, currency=cur),
            price=used(ln),
        )
        for ln in c.lines
    ]


def order_out(order: Order, events: list[Any], names: Names) -> OrderOut:
    c = order.content
    cur = c.currency

    def person(i: UUID) -> PersonOut:
        return PersonOut.of(i, names)

    return OrderOut(
        id=order.id,
        version=order.version,
        status=order.status.value,
        round=order.round,
        company_id=order.company_id,
        buyer=person(order.buyer_id),
        lines=_lines(c),
        total=MoneyOut(amount=c.total_value, currency=cur),
        total_quantity=c.total_quantity,
        delivery_address=vars(c.delivery_address),
        billing_address=vars(c.billing_address),
        payment_method=c.payment_method,
        shipping_method=c.shipping_method,
        reference=c.reference,
        buyer_comment=None if order.buyer_id in names.erased else c.buyer_comment,
        exceeded_limits=[_limit(x) for x in order.exceeded],
        budget_at_submission=_budget(order.budget),
        judged_on=JudgedOnOut(
            at=order.judged_at,
            re_evaluated_by=person(order.judged_by) if order.judged_by else None,
            budget=_budget(order.budget),
            exceeded_limits=[_limit(x) for x in order.exceeded],
            approvers=[person(a) for a in order.approvers],
            period_budget=_figures(order.buyer_id, order.period_figures) if order.period_figures else None,
        ),
        approvers=[person(a) for a in order.approvers],
        approval_tier=approval_tier_out(order, names),
        decided_by=person(order.decided_by) if order.decided_by else None,
        decided_on_behalf_of=person(order.decided_on_behalf_of) if order.decided_on_behalf_of else None,
        modifications=[ChangeOut(**vars(x)) for x in order.modifications],
        conversation=[
            MessageOut(
                author=person(m.author_id),
                kind=m.kind,
                text=None if m.author_id in names.erased else m.text,
                at=m.at,
                on_behalf_of=person(m.on_behalf_of) if m.on_behalf_of else None,
            )
            for m in order.conversation
        ],
        timeline=_timeline(events, names),
        submitted_at=order.submitted_at,
        released_at=order.released_at,
        erp_order_number=order.erp_order_number,
        erp_rejection_reason=order.erp_rejection_reason,
        credit_hold=_credit_hold(order),
        bundle_id=order.bundle_id,
    )


def _credit_hold(order: Order) -> CreditHoldOut | None:
    h = order.credit_hold
    if h is None or order.status is not OrderStatus.CREDIT_HOLD:
        return None
    since = order.credit_held_at or order.judged_at
    return CreditHoldOut(reason=h.reason, amount=MoneyOut(amount=h.amount, currency=h.currency), since=since)


def _company_credit(credit: CompanyCredit | None) -> CompanyCreditOut:
    if credit is None or credit.figures is None:
        return CompanyCreditOut(known=False)
    f, stand = credit.figures, credit.stand()
    waiting = [
        WaitingOut(
            order_id=w.order_id, amount=MoneyOut(amount=w.amount, currency=w.currency), submitted_at=w.submitted_at
        )
        for w in credit.waiting
    ]
    return CompanyCreditOut(
        known=True, currency=f.currency, credit_limit=f.credit_limit, open_receivables=f.open_receivables,
        open_orders=f.open_orders, released_unconfirmed=stand.released_unconfirmed, available=stand.available,
        credit_blocked=f.credit_blocked, as_of=f.as_of, waiting=waiting,
    )  # fmt: skip


def _decisions(decision: str, results: list[Decision], names: Names) -> DecisionsOut:
    done: Literal["approved", "rejected"] = "approved" if decision == "approve" else "rejected"
    out = []
    for r in results:
        order, error = r.order, r.error
        decider = order.decided_by if order is not None else None
        for_whom = order.decided_on_behalf_of if order is not None else None
        out.append(
            DecisionOut(
                order_id=r.order_id,
                outcome="failed" if error is not None else done,
                status=order.status.value if order is not None else None,
                version=order.version if order is not None else None,
                decided_by=PersonOut.of(decider, names) if decider else None,
                on_behalf_of=PersonOut.of(for_whom, names) if for_whom else None,
                error=DecisionErrorOut(code=error.code, message=str(error), details=getattr(error, "details", None))
                if error is not None
                else None,
            )
        )
    failed = sum(1 for r in results if r.error is not None)
    return DecisionsOut(results=out, decided=len(results) - failed, failed=failed)


def _verdict(v: Verdict, names: Names) -> VerdictOut:
    return VerdictOut(
        status=v.status.value, budget=_budget(v.budget), exceeded_limits=[_limit(x) for x in v.exceeded],
        approvers=[PersonOut.of(a, names) for a in v.approvers],
    )  # fmt: skip


def _re_evaluation(results: list[ReJudgement], dry_run: bool, more: bool, names: Names) -> ReEvaluationOut:
    out = [
        ReJudgementOut(
            order_id=r.order_id,
            outcome=r.outcome,
            before=_verdict(r.before, names),
            after=_verdict(r.after, names),
            kept_because=r.kept_because,
        )
        for r in results
    ]
    count = {k: sum(1 for r in results if r.outcome == k) for k in ("released", "updated", "unchanged")}
    return ReEvaluationOut(dry_run=dry_run, results=out, more_pending=more, **count)


def _parse_if_match(value: str | None) -> int | None:
    if value is None:
        return None
    v = value.strip().removeprefix("W/").strip('"')
    if not v.isdigit() or len(v) > 9:
        raise ApiError(400, "invalid_if_match", 'If-Match must be the order\'s version, e.g. "3".')
    return int(v)


def summary_out(
    row: dict[str, Any], names: Names, me: UUID | None = None, acting_for: list[UUID] | None = None
) -> SummaryOut:
    for_whom = None
    if me is not None and acting_for and me not in row["approvers"]:
        for_whom = next((a for a in row["approvers"] if a in acting_for), None)
    return SummaryOut(
        id=row["order_id"],
        status=row["status"],
        buyer_id=row["buyer_id"],
        total=MoneyOut(amount=row["total"], currency=row["currency"]),
        total_quantity=row["total_quantity"],
        line_count=row["line_count"],
        reference=row["reference"],
        approvers=list(row["approvers"]),
        round=row["round"],
        submitted_at=row["submitted_at"],
        updated_at=row["updated_at"],
        buyer=PersonOut.of(row["buyer_id"], names),
        approvers_with_names=[PersonOut.of(a, names) for a in row["approvers"]],
        substitute_for=PersonOut.of(for_whom, names) if for_whom else None,
    )


async def _page(
    rows: list[dict[str, Any]],
    total: int,
    limit: int,
    offset: int,
    orders: Orders,
    blocking: WorkerPool,
    me: UUID | None = None,
    acting_for: list[UUID] | None = None,
) -> PageOut:
    """A page of summaries with the names of their buyers and approvers (one read for the whole page); ``me``,
    ``acting_for``: an inbox, whose items say for whom the caller would decide as a substitute."""
    people = {r["buyer_id"] for r in rows} | {a for r in rows for a in r["approvers"]}
    names = await blocking.run(orders.names, people) if people else Names()
    items = [summary_out(r, names, me, acting_for) for r in rows]
    return PageOut(items=items, total=total, limit=limit, offset=offset)


def present_order(orders: Orders, order: Order) -> OrderOut:
    """The order with its timeline and the names of everyone in it (the use case that returned the order checked
    that the caller may see it)."""
    ids = {order.buyer_id, *order.approvers, *(m.author_id for m in order.conversation)}
    ids |= {o.substitute_id for o in order.offers} | {o.on_behalf_of for o in order.offers}
    ids |= {m.on_behalf_of for m in order.conversation if m.on_behalf_of} | order_people(order)
    for decider in (order.decided_by, order.decided_on_behalf_of):
        if decider:
            ids.add(decider)
    return order_out(order, orders.timeline(order), orders.names(ids))


def orders_router(
    orders: Orders, summaries: OrderSummaries, blocking: WorkerPool, caller: Any, fence: ReadFence | None = None
) -> APIRouter:
    """``caller`` is the dependency that verifies the JWT and yields a :class:`Caller`; ``fence``: wait for the
    users topics before judging a caller (ADR 0012)."""
    router = APIRouter(tags=["orders"])

    async def fenced(request: Request) -> Caller:
        # the caller's dependency called here, not nested: one dependency for FastAPI to resolve per request
        who: Caller = await caller(request)
        if fence is not None:
            await fence.before((who.issuer, who.subject))
        return who

    Who = Annotated[Caller, Depends(fenced)]

    def resolve(who: Caller) -> Member:
        """The member the token names (in the worker pool), remembered for the fence of their next request."""
        found = orders.caller(who)
        if fence is not None:
            fence.remember((who.issuer, who.subject), found.company_id)
        return found

    async def member(who: Who) -> Member:
        return await blocking.run(resolve, who)

    Me = Annotated[Member, Depends(member)]

    def present(order: Order) -> OrderOut:
        return present_order(orders, order)

    async def respond(
        use_case: Callable[..., Order], who: Caller, *args: Any, request: OrderRequest | None = None
    ) -> OrderOut:
        """Who is calling, the use case and the reads of its response in one call of the worker pool, as one read
        (``request``: the order it prices, so its prices' versions are asked for with the rest)."""

        def run() -> OrderOut:
            with orders.one_read():
                orders.prefetch(who, request)
                return present(use_case(resolve(who), *args))

        return await blocking.run(run)

    @router.post(
        "/api/orders/evaluate",
        response_model=EvaluationOut,
        summary="Price an order from the ERP's prices and check it against the buyer's budget, as a dry run",
        description=PRICING_DESCRIPTION,
        responses=PRICING_ERRORS,
    )
    async def evaluate(body: OrderIn, who: Who) -> EvaluationOut:
        request = body.to_domain()

        def run() -> tuple[Evaluation, Names]:
            with orders.one_read():
                orders.prefetch(who, request)
                ev = orders.evaluate(resolve(who), request)
                return ev, orders.names(ev.approvers)

        ev, names = await blocking.run(run)
        content = ev.content
        return EvaluationOut(
            lines=_lines(content),
            within_budget=not ev.exceeded,
            exceeded_limits=[_limit(x) for x in ev.exceeded],
            budget=_budget(ev.budget),
            total=MoneyOut(amount=content.total_value, currency=content.currency),
            total_quantity=content.total_quantity,
            approvers=[PersonOut.of(a, names) for a in ev.approvers],
            period_budget=_figures(ev.ledger.user_id, ev.period) if ev.period and ev.ledger else None,
        )

    @router.get(
        "/api/orders/period-budget",
        response_model=PeriodBudgetStatusOut,
        summary="Where a period budget stands: available, reserved and consumed in the current period",
        description="The caller's own; with `user_id`, a user of the caller's company (the main contact, or who "
        "manages budgets; others get 403 `not_allowed`, a user of another company is 404 `not_found`).",
    )
    async def period_budget(who: Who, user_id: Annotated[UUID | None, Query()] = None) -> PeriodBudgetStatusOut:
        def run() -> PeriodBudgetStatusOut:
            with orders.one_read():
                orders.prefetch(who)
                target, figures = orders.period_budget(resolve(who), user_id)
                return PeriodBudgetStatusOut(
                    user_id=target.id, figures=_figures(target.id, figures) if figures else None
                )

        return await blocking.run(run)

    @router.post(
        "/api/orders",
        status_code=status.HTTP_201_CREATED,
        response_model=OrderOut,
        summary="Submit an order: released within budget, else held for approval with the exceeded limits",
        description=PRICING_DESCRIPTION,
        responses=PRICING_ERRORS,
    )
    async def submit(
        body: OrderIn,
        who: Who,
        idempotency_key: Annotated[
            str | None,
            Header(
                alias="Idempotency-Key",
                min_length=8,
                max_length=200,
                pattern=r"^[\x21-\x7e]+$",
                description="Recommended: a key the shop makes once per order it submits (e.g. a UUID) and sends "
                "again when it retries after a timeout or a 502/503. The same key of the same buyer returns the "
                "order made the first time (as it is now) instead of making a second one; with other lines it is "
                "refused (422 `idempotency_key_reused`).",
            ),
        ] = None,
    ) -> OrderOut:
        request = body.to_domain()
        return await respond(orders.submit, who, request, idempotency_key, request=request)

    @router.get("/api/orders", response_model=PageOut, summary="My orders (all of the company's with the right)")
    async def list_orders(
        me: Me,
        status_filter: Annotated[StatusFilter | None, Query(alias="status")] = None,
        scope: Annotated[Literal["mine", "company"], Query()] = "mine",
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> PageOut:
        if scope == "company" and not (me.can("view_company_orders") or me.is_main_contact):
            raise ApiError(403, "forbidden", "Your role does not allow viewing all of the company's orders.")
        rows, total = await summaries.query(
            me.company_id, buyer_id=me.id if scope == "mine" else None, status=status_filter, limit=limit, offset=offset
        )
        return await _page(rows, total, limit, offset, orders, blocking)

    @router.get(
        "/api/approvals",
        response_model=PageOut,
        summary="The approver's inbox: orders waiting for me",
        description="The orders routed to the caller, and while an absence names the caller substitute, those "
        "routed to the absent approver (`substitute_for`; never the caller's own orders), judged at this moment.",
    )
    async def inbox(
        who: Who,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> PageOut:
        def run() -> tuple[Member, list[UUID]]:
            with orders.one_read():
                me = resolve(who)
                return me, orders.acting_for(me)

        me, acting_for = await blocking.run(run)
        rows, total = await summaries.query(
            me.company_id, approver_id=me.id, acting_for=acting_for, status="pending_approval", limit=limit,
            offset=offset,
        )  # fmt: skip
        return await _page(rows, total, limit, offset, orders, blocking, me.id, acting_for)

    @router.post(
        "/api/orders/decisions",
        response_model=DecisionsOut,
        summary="Approve or reject several orders at once, with one comment for all; a result per order",
        description="Each order is decided exactly as by its own `approve` (as it is, priced again) or `reject`, "
        "in a transaction of its own: the answer is 200 with one result per order, decided or `failed` with the "
        "error code the single decision would have answered; one order failing changes nothing of the others. "
        "Sent again, nothing is decided twice: an order decided the first time answers `wrong_state` with its "
        "status and who decided it. Another company's order answers exactly like one that does not exist "
        "(`not_found`). The request is refused as a whole (422) when it names no order, more than "
        f"{DECISIONS_MAX}, one twice (`details` type `duplicate_order_ids`) or rejects without a comment "
        "(`comment_required`).",
    )
    async def decide(body: DecisionsIn, who: Who) -> DecisionsOut:
        def run() -> DecisionsOut:
            with orders.one_read():
                orders.prefetch(who)
                results = orders.decide(resolve(who), body.decision, body.order_ids, body.comment)
                deciders = {p for r in results if r.order is not None
                            for p in (r.order.decided_by, r.order.decided_on_behalf_of) if p}  # fmt: skip
                names = orders.names(deciders) if deciders else Names()
                return _decisions(body.decision, results, names)

        return await blocking.run(run)

    @router.get(
        "/api/orders/credit",
        response_model=CompanyCreditOut,
        summary="The company's credit at the ERP and the orders waiting for it (the main contact, or who manages budgets)",
        description="Others get 403 `not_allowed`: a buyer sees only why their own order waits (`credit_hold`).",
    )
    async def company_credit(who: Who) -> CompanyCreditOut:
        def run() -> CompanyCreditOut:
            with orders.one_read():
                return _company_credit(orders.credit.view(resolve(who)))

        return await blocking.run(run)

    @router.post(
        "/api/orders/re-evaluations",
        response_model=ReEvaluationOut,
        summary="Judge the company's pending orders again on today's budgets (the main contact, who manages budgets)",
        description="Pending orders keep the verdict they were judged on (`judged_on`) when a budget changes; this "
        "command judges them again, oldest first (at most "
        f"{RE_EVALUATION_MAX}; `more_pending` says when more remain): an order that fits now is released to the ERP "
        "as any release (its period budget reserved), one that still exceeds stays pending with today's limits and "
        "approvers (`updated`; new approvers get the approval request by e-mail), or keeps its verdict "
        "(`unchanged`). Each changed order records who asked, when, and the verdict before and after (timeline "
        "`ReEvaluated`). `dry_run`: the same report, nothing stored. `buyer_id`: only that user's orders (another "
        "company's user is 404 `not_found`). Others than the main contact and who manages budgets: 403 "
        "`not_allowed`.",
    )
    async def re_evaluate(body: ReEvaluationIn, who: Who) -> ReEvaluationOut:
        def check() -> Member:
            with orders.one_read():
                me = resolve(who)
                orders.check_re_evaluation(me, body.buyer_id)
                return me

        me = await blocking.run(check)
        pending = await summaries.pending_oldest_first(me.company_id, body.buyer_id, RE_EVALUATION_MAX + 1)

        def run() -> ReEvaluationOut:
            with orders.one_read():
                results = orders.re_evaluate(me, pending[:RE_EVALUATION_MAX], body.buyer_id, body.dry_run)
                people = {a for r in results for v in (r.before, r.after) for a in v.approvers}
                names = orders.names(people) if people else Names()
                return _re_evaluation(results, body.dry_run, len(pending) > RE_EVALUATION_MAX, names)

        return await blocking.run(run)

    @router.get("/api/orders/{order_id}", response_model=OrderOut, summary="One order with its whole history")
    async def get(order_id: UUID, who: Who) -> OrderOut:
        return await respond(orders.get_order, who, order_id)

    @router.post(
        "/api/orders/{order_id}/approve",
        response_model=OrderOut,
        summary="Approve (optionally modified: quantities, lines, addresses, methods — never prices)",
        description="The order is priced again now. If a price changed since the order was priced, the answer is "
        "409 `price_changed` with the current prices and nothing is stored; approving with `modified_order` "
        "(the lines as shown, with the new prices) then releases it with the change visible. " + PRICING_DESCRIPTION,
        responses=PRICING_ERRORS,
    )
    async def approve(order_id: UUID, body: ApproveIn, who: Who) -> OrderOut:
        modified = body.modified_order.to_domain() if body.modified_order else None
        return await respond(orders.approve, who, order_id, body.comment, modified, request=modified)

    @router.post("/api/orders/{order_id}/reject", response_model=OrderOut, summary="Reject with a comment")
    async def reject(order_id: UUID, body: RejectIn, who: Who) -> OrderOut:
        return await respond(orders.reject, who, order_id, body.comment)

    @router.post(
        "/api/orders/{order_id}/resubmit",
        response_model=OrderOut,
        summary="Send a rejected order back",
        description=PRICING_DESCRIPTION,
        responses=PRICING_ERRORS,
    )
    async def resubmit(order_id: UUID, body: ResubmitIn, who: Who) -> OrderOut:
        request = body.order.to_domain()
        return await respond(orders.resubmit, who, order_id, body.comment, request, request=request)

    @router.post("/api/orders/{order_id}/cancel", response_model=OrderOut, summary="Cancel (the buyer, while open)")
    async def cancel(order_id: UUID, body: CancelIn, who: Who) -> OrderOut:
        return await respond(orders.cancel, who, order_id, body.comment)

    @router.post("/api/orders/{order_id}/comments", response_model=OrderOut, summary="Add to the conversation")
    async def comment(
        order_id: UUID,
        body: CommentIn,
        who: Who,
        if_match: Annotated[str | None, Header(alias="If-Match")] = None,
    ) -> OrderOut:
        return await respond(orders.comment, who, order_id, body.text, _parse_if_match(if_match))

    add_absence_routes(router, orders, summaries, blocking, member)
    add_policy_routes(router, orders, blocking, member)
    add_deadline_routes(router, orders, blocking, member)
    from approval.adapters.inbound.bundles_http import add_bundle_routes  # its models use this module's

    add_bundle_routes(router, orders, blocking, member)
    return router
