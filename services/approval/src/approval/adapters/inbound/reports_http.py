"""HTTP route of the controller's figures (``/api/reports/figures``, ADR 0021): JSON, or CSV with ``format=csv``."""

# No `from __future__ import annotations` here: FastAPI resolves the dependencies declared in closures.

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

import xlsxwriter
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field, StringConstraints

from approval.adapters.inbound.callers import Callers
from approval.adapters.inbound.people import PersonOut
from approval.adapters.outbound.figures import TOP, FiguresStore
from approval.application.orders import Orders
from approval.application.reports import ReportQuery, rate, report_query
from approval.domain.members import Member, Names
from approval.domain.model import StatusName
from contracts.common import PlainText
from contracts.limits import SHORT_TEXT_MAX
from kc_runtime.auth import Caller
from kc_runtime.eventstore import WorkerPool

Moment = Annotated[str, StringConstraints(max_length=40, strip_whitespace=True)]
Reference = Annotated[str, StringConstraints(max_length=SHORT_TEXT_MAX), PlainText]
StatusFilter = StatusName


class Money(BaseModel):
    amount: Decimal = Field(description="A decimal string, exact")
    currency: str


class Person(PersonOut):
    """A person (``PersonOut``'s shape)."""


class PeriodOut(BaseModel):
    from_: datetime = Field(alias="from", description="Inclusive")
    until: datetime = Field(description="Exclusive")

    model_config = {"populate_by_name": True}


class SpendOut(BaseModel):
    """The orders' values in one currency."""

    currency: str
    orders: int
    submitted: Money = Field(description="As the buyers first submitted them")
    approved: Money = Field(description="Released by an approver's approval (as approved, modifications included)")
    released: Money = Field(description="Released to the ERP, within budget or approved")
    confirmed: Money = Field(description="Released and confirmed by the ERP")
    rejected: Money = Field(description="Rejected by an approver and not sent back since")
    erp_rejected: Money = Field(description="Released and refused by the ERP")


class ReferenceSpendOut(BaseModel):
    """The orders of one reference (cost centre; null: none given) in one currency."""

    reference: str | None
    currency: str
    orders: int
    submitted: Money
    released: Money
    confirmed: Money


class StatusOut(BaseModel):
    status: str
    orders: int
    value: Money = Field(description="The orders' current values")


class CycleOut(BaseModel):
    decisions: int
    p50_seconds: float | None = Field(description="Median time from the approval request to the decision")
    p90_seconds: float | None


class ApproverCycleOut(CycleOut):
    approver: Person
    approved: int
    rejected: int
    rejection_rate: str | None = Field(description="rejected / decisions, four decimal places")


class ReasonOut(BaseModel):
    reason: str | None
    count: int


class ErpRejectionsOut(BaseModel):
    answered: int = Field(description="Released orders the ERP confirmed or refused")
    rejected: int
    rate: str | None
    reasons: list[ReasonOut]


class RejectionsOut(BaseModel):
    decisions: int
    rejected: int
    rate: str | None = Field(description="Rejections among the decisions, four decimal places")
    reasons: list[ReasonOut] = Field(description=f"The rejection comments, most frequent first (at most {TOP})")
    erp: ErpRejectionsOut


class BudgetUseOut(BaseModel):
    user: Person
    currency: str
    orders: int
    submitted: Money
    released: Money
    confirmed: Money
    over_order_limit: int = Field(description="Orders held for a per-order limit (quantity or value)")
    over_period_budget: int = Field(description="Orders that did not fit into what was left of a period budget")
    limits: dict[str, int] = Field(description="Orders per limit hit: max_quantity, max_value, period_value, …")
    on_period_budget: Money = Field(description="Released value taken from a period budget")


class ArticleOut(BaseModel):
    sku: str
    description: str
    quantity: int
    value: Money
    orders: int


class FiguresOut(BaseModel):
    """The controller's figures of the orders submitted in the period (and matching the filters)."""

    period: PeriodOut = Field(description="The period as understood (the filters are not repeated)")
    spend: list[SpendOut] = Field(description="One entry per currency")
    spend_by_reference: list[ReferenceSpendOut] = Field(
        description=f"The references (cost centres) with the most value submitted, most first (at most {TOP})"
    )
    orders_by_status: list[StatusOut]
    cycle_time: CycleOut
    cycle_time_per_approver: list[ApproverCycleOut]
    rejections: RejectionsOut
    budget_use: list[BudgetUseOut] = Field(description="Per buyer and currency")
    top_articles: list[ArticleOut] = Field(
        description=f"Released orders' articles by value, most first (at most {TOP})"
    )


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


def build(raw: dict[str, Any], q: ReportQuery, names: Names) -> FiguresOut:
    def person(i: UUID) -> Person:
        return Person.of(i, names)

    def money(amount: Any, currency: str) -> Money:
        return Money(amount=Decimal(amount), currency=currency)

    (cycle,), (erp,) = raw["cycle"], raw["erp"]
    rejected = sum(r["rejected"] for r in raw["per_approver"])
    return FiguresOut(
        period=PeriodOut.model_validate({"from": q.start, "until": q.end}),
        spend=[
            SpendOut(
                currency=r["currency"],
                orders=r["orders"],
                **{
                    k: money(r[k], r["currency"])
                    for k in ("submitted", "approved", "released", "confirmed", "rejected", "erp_rejected")
                },
            )
            for r in raw["spend"]
        ],
        spend_by_reference=[
            ReferenceSpendOut(
                reference=r["reference"],
                currency=r["currency"],
                orders=r["orders"],
                **{k: money(r[k], r["currency"]) for k in ("submitted", "released", "confirmed")},
            )
            for r in raw["by_reference"]
        ],
        orders_by_status=[
            StatusOut(status=r["status"], orders=r["orders"], value=money(r["value"], r["currency"]))
            for r in raw["by_status"]
        ],
        cycle_time=CycleOut(
            decisions=cycle["decisions"], p50_seconds=_seconds(cycle["p50"]), p90_seconds=_seconds(cycle["p90"])
        ),
        cycle_time_per_approver=[
            ApproverCycleOut(
                approver=person(r["approver_id"]),
                decisions=r["decisions"],
                approved=r["approved"],
                rejected=r["rejected"],
                rejection_rate=rate(r["rejected"], r["decisions"]),
                p50_seconds=_seconds(r["p50"]),
                p90_seconds=_seconds(r["p90"]),
            )
            for r in raw["per_approver"]
        ],
        rejections=RejectionsOut(
            decisions=cycle["decisions"],
            rejected=rejected,
            rate=rate(rejected, cycle["decisions"]),
            reasons=[ReasonOut(reason=r["reason"], count=r["count"]) for r in raw["reasons"]],
            erp=ErpRejectionsOut(
                answered=erp["answered"],
                rejected=erp["rejected"],
                rate=rate(erp["rejected"], erp["answered"]),
                reasons=[ReasonOut(reason=r["reason"], count=r["count"]) for r in raw["erp_reasons"]],
            ),
        ),
        budget_use=[
            BudgetUseOut(
                user=person(r["buyer_id"]),
                currency=r["currency"],
                orders=r["orders"],
                submitted=money(r["submitted"], r["currency"]),
                released=money(r["released"], r["currency"]),
                confirmed=money(r["confirmed"], r["currency"]),
                over_order_limit=r["over_order_limit"],
                over_period_budget=r["over_period_budget"],
                limits={k: r[k] for k in ("max_quantity", "max_value", "period_value", "period_quantity")},
                on_period_budget=money(r["on_period_budget"], r["currency"]),
            )
            for r in raw["budget_use"]
        ],
        top_articles=[
            ArticleOut(
                sku=r["sku"],
                description=r["description"],
                quantity=r["quantity"],
                value=money(r["value"], r["currency"]),
                orders=r["orders"],
            )
            for r in raw["top_articles"]
        ],
    )


CSV_COLUMNS = ("section", "key", "currency", "metric", "value")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def rows(figures: FiguresOut) -> list[tuple[str, str, str, str, Any]]:
    """One figure per row (``section, key, currency, metric, value``): easy to pivot in a spreadsheet."""
    out: list[tuple[str, str, str, str, Any]] = [
        ("period", "", "", "from", figures.period.from_.isoformat()),
        ("period", "", "", "until", figures.period.until.isoformat()),
    ]
    for s in figures.spend:
        out.append(("spend", "", s.currency, "orders", s.orders))
        for k in ("submitted", "approved", "released", "confirmed", "rejected", "erp_rejected"):
            out.append(("spend", "", s.currency, k, getattr(s, k).amount))
    for ref in figures.spend_by_reference:
        out.append(("spend_by_reference", ref.reference or "", ref.currency, "orders", ref.orders))
        for k in ("submitted", "released", "confirmed"):
            out.append(("spend_by_reference", ref.reference or "", ref.currency, k, getattr(ref, k).amount))
    for st in figures.orders_by_status:
        out.append(("orders_by_status", st.status, st.value.currency, "orders", st.orders))
        out.append(("orders_by_status", st.status, st.value.currency, "value", st.value.amount))
    c = figures.cycle_time
    for k in ("decisions", "p50_seconds", "p90_seconds"):
        out.append(("cycle_time", "", "", k, getattr(c, k)))
    for a in figures.cycle_time_per_approver:
        for k in ("decisions", "approved", "rejected", "rejection_rate", "p50_seconds", "p90_seconds"):
            value = getattr(a, k)
            out.append(("cycle_time_per_approver", str(a.approver.id), "", k, _number(value)))
    r = figures.rejections
    for k in ("decisions", "rejected", "rate"):
        out.append(("rejections", "", "", k, _number(getattr(r, k))))
    for reason in r.reasons:
        out.append(("rejection_reasons", reason.reason or "", "", "count", reason.count))
    for k in ("answered", "rejected", "rate"):
        out.append(("erp_rejections", "", "", k, _number(getattr(r.erp, k))))
    for reason in r.erp.reasons:
        out.append(("erp_rejection_reasons", reason.reason or "", "", "count", reason.count))
    for b in figures.budget_use:
        user = str(b.user.id)
        for k in ("orders", "over_order_limit", "over_period_budget"):
            out.append(("budget_use", user, b.currency, k, getattr(b, k)))
        for k in ("submitted", "released", "confirmed", "on_period_budget"):
            out.append(("budget_use", user, b.currency, k, getattr(b, k).amount))
        for k, n in b.limits.items():
            out.append(("budget_use", user, b.currency, f"limit:{k}", n))
    for art in figures.top_articles:
        out.append(("top_articles", art.sku, art.value.currency, "quantity", art.quantity))
        out.append(("top_articles", art.sku, art.value.currency, "value", art.value.amount))
        out.append(("top_articles", art.sku, art.value.currency, "orders", art.orders))
    return out


def _number(value: Any) -> Any:
    """Rates come as decimal strings; in a sheet they are numbers."""
    return Decimal(value) if isinstance(value, str) else value


def _text(value: str) -> str:
    """A text a spreadsheet must not take for a formula (a comment or an article number written by a user)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def to_csv(figures: FiguresOut) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    for section, key, currency, metric, value in rows(figures):
        w.writerow((section, _text(key), currency, metric, _cell(value)))
    return out.getvalue()


def to_xlsx(figures: FiguresOut) -> bytes:
    """The rows of :func:`rows`, one sheet per section; figures as numbers, texts never as formulas."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    bold = book.add_format({"bold": True})
    sheets: dict[str, Any] = {}
    filled: dict[str, int] = {}
    for section, key, currency, metric, value in rows(figures):
        sheet = sheets.get(section)
        if sheet is None:
            sheet = sheets[section] = book.add_worksheet(section[:31])
            sheet.write_row(0, 0, CSV_COLUMNS[1:], bold)
            sheet.set_column(0, 0, 38)
        n = filled[section] = filled.get(section, 0) + 1
        sheet.write_string(n, 0, key)
        sheet.write_string(n, 1, currency)
        sheet.write_string(n, 2, metric)
        if value is None:
            sheet.write_blank(n, 3, None)
        elif isinstance(value, int | float | Decimal):
            sheet.write_number(n, 3, float(value))
        else:
            sheet.write_string(n, 3, str(value))
    book.close()
    return buffer.getvalue()


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def reports_router(orders: Orders, store: FiguresStore, blocking: WorkerPool, callers: Callers) -> APIRouter:
    """``callers``: the verified, fenced caller (ADR 0012), so a `view_reports` taken away is in force once users
    answered."""
    router = APIRouter(tags=["reports"])
    resolve = callers.resolve

    @router.get(
        "/api/reports/figures",
        response_model=FiguresOut,
        summary="The controller's figures: spend (also per reference), orders by status, approval cycle times, rejections, budget use, "
        "top articles",
        description="Needs `view_reports` (else 403 `not_allowed`). Always the caller's own company (no parameter "
        "names another). The orders submitted in [`from`, `until`) — dates (midnight, Europe/Berlin) or date-times "
        "with an offset; default: the current calendar month; at most two years (422 `period_too_long`; `until` "
        "not after `from` or unreadable: 422 `invalid_period`) — narrowed by the buyer (`user_id`), an approver "
        "who decided them (`approver_id`; the decision figures then count only that approver's decisions), the "
        "current `status` and the `reference` (cost centre, exact). Money as decimal strings, per currency. "
        "Computed from projections of the order events, eventually consistent (a second or so behind). "
        "`format=csv`: the same figures as CSV, one figure per row (`section,key,currency,metric,value`; a text "
        "that a spreadsheet would take for a formula starts with `'`); `format=xlsx`: a workbook with a sheet per "
        "section, figures as numbers.",
        responses={
            200: {
                "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    XLSX: {"schema": {"type": "string", "format": "binary"}},
                }
            }
        },
    )
    async def figures(
        who: Annotated[Caller, Depends(callers.fenced)],
        start: Annotated[Moment | None, Query(alias="from")] = None,
        end: Annotated[Moment | None, Query(alias="until")] = None,
        user_id: Annotated[UUID | None, Query()] = None,
        approver_id: Annotated[UUID | None, Query()] = None,
        status: Annotated[StatusFilter | None, Query()] = None,
        reference: Annotated[Reference | None, Query()] = None,
        format: Annotated[Literal["json", "csv", "xlsx"], Query()] = "json",
    ) -> Any:
        def ask() -> tuple[Member, ReportQuery]:
            me = resolve(who)
            return me, report_query(
                me, start, end, user_id=user_id, approver_id=approver_id, status=status, reference=reference,
                now=datetime.now(UTC),
            )  # fmt: skip

        me, q = await blocking.run(ask)
        raw = await store.figures(me.company_id, q)
        people = {r["approver_id"] for r in raw["per_approver"]} | {r["buyer_id"] for r in raw["budget_use"]}
        names = await blocking.run(orders.names, people) if people else Names()
        out = build(raw, q, names)
        if format == "xlsx":
            return Response(
                to_xlsx(out), media_type=XLSX, headers={"Content-Disposition": 'attachment; filename="figures.xlsx"'}
            )
        if format == "csv":
            return Response(
                to_csv(out),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": 'attachment; filename="figures.csv"'},
            )
        return out

    return router
