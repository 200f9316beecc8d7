"""The what-if's speed on a company with a long history (issue 18 item 3; ADR 0030).

Two ways, both timing ``POST /api/reports/what-if`` (the whole request: caller, proposal, the projection's snapshot,
the replay, the answer):

``--scratch`` (default): a database of its own on the stack's PostgreSQL, migrated like the service's; ``--orders``
past orders of one company over two years stored through approval's aggregates (within budget and released, held
for one of two approvers and then approved, rejected or left pending, some confirmed by the ERP, some cancelled),
projected into the what-if's facts by the projector's own code, then asked in-process through the service's real
app (``create_app``, a stand-in for the token verifier). Nothing reaches Kafka; the database is dropped afterwards.

``--stack``: a company registered on the running stack, its buyer's ``--orders`` past orders stored in approval's
database (submitted and cancelled, as ``bench/run.py`` seeds history: nothing goes to the ERP or sends mail), and the
question asked through the gateway with the main contact's token once approval's followers caught up.

Prints the seconds per question (median and slowest of ``--repeat``) for: a lower per-order limit of the company's
busiest buyer, a monthly period budget for that buyer (replayed on every order of theirs), another approver list
(every held order routed anew), and all three at once.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.run import APPROVAL_DSN, GATEWAY, KAFKA, PG_ADMIN, wait_for_followers  # noqa: E402

TWO_YEARS = timedelta(days=729)


def store_history(
    dsn: str, company_id: uuid.UUID, buyers: list[uuid.UUID], approvers: list[uuid.UUID], count: int, mixed: bool,
    chunk: int = 500,
) -> float:  # fmt: skip
    """Store ``count`` past orders spread over two years (newest a minute ago) through approval's aggregates;
    ``mixed``: every kind of outcome, else submitted and cancelled. Returns orders stored per second."""
    import random

    from approval.application.orders import Orders
    from approval.domain.budget import Budget, LimitExceeded
    from approval.domain.model import Order
    from approval.settings import ApprovalSettings
    from tests.support.orders import order_content

    budget = Budget(max_quantity=5, max_value=Decimal("500"), currency="EUR")
    rnd = random.Random(2026)
    app = Orders(env={**ApprovalSettings(database_url=dsn).eventsourcing_env(), "POSTGRES_POOL_SIZE": "2"})
    try:
        started = time.perf_counter()
        now = datetime.now(UTC)
        step = TWO_YEARS / count
        for first in range(0, count, chunk):
            batch = []
            for n in range(first, min(count, first + chunk)):
                at = now - TWO_YEARS + n * step
                quantity = 1 + n % 8
                buyer = buyers[0] if n % 4 else buyers[(n // 4) % len(buyers)]
                order = Order(company_id=company_id, buyer_id=buyer, content=order_content(quantity=quantity,
                              sku=f"SKU-{n % 50}"), submitted_at=at, budget=budget)  # fmt: skip
                if not mixed:
                    order.cancel(buyer, at + timedelta(seconds=1), "history seeded by the benchmark")
                elif quantity <= 5:
                    order.release(at)
                    if rnd.random() < 0.8:
                        order.confirm_by_erp(f"SO-{n}", at + timedelta(minutes=5))
                else:
                    who = approvers[n % len(approvers)]
                    exceeded = (LimitExceeded("max_quantity", Decimal(5), Decimal(quantity)),)
                    order.hold_for_approval(exceeded, (who,), at)
                    later = at + timedelta(minutes=30)
                    fate = rnd.random()
                    if fate < 0.6:
                        order.approve(who, later)
                        if fate < 0.5:
                            order.confirm_by_erp(f"SO-{n}", later + timedelta(minutes=5))
                    elif fate < 0.8:
                        order.reject(who, "zu viel", later)
                    elif fate < 0.9:
                        order.cancel(buyer, later)
                batch.append(order)
            app.save(*batch)
        return count / (time.perf_counter() - started)
    finally:
        app.close()


def questions(buyer: str, approver: str) -> dict[str, dict[str, Any]]:
    now = datetime.now(UTC)
    period = {"from": (now - TWO_YEARS).date().isoformat(), "until": (now + timedelta(days=1)).date().isoformat()}
    lower = {"kind": "budget", "user_id": buyer, "budget": {"max_total_quantity": 3}}
    monthly = {"kind": "budget", "user_id": buyer, "budget": {"max_total_quantity": 5, "period_budget": {
        "period": "month", "max_value": {"amount": "2000", "currency": "EUR"}}}}  # fmt: skip
    listed = {"kind": "approvers", "approvers": [approver]}
    return {
        "lower per-order limit": {**period, "changes": [lower]},
        "monthly period budget": {**period, "changes": [monthly]},
        "another approver list": {**period, "changes": [listed]},
        "period budget + approver list": {**period, "changes": [monthly, listed]},
    }


async def time_questions(client: httpx.AsyncClient, headers: dict[str, str], asked: dict[str, dict[str, Any]],
                         repeat: int) -> dict[str, Any]:  # fmt: skip
    out: dict[str, Any] = {}
    for name, body in asked.items():
        seconds = []
        answer: dict[str, Any] = {}
        for _ in range(repeat):
            started = time.perf_counter()
            r = await client.post("/api/reports/what-if", json=body, headers=headers, timeout=120)
            seconds.append(time.perf_counter() - started)
            if r.status_code != 200:
                raise RuntimeError(f"{name}: {r.status_code} {r.text[:300]}")
            answer = r.json()
        out[name] = {
            "median_s": round(statistics.median(seconds), 3), "max_s": round(max(seconds), 3),
            "orders": answer["orders"], "changed": answer["changes"]["orders"],
        }  # fmt: skip
        print(f"  {name:32s} median {out[name]['median_s']:.3f} s, slowest {out[name]['max_s']:.3f} s"
              f"  ({answer['orders']} orders, {answer['changes']['orders']} routed otherwise)", flush=True)  # fmt: skip
    return out


async def scratch(count: int, repeat: int, profile: bool = False) -> None:
    from pydantic import SecretStr

    from approval.adapters.outbound.what_if_facts import WhatIfStore
    from approval.main import create_app
    from approval.settings import ApprovalSettings
    from kc_runtime import migrations
    from tests.service.approval.test_bulk_decisions_http import auth, stand_in_caller
    from tests.support.approval import Company

    name = f"whatif_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    try:
        versions = migrations.history("approval")
        assert versions is not None
        await asyncio.to_thread(migrations.upgrade, versions, dsn)
        settings = ApprovalSettings(
            database_url=SecretStr(dsn), process_roles=["api"], log_format="console", fence_timeout_s=0
        )
        app = create_app(settings, caller=stand_in_caller)
        orders = app.state.runtime.app
        company = Company(orders)
        buyers = [company.member(f"buyer{i}", ["place_orders"]) for i in range(4)]
        approvers = [company.member(f"approver{i}", ["approve_orders"]) for i in range(3)]
        company.approvers(*approvers[:2])
        print(f"storing {count} past orders over two years in {name} …", flush=True)
        rate = await asyncio.to_thread(store_history, dsn, company.id, [b.id for b in buyers],
                                       [a.id for a in approvers[:2]], count, True)  # fmt: skip
        print(f"  {rate:.0f} orders/s", flush=True)
        store = WhatIfStore(dsn, create=False)
        started = time.perf_counter()
        position = 0
        while True:
            batch = await asyncio.to_thread(orders.notifications, position, 2000)
            if not batch:
                break
            await store.apply(batch)
            position = batch[-1][0].id
        print(f"  projected in {time.perf_counter() - started:.1f} s", flush=True)
        await store.close()
        conn = await asyncpg.connect(dsn)
        await conn.execute("VACUUM (ANALYZE) approval_whatif_orders")
        await conn.close()
        if profile:
            await phases(orders, dsn, company, buyers[0], approvers[2])
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://approval") as client:
            await time_questions(client, auth(company.main), questions(str(buyers[0].id), str(approvers[2].id)), repeat)
        for hook in app.state.runtime.on_shutdown:
            if getattr(hook, "__name__", "") == "close":
                await hook()
        orders.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def phases(orders: Any, dsn: str, company: Any, buyer: Any, approver: Any) -> None:
    """Where the time of one question goes (the route's steps one by one; the replay under cProfile)."""
    import cProfile
    import pstats

    from approval.adapters.outbound.what_if_facts import WhatIfStore
    from approval.application.what_if import BudgetChange, WhatIfs, outcome, replay
    from approval.domain.budget import Budget, PeriodBudget

    w = WhatIfs(orders)
    now = datetime.now(UTC)
    monthly = Budget(max_quantity=5, period=PeriodBudget("month", Decimal("2000"), "EUR"))
    t0 = time.perf_counter()
    proposal = w.proposal(company.main, (now - TWO_YEARS).isoformat(), now.isoformat(), [BudgetChange(buyer.id, monthly)],
                          [], [], now)  # fmt: skip
    history, people = w.history(company.id), w.people(company.id)
    t1 = time.perf_counter()
    store = WhatIfStore(dsn, create=False)
    actual, facts = await store.read(proposal.company_id, proposal.start, proposal.end, proposal.since(), False)
    t2 = time.perf_counter()
    profiler = cProfile.Profile()
    profiler.enable()
    outcome(proposal, actual, replay(proposal, facts, history, people))
    profiler.disable()
    t3 = time.perf_counter()
    print(f"  proposal+history {t1 - t0:.3f} s, read {t2 - t1:.3f} s ({len(facts)} facts), replay {t3 - t2:.3f} s")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(12)
    await store.close()


async def stack(count: int, repeat: int) -> None:
    from tests.support.users import RegistrationPublisher, UsersApi

    async with httpx.AsyncClient(base_url=GATEWAY, timeout=60) as gw:

        async def token(**claims: Any) -> str:
            r = await gw.post("/dev-auth/token", json={"sub": str(uuid.uuid4()), **claims})
            r.raise_for_status()
            return r.json()["access_token"]

        publisher = RegistrationPublisher(KAFKA)
        await publisher.start()
        try:
            api = UsersApi(gw, token, publisher)
            company = await api.company()
            buyer, buyer_h = await api.user(company, ["buyer"], budget={"max_total_quantity": 5})
            approver, _ = await api.user(company, ["approver"])
        finally:
            await publisher.stop()
        for _ in range(600):  # approval learns of the buyer through the users topics
            if (await gw.get("/api/orders", headers=buyer_h)).status_code == 200:
                break
            await asyncio.sleep(0.1)
        print(f"storing {count} past orders of company {company.id} in approval's database …", flush=True)
        rate = await asyncio.to_thread(store_history, APPROVAL_DSN, uuid.UUID(company.id), [uuid.UUID(buyer["id"])],
                                       [uuid.UUID(approver["id"])], count, False)  # fmt: skip
        print(f"  {rate:.0f} orders/s; waiting for approval's followers …", flush=True)
        print(f"  caught up after {await wait_for_followers():.1f} s", flush=True)
        await time_questions(gw, company.main, questions(buyer["id"], approver["id"]), repeat)


async def live(company_id: str, repeat: int) -> None:
    """Ask about a company already on the stack (e.g. the one ``--stack`` seeded) through the service's real app,
    in-process on the stack's approval database (only reads; the app's lifespan — relay, followers — never starts),
    as its main contact: the route's work after the token was verified."""
    from pydantic import SecretStr

    from approval.adapters.inbound.what_if_http import WhatIfIn, answer
    from approval.adapters.outbound.what_if_facts import WhatIfStore
    from approval.application.what_if import WhatIfs
    from approval.main import create_app
    from approval.settings import ApprovalSettings
    from tests.service.approval.test_bulk_decisions_http import stand_in_caller

    settings = ApprovalSettings(
        database_url=SecretStr(APPROVAL_DSN), process_roles=["api"], log_format="console", fence_timeout_s=0
    )
    app = create_app(settings, caller=stand_in_caller)
    orders = app.state.runtime.app
    view = orders.company(uuid.UUID(company_id))
    main = orders.repository.get(view.main_contact_id)
    conn = await asyncpg.connect(APPROVAL_DSN)
    buyer = await conn.fetchval(
        "SELECT buyer_id FROM approval_whatif_orders WHERE company_id = $1 GROUP BY buyer_id ORDER BY count(*) DESC"
        " LIMIT 1",
        uuid.UUID(company_id),
    )
    await conn.close()
    # (the main contact signed in with an account of the development issuer: the route's work after the token)
    store = WhatIfStore(APPROVAL_DSN, create=False)
    what_ifs = WhatIfs(orders)
    blocking = app.state.runtime.blocking
    for name, body in questions(str(buyer), str(main.id)).items():
        seconds = []
        for _ in range(repeat):
            started = time.perf_counter()
            out = await answer(WhatIfIn.model_validate(body), lambda: main, what_ifs, store, blocking)
            out.model_dump_json()
            seconds.append(time.perf_counter() - started)
        print(f"  {name:32s} median {statistics.median(seconds):.3f} s, slowest {max(seconds):.3f} s"
              f"  ({out.orders} orders, {out.changes.orders} routed otherwise)", flush=True)  # fmt: skip
    await store.close()
    for hook in app.state.runtime.on_shutdown:
        if getattr(hook, "__name__", "") == "close":
            await hook()
    orders.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="--scratch: where one question's time goes")
    parser.add_argument("--live-company", default=None, help="ask about this company of the stack, in-process")
    parser.add_argument("--stack", action="store_true", help="seed and ask on the running stack, through the gateway")
    args = parser.parse_args()
    if args.live_company:
        asyncio.run(live(args.live_company, args.repeat))
    elif args.stack:
        asyncio.run(stack(args.orders, args.repeat))
    else:
        asyncio.run(scratch(args.orders, args.repeat, args.profile))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
