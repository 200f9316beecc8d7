"""The controller's figures on PostgreSQL (ADR 0021): on a random history made through approval's use cases
(submit, approve as is or modified, reject, resubmit, cancel, the ERP's transmission, confirmation and refusal),
every figure the fact tables give equals a recomputation in plain Python from the stored events — for the whole
period and for every filter — whatever the batches the projector was handed, and when it is handed them again."""

from __future__ import annotations

import math
import random
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import pytest
from pydantic import SecretStr

from approval.adapters.outbound.figures import TOP, FiguresStore
from approval.application.orders import Orders
from approval.application.reports import ReportQuery
from approval.domain.budget import Budget, PeriodBudget
from approval.domain.model import Order, OrderStatus
from approval.domain.pricing import OrderRequest, RequestedLine
from approval.settings import ApprovalSettings
from tests.support.approval import Company
from tests.unit.approval.test_order import ADDRESS

pytestmark = pytest.mark.integration

SKUS = ("A-1", "A-100", "LOST-1")
REFERENCES = ("KST-100", "KST-200", None)
REASONS = ("zu teuer", "falsche Kostenstelle", "bitte bündeln")
ERP_REASONS = ("credit limit", "article blocked")


@pytest.fixture
async def dsn(database) -> str:
    return await database("approval")


@pytest.fixture
async def world(dsn: str) -> AsyncIterator[tuple[Orders, FiguresStore]]:
    orders = Orders(env=ApprovalSettings(database_url=SecretStr(dsn)).eventsourcing_env())
    store = FiguresStore(dsn)
    await store.pool()
    yield orders, store
    await store.close()
    orders.close()


def request(rnd: random.Random, reference: str | None) -> OrderRequest:
    skus = rnd.sample(SKUS, rnd.randint(1, 2))
    return OrderRequest(
        lines=tuple(RequestedLine(sku, rnd.randint(1, 14)) for sku in skus),
        delivery_address=ADDRESS, billing_address=ADDRESS, payment_method="invoice", shipping_method="standard",
        reference=reference,
    )  # fmt: skip


def generate(orders: Orders, seed: int, steps: int = 140) -> tuple[Company, list[Any]]:
    """A company with buyers of every kind of budget and two approvers, and a random history of ``steps``."""
    rnd = random.Random(seed)
    company = Company(orders)
    buyers = [
        company.member("b-order", ["place_orders"], Budget(max_quantity=10, max_value=Decimal("100"), currency="EUR")),
        company.member("b-period", ["place_orders"], Budget(period=PeriodBudget("month", Decimal("400"), "EUR"))),
        company.member(
            "b-both", ["place_orders"], Budget(max_quantity=12, period=PeriodBudget("month", Decimal("250"), "EUR"))
        ),
        company.member("b-free", ["place_orders"]),
    ]
    approvers = [company.member(f"approver{i}", ["approve_orders"]) for i in range(2)]
    company.approvers(*approvers)
    people = {m.id: m for m in [*buyers, *approvers, company.main]}
    ids: list[UUID] = []
    for _ in range(steps):
        known = [orders.repository.get(i) for i in ids]
        by_status: dict[OrderStatus, list[Order]] = {}
        for o in known:
            by_status.setdefault(o.status, []).append(o)
        pending = by_status.get(OrderStatus.PENDING_APPROVAL, [])
        at_erp = by_status.get(OrderStatus.RELEASED, []) + by_status.get(OrderStatus.TRANSMITTED, [])
        move = rnd.choices(["submit", "approve", "reject", "resubmit", "cancel", "erp"], [5, 3, 2, 1, 1, 3])[0]
        if move == "submit" or not known:
            ids.append(orders.submit(rnd.choice(buyers), request(rnd, rnd.choice(REFERENCES))).id)
        elif move in ("approve", "reject") and pending:
            o = rnd.choice(pending)
            if not o.approvers:
                continue
            who = people[rnd.choice(o.approvers)]
            if move == "reject":
                orders.reject(who, o.id, rnd.choice(REASONS))
            elif rnd.random() < 0.3:  # modified: fewer pieces of each line
                modified = replace(OrderRequest.of(o.content), lines=tuple(
                    RequestedLine(ln.sku, max(1, ln.quantity // 2)) for ln in o.content.lines
                ))  # fmt: skip
                orders.approve(who, o.id, "gekürzt", modified)
            else:
                orders.approve(who, o.id, rnd.choice([None, "ok"]))
        elif move == "resubmit" and by_status.get(OrderStatus.REJECTED):
            o = rnd.choice(by_status[OrderStatus.REJECTED])
            orders.resubmit(people[o.buyer_id], o.id, "weniger", request(rnd, rnd.choice(REFERENCES)))
        elif move == "cancel" and (pending or by_status.get(OrderStatus.REJECTED)):
            o = rnd.choice(pending + by_status.get(OrderStatus.REJECTED, []))
            orders.cancel(people[o.buyer_id], o.id)
        elif move == "erp" and at_erp:
            o = rnd.choice(at_erp)
            word = rnd.choice(["transmitted", "confirmed", "confirmed", "rejected"])
            if word == "transmitted":
                orders.save(*orders.erp_transmitted(o.id))
            elif word == "confirmed":
                orders.save(*orders.erp_confirmed(o.id, f"SO-{rnd.randint(1, 10**6)}"))
            else:
                orders.save(*orders.erp_rejected(o.id, rnd.choice(ERP_REASONS)))
    return company, ids


# ---- the recomputation: plain Python over the stored events -----------------------------------------------------


def replay(events: list[Any]) -> tuple[dict[UUID, dict[str, Any]], list[dict[str, Any]]]:
    orders: dict[UUID, dict[str, Any]] = {}
    decisions: list[dict[str, Any]] = []
    for _notification, e, _meta in events:
        if not isinstance(e, Order.Event):  # type: ignore[attr-defined]
            continue
        name, o = type(e).__name__, orders.get(e.originator_id)
        if name == "Submitted":
            orders[e.originator_id] = {
                "id": e.originator_id, "company": e.company_id, "buyer": e.buyer_id, "at": e.submitted_at,
                "submitted": e.content.total_value, "content": e.content, "status": "pending_approval",
                "requested": None, "released": None, "approved_by": None, "limits": set(),
                "ledger": e.ledger_id is not None, "deciders": set(), "erp_reason": None,
            }  # fmt: skip
            continue
        assert o is not None
        if name == "ApprovalRequested":
            o["requested"] = e.at
            o["limits"] |= {x.limit for x in e.exceeded}
        elif name == "Modified":
            o["content"] = e.content
        elif name in ("Approved", "Rejected"):
            decisions.append({
                "order": o["id"], "approver": e.approver_id, "outcome": name.lower(), "comment": e.comment,
                "seconds": (e.at - (o["requested"] or o["at"])).total_seconds(),
            })  # fmt: skip
            o["deciders"].add(e.approver_id)
            if name == "Rejected":
                o["status"] = "rejected"
        elif name == "Released":
            o.update(content=e.content, status="released", released=e.content.total_value, approved_by=e.approved_by)
        elif name == "Resubmitted":
            o.update(content=e.content, status="pending_approval", requested=None, ledger=e.ledger_id is not None)
        elif name in ("Transmitted", "ConfirmedByErp", "RejectedByErp", "Cancelled"):
            o["status"] = {"Transmitted": "transmitted", "ConfirmedByErp": "confirmed",
                           "RejectedByErp": "erp_rejected", "Cancelled": "cancelled"}[name]  # fmt: skip
            if name == "RejectedByErp":
                o["erp_reason"] = e.reason
    return orders, decisions


def percentile(values: list[float], p: float) -> float | None:
    """PostgreSQL's percentile_cont: linear interpolation between the closest ranks."""
    if not values:
        return None
    v = sorted(values)
    row = p * (len(v) - 1)
    lo, hi = math.floor(row), math.ceil(row)
    return v[lo] + (row - lo) * (v[hi] - v[lo])


def total(values: Any) -> Decimal:
    return sum(values, Decimal(0))


def top(counts: dict[Any, int]) -> list[dict[str, Any]]:
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0] is None, kv[0] or ""))
    return [{"reason": k, "count": n} for k, n in ranked[:TOP]]


def recompute(events: list[Any], company_id: UUID, q: ReportQuery) -> dict[str, Any]:
    every, all_decisions = replay(events)
    chosen = {
        i: o for i, o in every.items()
        if o["company"] == company_id and q.start <= o["at"] < q.end
        and (q.user_id is None or o["buyer"] == q.user_id) and (q.status is None or o["status"] == q.status)
        and (q.reference is None or o["content"].reference == q.reference)
        and (q.approver_id is None or q.approver_id in o["deciders"])
    }  # fmt: skip
    decisions = [
        d for d in all_decisions if d["order"] in chosen and (q.approver_id is None or d["approver"] == q.approver_id)
    ]
    fs = list(chosen.values())
    released = [o for o in fs if o["released"] is not None]
    out: dict[str, Any] = {
        "spend": [
            {"currency": "EUR", "orders": len(fs), "submitted": total(o["submitted"] for o in fs),
             "approved": total(o["released"] for o in released if o["approved_by"]),
             "released": total(o["released"] for o in released),
             "confirmed": total(o["released"] for o in released if o["status"] == "confirmed"),
             "rejected": total(o["content"].total_value for o in fs if o["status"] == "rejected"),
             "erp_rejected": total(o["released"] for o in released if o["status"] == "erp_rejected")}
        ] if fs else [],
        "by_reference": sorted(
            ({"reference": r, "currency": "EUR", "orders": len(group := [o for o in fs if o["content"].reference == r]),
              "submitted": total(o["submitted"] for o in group),
              "released": total(o["released"] for o in group if o["released"] is not None),
              "confirmed": total(o["released"] for o in group if o["status"] == "confirmed")}
             for r in {o["content"].reference for o in fs}),
            key=lambda x: (-x["submitted"], x["reference"] is None, x["reference"] or ""),
        )[:TOP],
        "by_status": [
            {"status": s, "currency": "EUR", "orders": sum(1 for o in fs if o["status"] == s),
             "value": total(o["content"].total_value for o in fs if o["status"] == s)}
            for s in sorted({o["status"] for o in fs})
        ],
        "cycle": [{"decisions": len(decisions), "p50": percentile([d["seconds"] for d in decisions], 0.5),
                   "p90": percentile([d["seconds"] for d in decisions], 0.9)}],
        "per_approver": [],
        "reasons": top(_count(d["comment"] for d in decisions if d["outcome"] == "rejected")),
        "erp": [{"answered": sum(1 for o in fs if o["status"] in ("confirmed", "erp_rejected")),
                 "rejected": sum(1 for o in fs if o["status"] == "erp_rejected")}],
        "erp_reasons": top(_count(o["erp_reason"] for o in fs if o["status"] == "erp_rejected")),
        "budget_use": [],
        "top_articles": [],
    }  # fmt: skip
    for approver in sorted({d["approver"] for d in decisions}):
        mine = [d for d in decisions if d["approver"] == approver]
        out["per_approver"].append({
            "approver_id": approver, "decisions": len(mine),
            "approved": sum(1 for d in mine if d["outcome"] == "approved"),
            "rejected": sum(1 for d in mine if d["outcome"] == "rejected"),
            "p50": percentile([d["seconds"] for d in mine], 0.5), "p90": percentile([d["seconds"] for d in mine], 0.9),
        })  # fmt: skip
    for buyer in sorted({o["buyer"] for o in fs}):
        mine = [o for o in fs if o["buyer"] == buyer]
        hit = {k: sum(1 for o in mine if k in o["limits"]) for k in ("max_quantity", "max_value", "period_value",
                                                                      "period_quantity")}  # fmt: skip
        out["budget_use"].append({
            "buyer_id": buyer, "currency": "EUR", "orders": len(mine), "submitted": total(o["submitted"] for o in mine),
            "released": total(o["released"] for o in mine if o["released"] is not None),
            "confirmed": total(o["released"] for o in mine if o["status"] == "confirmed"),
            "over_order_limit": sum(1 for o in mine if o["limits"] & {"max_quantity", "max_value"}),
            "over_period_budget": sum(1 for o in mine if o["limits"] & {"period_value", "period_quantity"}),
            **hit,
            "on_period_budget": total(o["released"] for o in mine if o["released"] is not None and o["ledger"]),
        })  # fmt: skip
    articles: dict[str, dict[str, Any]] = {}
    for o in released:
        for ln in o["content"].lines:
            a = articles.setdefault(ln.sku, {"sku": ln.sku, "descriptions": set(), "currency": "EUR", "quantity": 0,
                                             "value": Decimal(0), "orders": 0})  # fmt: skip
            a["descriptions"].add(ln.description)
            a["quantity"] += ln.quantity
            a["value"] += ln.line_total
            a["orders"] += 1
    ranked = sorted(articles.values(), key=lambda a: (-a["value"], a["sku"]))[:TOP]
    out["top_articles"] = [
        {"sku": a["sku"], "description": min(a.pop("descriptions")), **{k: a[k] for k in a if k != "sku"}}
        for a in ranked
    ]
    return out


def _count(values: Any) -> dict[Any, int]:
    out: dict[Any, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def normal(figures: dict[str, Any]) -> dict[str, Any]:
    """Decimals by value, seconds to the microsecond (PostgreSQL's interval resolution)."""

    def one(v: Any) -> Any:
        if isinstance(v, float):
            return round(v, 6)
        if isinstance(v, Decimal):
            return v.normalize()
        return v

    return {k: [{f: one(v) for f, v in row.items()} for row in rows] for k, rows in figures.items()}


# ---- the tests -------------------------------------------------------------------------------------------------


async def project_in_random_batches(store: FiguresStore, events: list[Any], rnd: random.Random) -> None:
    at = 0
    while at < len(events):
        size = rnd.randint(1, 60)
        await store.apply(events[at : at + size])
        at += size


def queries(events: list[Any], company: Company, ids: list[UUID]) -> list[ReportQuery]:
    every, decisions = replay(events)
    mine = sorted((o for o in every.values() if o["company"] == company.id), key=lambda o: o["at"])
    start, end = mine[0]["at"] - timedelta(days=1), mine[-1]["at"] + timedelta(days=1)
    whole = ReportQuery(start, end)
    buyers = sorted({o["buyer"] for o in mine})
    deciders = sorted({d["approver"] for d in decisions})
    middle = mine[len(mine) // 2]["at"]
    out = [
        whole,
        ReportQuery(start, middle),  # `until` is exclusive: the order submitted at `middle` is not in it
        ReportQuery(middle, end),
        *(replace(whole, user_id=b) for b in buyers),
        *(replace(whole, approver_id=a) for a in deciders),
        *(replace(whole, status=s.value) for s in OrderStatus),
        *(replace(whole, reference=r) for r in REFERENCES if r),
        replace(whole, user_id=buyers[0], reference="KST-100", status="released"),
        replace(whole, approver_id=deciders[0], status="rejected"),
        ReportQuery(end, end + timedelta(days=30)),  # nothing in it
    ]
    return out


@pytest.mark.parametrize("seed", [7, 2026])
async def test_every_figure_equals_a_recomputation_from_the_stored_events(world, seed):
    orders, store = world
    company, ids = generate(orders, seed)
    other, _ = generate(orders, seed + 1, steps=40)  # another company: never in the first one's figures
    events = orders.notifications(0, 100_000)
    await project_in_random_batches(store, events, random.Random(seed))
    checked = 0
    for q in queries(events, company, ids):
        expected = recompute(events, company.id, q)
        assert normal(await store.figures(company.id, q)) == normal(expected), q
        checked += 1
    assert checked > 15
    whole = queries(events, other, [])[0]
    assert normal(await store.figures(other.id, whole)) == normal(recompute(events, other.id, whole))


async def test_the_history_covers_every_kind_of_step(world):
    """The generator is worth something only if the history has decisions, rejections, modifications, ERP
    refusals, limits of each kind and resubmissions."""
    orders, _ = world
    generate(orders, 7)
    names = {type(e).__name__ for _, e, _ in orders.notifications(0, 100_000)}
    assert {"Approved", "Rejected", "Modified", "Resubmitted", "Cancelled", "ConfirmedByErp", "RejectedByErp",
            "Transmitted", "ApprovalRequested", "Released"} <= names  # fmt: skip
    every, _ = replay(orders.notifications(0, 100_000))
    limits = set().union(*(o["limits"] for o in every.values()))
    assert {"max_quantity", "max_value", "period_value"} <= limits


async def test_projecting_everything_again_changes_nothing(world, dsn):
    orders, store = world
    generate(orders, 11, steps=60)
    events = orders.notifications(0, 100_000)
    await store.apply(events)
    before = await _tables(dsn)
    await project_in_random_batches(store, events, random.Random(1))  # a crash before the position was stored
    await store.apply(events[len(events) // 2 :])
    assert await _tables(dsn) == before
    assert before[0], "nothing was projected"


async def _tables(dsn: str) -> tuple[list[tuple], ...]:
    conn = await asyncpg.connect(dsn)
    try:
        out = []
        for t in ("approval_fig_orders", "approval_fig_decisions", "approval_fig_lines"):
            out.append([tuple(r) for r in await conn.fetch(f"SELECT * FROM {t} ORDER BY 1, 2")])
        return tuple(out)
    finally:
        await conn.close()
