"""What-if on PostgreSQL (ADR 0030): on a random history made through approval's use cases, projected into the
what-if's facts in random batches, the answers read from the table equal a recomputation in plain Python from the
stored events (a lowered per-order budget, another approver list); a proposed period budget gives the same as the
replay of facts folded in memory (the SQL picks the orders before the period that the calendar period's ledger
held); and asking stores nothing — the event store's notification log (the outbox the relay publishes to Kafka from)
ends where it ended, and no follower moves."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from approval.adapters.outbound.what_if_facts import WhatIfStore, fact, fold
from approval.application.orders import Orders
from approval.application.what_if import (
    ApproversChange,
    BudgetChange,
    Outcome,
    Proposal,
    Tally,
    WhatIfs,
    outcome,
    replay,
    wanted,
)
from approval.domain.budget import Budget, PeriodBudget, evaluate
from approval.domain.model import Order
from approval.domain.routing import route
from approval.main import create_app
from approval.settings import ApprovalSettings
from kc_runtime import migrations
from tests.integration.approval.test_figures_postgres import generate, project_in_random_batches
from tests.service.approval.test_bulk_decisions_http import auth, stand_in_caller

pytestmark = pytest.mark.integration


@pytest.fixture
async def dsn(database) -> str:
    return await database("approval")


@pytest.fixture
async def world(dsn: str) -> AsyncIterator[tuple[Orders, WhatIfStore]]:
    orders = Orders(env=ApprovalSettings(database_url=SecretStr(dsn)).eventsourcing_env())
    store = WhatIfStore(dsn)
    await store.pool()
    yield orders, store
    await store.close()
    orders.close()


async def from_table(orders: Orders, store: WhatIfStore, proposal: Proposal) -> Outcome:
    """What the route computes: the store's snapshot, the replay."""
    w = WhatIfs(orders)
    actual, facts = await store.read(
        proposal.company_id,
        proposal.start,
        proposal.end,
        proposal.since(),
        proposal.reroutes,
        proposal.replays_ledger,
    )
    return outcome(
        proposal, actual, replay(proposal, facts, w.history(proposal.company_id), w.people(proposal.company_id))
    )


# ---- the recomputation: plain Python over the stored events -----------------------------------------------------


def first_judgements(events: list[Any], company_id: UUID) -> dict[UUID, dict[str, Any]]:
    """Each order of the company as first submitted and first routed."""
    out: dict[UUID, dict[str, Any]] = {}
    for _n, e, _meta in events:
        if isinstance(e, Order.Submitted) and e.company_id == company_id:
            out[e.originator_id] = {"id": e.originator_id, "buyer": e.buyer_id, "at": e.submitted_at,
                                    "content": e.content, "held": False, "limits": set(), "approvers": (),
                                    "released": False}  # fmt: skip
        o = out.get(e.originator_id)
        if o is None:
            continue
        if isinstance(e, Order.ApprovalRequested) and not o["held"] and not o["released"]:
            o.update(held=True, limits={x.limit for x in e.exceeded}, approvers=tuple(e.approvers))
        elif isinstance(e, Order.Released):
            o["released"] = True
    return out


def expected(
    judged: dict[UUID, dict[str, Any]],
    start: datetime,
    end: datetime,
    routed: dict[UUID, tuple[bool, tuple[UUID, ...]]],
) -> dict[str, Any]:
    """Counts, values and load, actual and with ``routed`` (order → held, approvers) replacing the first routing."""

    def tally(proposed: bool) -> dict[str, Any]:
        value = {True: Decimal(0), False: Decimal(0)}
        count = {True: 0, False: 0}
        load: dict[UUID, int] = {}
        for o in judged.values():
            if not start <= o["at"] < end:
                continue
            is_held, approvers = routed[o["id"]] if proposed and o["id"] in routed else (o["held"], o["approvers"])
            value[is_held] += o["content"].total_value
            count[is_held] += 1
            for a in set(approvers) if is_held else ():
                load[a] = load.get(a, 0) + 1
        return {"held": (count[True], value[True]), "within": (count[False], value[False]), "load": load}

    changed = {
        i for i, (h, a) in routed.items()
        if start <= judged[i]["at"] < end and (h != judged[i]["held"] or (h and set(a) != set(judged[i]["approvers"])))
    }  # fmt: skip
    return {"actual": tally(False), "proposed": tally(True), "changed": changed}


def got(out: Outcome) -> dict[str, Any]:
    def tally(t: Tally) -> dict[str, Any]:
        held, within = t.orders.get(("EUR", True), [0, Decimal(0)]), t.orders.get(("EUR", False), [0, Decimal(0)])
        load = {a: v[0] for (a, _c), v in t.load.items() if v[0]}
        return {"held": (held[0], Decimal(held[1])), "within": (within[0], Decimal(within[1])), "load": load}

    return {
        "actual": tally(out.actual),
        "proposed": tally(out.proposed),
        "changed": {c.fact.order_id for c in out.changed},
    }


def normal(d: dict[str, Any]) -> dict[str, Any]:
    def side(s: dict[str, Any]) -> dict[str, Any]:
        return {
            **s,
            "held": (s["held"][0], s["held"][1].normalize()),
            "within": (s["within"][0], s["within"][1].normalize()),
        }

    return {"actual": side(d["actual"]), "proposed": side(d["proposed"]), "changed": d["changed"]}


@pytest.mark.parametrize("seed", [7, 2026])
async def test_the_answers_equal_a_recomputation_from_the_stored_events(world, seed):
    orders, store = world
    company, _ids = generate(orders, seed)
    generate(orders, seed + 1, steps=40)  # another company: never in the first one's answers
    events = orders.notifications(0, 100_000)
    await project_in_random_batches(store, events, random.Random(seed))
    judged = first_judgements(events, company.id)
    assert any(o["held"] for o in judged.values()) and any(not o["held"] for o in judged.values())
    view = orders.company(company.id)
    assert view is not None
    main, listed = view.main_contact_id, view.approver_ids
    at = sorted(o["at"] for o in judged.values())
    windows = [(at[0] - timedelta(days=1), at[-1] + timedelta(days=1)), (at[len(at) // 3], at[2 * len(at) // 3])]
    buyers = sorted({o["buyer"] for o in judged.values()})
    checked = 0
    for start, end in windows:
        for buyer in buyers:  # a per-order budget of 3 pieces; the period budget each order was judged on stays
            lower = Budget(max_quantity=3)
            routed = {}
            for o in judged.values():
                if o["buyer"] != buyer:
                    continue
                limits = {x.limit for x in evaluate(o["content"], lower)} | (o["limits"] & {"period_value",
                                                                                            "period_quantity"})  # fmt: skip
                approvers = o["approvers"] if o["held"] else route(buyer, listed, main)
                routed[o["id"]] = (bool(limits), approvers if limits else ())
            proposal = Proposal(company.id, start, end, {buyer: BudgetChange(buyer, lower, keeps_period=True)})
            assert normal(got(await from_table(orders, store, proposal))) == normal(
                expected(judged, start, end, routed)
            )
            checked += 1
        to = (listed[0],)
        routed = {o["id"]: (True, route(o["buyer"], to, main)) for o in judged.values() if o["held"]}
        proposal = Proposal(company.id, start, end, {}, ApproversChange(to))
        assert normal(got(await from_table(orders, store, proposal))) == normal(expected(judged, start, end, routed))
        checked += 1
    assert checked == 2 * (len(buyers) + 1)


async def test_a_proposed_period_budget_reads_the_orders_its_ledger_held_before_the_period(world):
    orders, store = world
    company, _ids = generate(orders, 99)
    events = orders.notifications(0, 100_000)
    await store.apply(events)
    rows: dict[UUID, Any] = {}
    for _n, e, _m in events:
        if isinstance(e, Order.Event):
            row = fold(rows.get(e.originator_id), e)
            if row is not None:
                rows[e.originator_id] = row
    mine = sorted((fact(r) for r in rows.values() if r["company_id"] == company.id), key=lambda f: f.submitted_at)
    middle = mine[len(mine) // 2].submitted_at
    w = WhatIfs(orders)
    for buyer in sorted({f.buyer_id for f in mine}):
        monthly = Budget(period=PeriodBudget("month", Decimal("120"), "EUR", 20))
        proposal = Proposal(company.id, middle, middle + timedelta(days=1), {buyer: BudgetChange(buyer, monthly)})
        since = proposal.since()
        assert since[buyer] < middle  # the month's start: earlier orders count
        in_memory = outcome(
            proposal,
            Tally.of(f for f in mine if proposal.start <= f.submitted_at < proposal.end),
            replay(
                proposal, [f for f in mine if wanted(proposal, f, since)], w.history(company.id), w.people(company.id)
            ),
        )
        assert got(await from_table(orders, store, proposal)) == got(in_memory)


async def test_asking_stores_nothing_and_publishes_nothing(dsn):
    versions = migrations.history("approval")
    assert versions is not None
    await asyncio.to_thread(migrations.upgrade, versions, dsn)  # the service's schema, as deployed
    store = WhatIfStore(dsn, create=False)
    await store.pool()
    settings = ApprovalSettings(
        database_url=SecretStr(dsn), process_roles=["api"], log_format="console", fence_timeout_s=0
    )
    app = create_app(settings, caller=stand_in_caller)
    orders: Orders = app.state.runtime.app
    company, _ids = generate(orders, 5, steps=40)
    await store.apply(orders.notifications(0, 100_000))
    buyer = next(e.buyer_id for _n, e, _m in orders.notifications(0, 100_000) if isinstance(e, Order.Submitted))

    async def state() -> tuple[Any, ...]:
        conn = await asyncpg.connect(dsn)
        try:
            return (
                await conn.fetchval("SELECT max(notification_id) FROM orders_events"),
                await conn.fetchval("SELECT count(*) FROM orders_events"),
                [tuple(r) for r in await conn.fetch("SELECT name, position FROM kc_follower_position ORDER BY 1")],
                [tuple(r) for r in await conn.fetch("SELECT * FROM approval_whatif_orders ORDER BY order_id")],
            )
        finally:
            await conn.close()

    before = await state()
    body = {
        "from": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
        "until": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        "changes": [
            {"kind": "budget", "user_id": str(buyer), "budget": {"max_total_quantity": 1, "period_budget": None}},
            {"kind": "approvers", "approvers": [str(company.main.id)]},
        ],
    }
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://approval") as client:
        r = await client.post("/api/reports/what-if", json=body, headers=auth(company.main))
    assert r.status_code == 200, r.text
    assert r.json()["orders"] > 0 and r.json()["changes"]["orders"] > 0
    assert await state() == before
    await store.close()
    for hook in app.state.runtime.on_shutdown:  # the pools the request opened (the app's lifespan never ran)
        if getattr(hook, "__name__", "") == "close":
            await hook()
    orders.close()
