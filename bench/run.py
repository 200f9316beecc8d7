"""`make bench`: the order flow's throughput and latency next to this machine's ceilings, from one run.

Measures, against the running local stack:
  * the raw PostgreSQL commit rate (single-row INSERT commits, 16 connections) and the same under an exclusive
    table lock (what the event store does);
  * the raw Kafka produce rate (idempotent producer, acks=all; pipelined, and one-at-a-time);
  * the gateway's pass-through rate (nginx proxying to an upstream that costs nothing, bench/gateway_rate.py) and
    what it answers by itself — when the two are equal, the bench's own client is the limit, not nginx;
  * the order flow under open-loop load (bench/load.py): vegeta sends orders through the gateway at fixed rates —
    within budget (a sweep to the knee) and the mix with approvals — and the records give the time from submission
    to the ERP; /proc gives the CPU of every component, hence the server's CPU per order and its idle burn;
  * how cost grows with history: submission (and listing) latency for buyers whose company has ~0, 1,000 and
    100,000 past orders (``--history``; ``--quick``: 0 and 1,000 only). The past orders are stored through
    approval's application layer in bulk (real orders in approval's database, submitted and then cancelled by
    the buyer, so nothing goes to the ERP or sends mail), and the measurement starts only once approval's
    relay and projection have caught up with them. A history of 10,000 orders or more is kept for later runs
    (bench/results/history-seeds.json), so repeated runs do not grow approval's database by 100,000 orders each.
  * how stale approval's prices may be: an article's price changed in the ERP (the simulator's hook) and timed
    until approval's evaluation uses it (ERP outbox → Kafka → erp-sync → Kafka → approval).
Prints a table and writes bench/results/<timestamp>.json for later comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import load  # noqa: E402
from bench.gateway_rate import gateway_rates  # noqa: E402
from tests.support.orders import order_body  # noqa: E402

GATEWAY = os.environ.get("KC_BENCH_GATEWAY", "http://127.0.0.1:8080")
ERP_SIMULATOR = os.environ.get("KC_BENCH_ERP_SIMULATOR", "http://127.0.0.1:8111")
PG_ADMIN = os.environ.get("KC_BENCH_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:54329/postgres")
KAFKA = os.environ.get("KC_BENCH_KAFKA", "127.0.0.1:19092")
APPROVAL = os.environ.get("KC_BENCH_APPROVAL", "http://127.0.0.1:8103")
USERS = os.environ.get("KC_BENCH_USERS", "http://127.0.0.1:8102")
APPROVAL_DSN = os.environ.get("KC_BENCH_APPROVAL_DSN", "postgresql://approval:approval@127.0.0.1:54329/approval")


def rates(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def has_labels(line: str, labels: str) -> bool:
    """Whether a sample line of the text exposition carries every ``name="value"`` pair of ``labels`` (the client
    writes the labels sorted by name, ``le`` among them, so the pairs need not be adjacent)."""
    return all(pair in line for pair in labels.split(","))


async def approval_histogram(method: str, route: str, status: str) -> dict[float, float]:
    """Cumulative counts per upper bound (s) of approval's own request-duration histogram for one route."""
    labels = f'kc_service="approval",method="{method}",route="{route}",status="{status}"'
    async with httpx.AsyncClient(base_url=APPROVAL, timeout=10) as client:
        text = (await client.get("/metrics")).text
    out: dict[float, float] = {}
    for line in text.splitlines():
        if line.startswith("kc_http_request_duration_seconds_bucket{") and has_labels(line, labels):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            out[float("inf") if le == "+Inf" else float(le)] = float(line.rsplit(" ", 1)[1])
    return out


async def metric_histogram(base_url: str, metric: str, labels: str) -> dict[float, float]:
    """Cumulative counts per upper bound (s) of a service's histogram ``metric`` for the series with ``labels``;
    for ``kc_fence_seconds`` also the fence's ListOffsets counter, under the key -1."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        text = (await client.get("/metrics")).text
    out: dict[float, float] = {}
    for line in text.splitlines():
        if line.startswith(metric + "_bucket{") and has_labels(line, labels):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            out[float("inf") if le == "+Inf" else float(le)] = float(line.rsplit(" ", 1)[1])
        elif line.startswith("kc_fence_list_offsets_total{") and metric == "kc_fence_seconds":
            out[-1.0] = float(line.rsplit(" ", 1)[1])
    return out


async def guarantee_snapshot() -> dict[str, dict[float, float]]:
    """What "a change is in force when it is acknowledged" costs (ADR 0012): approval's read fence (per request
    of a known caller, and ListOffsets sent) and users' wait for its relay before answering a change."""
    return {
        "fence": await metric_histogram(APPROVAL, "kc_fence_seconds", 'kc_service="approval",scope="company"'),
        "publication": await metric_histogram(USERS, "kc_publication_wait_seconds", 'outcome="published"'),
    }


def guarantee_cost(before: dict[str, dict[float, float]], after: dict[str, dict[float, float]]) -> dict[str, float]:
    fence_b = {k: v for k, v in before["fence"].items() if k >= 0}
    fence_a = {k: v for k, v in after["fence"].items() if k >= 0}
    fenced = fence_a.get(float("inf"), 0.0) - fence_b.get(float("inf"), 0.0)
    list_offsets = after["fence"].get(-1.0, 0.0) - before["fence"].get(-1.0, 0.0)
    return {
        "fence_p50_ms": histogram_pct(fence_b, fence_a, 50) * 1000,
        "fence_p99_ms": histogram_pct(fence_b, fence_a, 99) * 1000,
        "fenced_requests": fenced,
        "list_offsets_per_fenced_request": list_offsets / fenced if fenced else float("nan"),
        "publication_p50_ms": histogram_pct(before["publication"], after["publication"], 50) * 1000,
        "publication_p99_ms": histogram_pct(before["publication"], after["publication"], 99) * 1000,
    }


def histogram_pct(before: dict[float, float], after: dict[float, float], p: float) -> float:
    """The p-th percentile (s) of what was observed between two snapshots, interpolated within a bucket."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    if not counts or counts[-1] <= 0:
        return float("nan")
    target = p / 100 * counts[-1]
    lower, below = 0.0, 0.0
    for bound, cumulative in zip(bounds, counts, strict=True):
        if cumulative >= target:
            if bound == float("inf"):
                return lower
            inside = cumulative - below
            return lower + (bound - lower) * ((target - below) / inside if inside else 1.0)
        lower, below = bound, cumulative
    return lower


async def pg_commit_rate(seconds: float, clients: int = 16, locked: bool = False) -> float:
    db = f"bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{db}"')
    dsn = PG_ADMIN.rsplit("/", 1)[0] + "/" + db
    try:
        setup = await asyncpg.connect(dsn)
        await setup.execute("CREATE TABLE t (id bigserial primary key, payload text)")
        await setup.close()
        conns = [await asyncpg.connect(dsn) for _ in range(clients)]
        count = 0
        deadline = time.perf_counter() + seconds

        async def worker(conn: asyncpg.Connection) -> None:
            nonlocal count
            while time.perf_counter() < deadline:
                if locked:
                    async with conn.transaction():
                        await conn.execute("LOCK TABLE t IN EXCLUSIVE MODE")
                        await conn.execute("INSERT INTO t (payload) VALUES ($1)", "x" * 200)
                else:
                    await conn.execute("INSERT INTO t (payload) VALUES ($1)", "x" * 200)
                count += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker(c) for c in conns))
        elapsed = time.perf_counter() - started
        for c in conns:
            await c.close()
        return count / elapsed
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.close()


async def kafka_produce_rate(messages: int) -> tuple[float, float]:
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=6, replication_factor=1)])
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, enable_idempotence=True, linger_ms=2)
    await producer.start()
    try:
        payload = b"x" * 1000
        started = time.perf_counter()
        futures = [await producer.send(topic, payload, key=str(i % 97).encode()) for i in range(messages)]
        await asyncio.gather(*futures)
        pipelined = messages / (time.perf_counter() - started)
        sequential_n = max(50, messages // 20)
        started = time.perf_counter()
        for i in range(sequential_n):
            await producer.send_and_wait(topic, payload, key=str(i).encode())
        sequential = sequential_n / (time.perf_counter() - started)
        return pipelined, sequential
    finally:
        await producer.stop()
        await admin.delete_topics([topic])
        await admin.close()


async def setup_companies(gw: httpx.AsyncClient, companies: int, buyers_per_company: int) -> list[dict[str, Any]]:
    """Registered companies (over Kafka, as registration would) with buyers (budget) and one approver each."""
    from tests.support.users import RegistrationPublisher, UsersApi

    async def token(**claims: Any) -> str:
        r = await gw.post("/dev-auth/token", json={"sub": str(uuid.uuid4()), **claims})
        r.raise_for_status()
        return r.json()["access_token"]

    publisher = RegistrationPublisher(KAFKA)
    await publisher.start()
    try:
        api = UsersApi(gw, token, publisher)
        out = []
        for _ in range(companies):
            company = await api.company()
            approver, approver_h = await api.user(company, ["approver"])
            buyers = [(await api.user(company, ["buyer"], budget=BENCH_BUDGET))[1] for _ in range(buyers_per_company)]
            r = await gw.put("/api/company/approvers", json={"user_ids": [approver["id"]]}, headers=company.main)
            r.raise_for_status()
            out.append({"main": company.main, "approver": approver_h, "approver_id": approver["id"], "buyers": buyers,
                        "customer_number": company.registration.company.customer_number})  # fmt: skip
    finally:
        await publisher.stop()
    # approval learns of them through the users topics: wait until it routes to the approvers
    deadline = time.monotonic() + 120
    for c in out:
        while True:
            r = await gw.post("/api/orders/evaluate", json=order_body(quantity=1000), headers=c["buyers"][-1])
            if r.status_code == 200 and [a["id"] for a in r.json()["approvers"]] == [c["approver_id"]]:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"approval did not learn of the bench companies: {r.status_code} {r.text[:200]}")
            await asyncio.sleep(0.1)
    return out


async def price_delay(gw: httpx.AsyncClient, shop: dict[str, Any], changes: int) -> dict[str, Any]:
    """How long an ERP price change takes to count: the price of one article changed in the ERP (the simulator's
    hook: its outbox → Kafka → erp-sync → Kafka → approval), timed until approval's evaluation uses it."""
    delays: list[float] = []
    body = order_body(quantity=1, sku="M-300")
    async with httpx.AsyncClient(base_url=ERP_SIMULATOR, timeout=30) as erp:
        for n in range(changes):
            price = Decimal(1000 + n + 100 * (time.time_ns() % 97)) / 100  # another price each time
            started = time.perf_counter()
            r = await erp.put(
                f"/admin/customers/{shop['customer_number']}/prices/M-300", json={"unit_price": str(price)}
            )
            r.raise_for_status()
            deadline = started + 60
            while True:
                e = await gw.post("/api/orders/evaluate", json=body, headers=shop["main"])
                if e.status_code == 200 and Decimal(e.json()["lines"][0]["unit_price"]["amount"]) == price:
                    delays.append((time.perf_counter() - started) * 1000)
                    break
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"an ERP price change did not reach approval in 60 s: {e.text[:200]}")
                await asyncio.sleep(0.005)
    return {"changes": changes, "p50_ms": pct(delays, 50), "max_ms": max(delays)}


BENCH_BUDGET = {"max_total_quantity": 40, "max_order_value": {"amount": "1000.00", "currency": "EUR"}}


# ---- cost with history ------------------------------------------------------------------------------------


async def token_for(gw: httpx.AsyncClient, **claims: Any) -> str:
    r = await gw.post("/dev-auth/token", json={"sub": str(uuid.uuid4()), **claims})
    r.raise_for_status()
    return str(r.json()["access_token"])


async def history_companies(gw: httpx.AsyncClient, count: int) -> list[dict[str, Any]]:
    """Registered companies with one buyer each (no budget: their orders go straight to the ERP)."""
    from tests.support.users import RegistrationPublisher, UsersApi

    async def token(**claims: Any) -> str:
        return await token_for(gw, **claims)

    publisher = RegistrationPublisher(KAFKA)
    await publisher.start()
    try:
        api = UsersApi(gw, token, publisher)
        out = []
        for _ in range(count):
            company = await api.company()
            buyer, headers = await api.user(company, ["buyer"])
            out.append(
                {
                    "company_id": uuid.UUID(company.id),
                    "buyer_id": uuid.UUID(buyer["id"]),
                    "email": buyer["email"],
                    "buyer": headers,
                }
            )
    finally:
        await publisher.stop()
    for c in out:
        if not await known_to_approval(gw, c["buyer"], deadline_s=120):
            raise RuntimeError("approval did not learn of the history buyers")
    return out


async def known_to_approval(gw: httpx.AsyncClient, headers: dict[str, str], deadline_s: float) -> bool:
    deadline = time.monotonic() + deadline_s
    while True:
        r = await gw.post("/api/orders/evaluate", json=order_body(quantity=1), headers=headers)
        if r.status_code == 200:
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)


HISTORY_SEEDS = ROOT / "bench" / "results" / "history-seeds.json"
REUSED_FROM = 10_000
"""Histories at least this long are kept for the next run (each run adds only its few hundred submissions)."""


async def reusable_history(gw: httpx.AsyncClient, size: int) -> dict[str, Any] | None:
    """A company seeded by an earlier run with ``size`` past orders (up to 5 % more), if it is still there."""
    if size < REUSED_FROM or not HISTORY_SEEDS.exists():
        return None
    seed = json.loads(HISTORY_SEEDS.read_text()).get(str(size))
    if not seed:
        return None
    company_id, buyer_id = uuid.UUID(seed["company_id"]), uuid.UUID(seed["buyer_id"])
    conn = await asyncpg.connect(APPROVAL_DSN)
    try:
        orders = await conn.fetchval(
            "SELECT coalesce(sum(orders), 0) FROM approval_order_counts WHERE company_id = $1 AND buyer_id = $2",
            company_id,
            buyer_id,
        )
    finally:
        await conn.close()
    if not size <= orders <= size * 1.05:
        return None
    headers = {"Authorization": f"Bearer {await token_for(gw, email=seed['email'])}"}
    if not await known_to_approval(gw, headers, deadline_s=2):
        return None
    return {"company_id": company_id, "buyer_id": buyer_id, "email": seed["email"], "buyer": headers}


def remember_history(size: int, company: dict[str, Any]) -> None:
    seeds = json.loads(HISTORY_SEEDS.read_text()) if HISTORY_SEEDS.exists() else {}
    seeds[str(size)] = {k: str(company[k]) for k in ("company_id", "buyer_id", "email")}
    HISTORY_SEEDS.parent.mkdir(parents=True, exist_ok=True)
    HISTORY_SEEDS.write_text(json.dumps(seeds, indent=2) + "\n")


def seed_past_orders(company_id: uuid.UUID, buyer_id: uuid.UUID, count: int, chunk: int = 500) -> float:
    """Store ``count`` past orders of the buyer in approval's event store, ``chunk`` orders per transaction,
    through approval's own application (the aggregates, events and notification log of a real submission and
    cancellation). Returns the orders stored per second."""
    from datetime import timedelta

    from approval.application.orders import Orders
    from approval.domain.model import Order
    from approval.settings import ApprovalSettings
    from tests.support.orders import order_content

    settings = ApprovalSettings(database_url=APPROVAL_DSN)  # type: ignore[arg-type]
    app = Orders(env={**settings.eventsourcing_env(), "POSTGRES_POOL_SIZE": "2"})
    try:
        started = time.perf_counter()
        now = datetime.now(UTC)
        for first in range(0, count, chunk):
            batch = []
            for n in range(first, min(count, first + chunk)):
                at = now - timedelta(minutes=count - n)
                order = Order(
                    company_id=company_id,
                    buyer_id=buyer_id,
                    content=order_content(quantity=1 + n % 7, sku=f"SKU-{n % 50}"),
                    submitted_at=at,
                )
                order.cancel(buyer_id, at, "history seeded by the benchmark")
                batch.append(order)
            app.save(*batch)
        return count / (time.perf_counter() - started)
    finally:
        app.close()


async def wait_for_followers(timeout_s: float = 900) -> float:
    """Until approval's relay and projection have passed everything stored so far; returns the seconds waited."""
    conn = await asyncpg.connect(APPROVAL_DSN)
    try:
        top = await conn.fetchval("SELECT max(notification_id) FROM orders_events")
        started = time.monotonic()
        while True:
            behind = await conn.fetchval(
                "SELECT count(*) FROM kc_follower_position WHERE name LIKE 'approval:%' AND position < $1", top
            )
            if not behind:
                # a history that built up over time has been vacuumed and analysed: so is the seeded one
                await conn.execute("VACUUM (ANALYZE) approval_order_summaries")
                return time.monotonic() - started
            if time.monotonic() - started > timeout_s:
                raise RuntimeError("approval's relay or projection did not catch up with the seeded orders")
            await asyncio.sleep(0.5)
    finally:
        await conn.close()


async def history_latency(sizes: list[int], submits: int, concurrency: int) -> dict[str, Any]:
    """Submission and listing latency per history size. The companies take turns (round robin, in a shuffled
    order each round), so background load on the shared machine falls on all of them alike."""
    import random

    limits = httpx.Limits(max_connections=concurrency * 2)
    async with httpx.AsyncClient(base_url=GATEWAY, timeout=60, limits=limits) as gw:
        reused = {size: await reusable_history(gw, size) for size in sizes}
        fresh = [size for size in sizes if reused[size] is None]
        print(f"[bench]   registering {len(fresh)} companies for history sizes {fresh}…", flush=True)
        made = dict(zip(fresh, await history_companies(gw, len(fresh)), strict=True))
        companies = [reused[size] or made[size] for size in sizes]
        seeding: dict[int, float] = {}
        seeding_started = time.monotonic()
        for size in fresh:
            if size:
                print(f"[bench]   storing {size:,} past orders…", flush=True)
                c = made[size]
                seeding[size] = await asyncio.to_thread(seed_past_orders, c["company_id"], c["buyer_id"], size)
                if size >= REUSED_FROM:
                    remember_history(size, c)
        for size in sizes:
            if reused[size] is not None:
                print(f"[bench]   reusing the {size:,} past orders stored by an earlier run", flush=True)
        waited = await wait_for_followers()
        print(f"[bench]   approval's relay and projection caught up after {waited:.1f}s", flush=True)
        # the followers ran while the orders were stored: from the first store to caught up, two events per order
        seeded = sum(size for size in fresh if size)
        follow_rate = 2 * seeded / (time.monotonic() - seeding_started) if seeded >= 10_000 else float("nan")

        submit: dict[int, list[float]] = {size: [] for size in sizes}
        listing: dict[int, list[float]] = {size: [] for size in sizes}
        errors: list[str] = []
        rounds: asyncio.Queue[list[int]] = asyncio.Queue()
        for i in range(submits):
            order = list(range(len(sizes)))
            random.Random(i).shuffle(order)
            rounds.put_nowait(order)

        async def worker() -> None:
            while True:
                try:
                    turn = rounds.get_nowait()
                except asyncio.QueueEmpty:
                    return
                for k in turn:
                    size, headers = sizes[k], companies[k]["buyer"]
                    p0 = time.perf_counter()
                    r = await gw.post("/api/orders", json=order_body(quantity=2), headers=headers)
                    took = time.perf_counter() - p0
                    if r.status_code != 201:
                        errors.append(f"POST /api/orders {r.status_code} {r.text[:120]}")
                        continue
                    submit[size].append(took)
                    p0 = time.perf_counter()
                    r = await gw.get("/api/orders", params={"limit": 20}, headers=headers)
                    took = time.perf_counter() - p0
                    if r.status_code != 200:
                        errors.append(f"GET /api/orders {r.status_code} {r.text[:120]}")
                        continue
                    listing[size].append(took)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {
        "submits_per_size": submits,
        "concurrency": concurrency,
        "seeded_orders_per_s": seeding,
        # the rate at which one relay (and the projection) follows approval's log when it has a backlog
        "followed_events_per_s": follow_rate,
        "errors": len(errors),
        "error_samples": errors[:5],
        "by_history": {
            str(size): {
                "submit_p50_ms": pct(submit[size], 50) * 1000,
                "submit_p95_ms": pct(submit[size], 95) * 1000,
                "submit_p99_ms": pct(submit[size], 99) * 1000,
                "list_p50_ms": pct(listing[size], 50) * 1000,
                "list_p95_ms": pct(listing[size], 95) * 1000,
                "list_p99_ms": pct(listing[size], 99) * 1000,
            }
            for size in sizes
        },
    }


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default=os.environ.get("BENCH_RATES", "25,50,100,150,200,300,400,600,800,1000"),
                        help="within-budget orders per second, one step each, until the stack falls behind")  # fmt: skip
    parser.add_argument("--mix-rates", default=os.environ.get("BENCH_MIX_RATES", "25,50,100,150,250,400"),
                        help="orders per second of the mix (80 %% within budget, 20 %% over), one step each")  # fmt: skip
    parser.add_argument("--step-seconds", type=float, default=float(os.environ.get("BENCH_STEP_SECONDS", 15)))
    parser.add_argument("--flame", type=float, default=None, metavar="RATE",
                        help="record py-spy flame graphs of the Python services during the steps at this rate, into"
                        " bench/results/flame/<commit>/")  # fmt: skip
    parser.add_argument("--buyers", type=int, default=int(os.environ.get("BENCH_BUYERS", 32)))
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS", 5)))
    parser.add_argument("--kafka-messages", type=int, default=int(os.environ.get("BENCH_KAFKA_MESSAGES", 20000)))
    parser.add_argument("--companies", type=int, default=int(os.environ.get("BENCH_COMPANIES", 8)))
    parser.add_argument("--over-budget", type=float, default=float(os.environ.get("BENCH_OVER_BUDGET", 0.2)),
                        help="share of orders over budget (approved, every 5th rejected and resubmitted)")  # fmt: skip
    parser.add_argument("--history", default=os.environ.get("BENCH_HISTORY", "0,1000,100000"),
                        help="past orders of the measured buyers' companies, comma-separated ('' to skip)")  # fmt: skip
    parser.add_argument("--history-submits", type=int, default=int(os.environ.get("BENCH_HISTORY_SUBMITS", 200)),
                        help="orders submitted per history size")  # fmt: skip
    parser.add_argument("--history-concurrency", type=int, default=4)
    parser.add_argument("--only-history", action="store_true", help="skip the ceilings and the order flow")
    parser.add_argument("--quick", action="store_true", help="a short run (used by make test)")
    args = parser.parse_args()
    if args.quick:
        args.rates, args.mix_rates, args.step_seconds, args.buyers = "20", "10", 3.0, 8
        args.seconds, args.kafka_messages, args.companies = 1.0, 2000, 2
        args.history, args.history_submits = "0,1000", 30
    history_sizes = [int(x) for x in args.history.replace("_", "").split(",") if x.strip()]
    if args.only_history:
        history = await run_history(history_sizes, args)
        print_history(history, args.quick)
        write_result({"at": datetime.now(UTC).isoformat(), "history": history}, args.quick)
        return 1 if history.get("errors") else 0

    print(f"[bench] PostgreSQL commit rate ({args.seconds:.0f}s, 16 clients)…", flush=True)
    pg_plain = await pg_commit_rate(args.seconds)
    pg_locked = await pg_commit_rate(args.seconds, locked=True)
    print(f"[bench] Kafka produce rate ({args.kafka_messages} × 1 kB, acks=all, idempotent)…", flush=True)
    kafka_pipelined, kafka_sequential = await kafka_produce_rate(args.kafka_messages)
    print(f"[bench] gateway pass-through rate ({args.seconds:.0f}s, 32 keep-alive connections)…", flush=True)
    gateway = await gateway_rates(args.seconds)
    print("[bench] order flow, open loop (vegeta at fixed rates; CPU from /proc)…", flush=True)
    guarantee_before = await guarantee_snapshot()
    shops = await load.setup(args.companies, max(1, args.buyers // args.companies))
    flow = await load.sweep(rates(args.rates), rates(args.mix_rates), args.step_seconds, args.companies,
                            args.buyers // args.companies, idle_seconds=3 if args.quick else 10, shops=shops,
                            flame=(ROOT / "bench" / "results" / "flame" / commit(), args.flame) if args.flame else None)  # fmt: skip
    flow["guarantee"] = guarantee_cost(guarantee_before, await guarantee_snapshot())
    async with httpx.AsyncClient(base_url=GATEWAY, timeout=60) as gw:
        flow["price_change_to_approval"] = await price_delay(gw, shops[0].raw, changes=3 if args.quick else 20)
    history = await run_history(history_sizes, args) if history_sizes else {}

    result = {
        "at": datetime.now(UTC).isoformat(),
        "commit": commit(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "ceilings": {
            "pg_commits_per_s": pg_plain,
            "pg_commits_per_s_exclusive_lock": pg_locked,
            "kafka_produce_per_s_pipelined": kafka_pipelined,
            "kafka_produce_per_s_sequential": kafka_sequential,
            **gateway,
        },
        "order_flow": flow,
        "history": history,
    }
    rows = [
        ("PostgreSQL INSERT commits/s (16 clients)", f"{pg_plain:,.0f}"),
        ("PostgreSQL commits/s under exclusive table lock", f"{pg_locked:,.0f}"),
        ("Kafka produce msgs/s (pipelined, acks=all)", f"{kafka_pipelined:,.0f}"),
        ("Kafka produce msgs/s (one at a time)", f"{kafka_sequential:,.0f}"),
        ("nginx pass-through requests/s (to a no-cost upstream)", f"{gateway['nginx_pass_through_per_s']:,.0f}"),
        ("nginx requests/s answered by itself", f"{gateway['nginx_direct_per_s']:,.0f}"),
        (
            "read fence inside approval p50 / p99 ms (ADR 0012)",
            f"{flow['guarantee']['fence_p50_ms']:.1f} / {flow['guarantee']['fence_p99_ms']:.1f}",
        ),
        (
            "read fence: ListOffsets sent per fenced request",
            f"{flow['guarantee']['list_offsets_per_fenced_request']:.2f}"
            f" ({flow['guarantee']['fenced_requests']:,.0f} fenced)",
        ),
        (
            "users change answered after its publication: wait p50 / p99 ms",
            f"{flow['guarantee']['publication_p50_ms']:.1f} / {flow['guarantee']['publication_p99_ms']:.1f}",
        ),
        (
            f"ERP price change -> used by approval p50 / max ms ({flow['price_change_to_approval']['changes']})",
            f"{flow['price_change_to_approval']['p50_ms']:.1f} / {flow['price_change_to_approval']['max_ms']:.1f}",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    print()
    for name, value in rows:
        print(f"  {name:<{width}}  {value:>24}")
    load.print_report(flow)
    if history:
        print_history(history, args.quick)
    write_result(result, args.quick)
    samples = [x for step in flow["steps"] for x in step["error_samples"]] + history.get("error_samples", [])
    for sample in samples:
        print(f"  error: {sample}")
    lost = sum(step["not_at_erp"] for step in flow["steps"])
    return 1 if samples or lost or history.get("errors") else 0


async def run_history(sizes: list[int], args: argparse.Namespace) -> dict[str, Any]:
    note = " (--quick: small histories only)" if args.quick else ""
    print(f"[bench] cost with history: {sizes} past orders, {args.history_submits} submissions each{note}…", flush=True)
    return await history_latency(sizes, args.history_submits, args.history_concurrency)


def print_history(history: dict[str, Any], quick: bool) -> None:
    print(f"\n  cost with history ({history['submits_per_size']} submissions per size, {history['concurrency']} at a"
          " time; the companies take turns)" + (" — quick run: up to 1,000 past orders only" if quick else ""))  # fmt: skip
    print(f"  {'past orders':>12}  {'submit p50 / p95 / p99 ms':>28}  {'list p50 / p95 / p99 ms':>28}")
    for size, h in history["by_history"].items():
        submit = f"{h['submit_p50_ms']:.1f} / {h['submit_p95_ms']:.1f} / {h['submit_p99_ms']:.1f}"
        listing = f"{h['list_p50_ms']:.1f} / {h['list_p95_ms']:.1f} / {h['list_p99_ms']:.1f}"
        print(f"  {int(size):>12,}  {submit:>28}  {listing:>28}")
    for size, rate in history["seeded_orders_per_s"].items():
        print(f"  ({int(size):,} past orders stored at {rate:,.0f} orders/s)")
    if history.get("followed_events_per_s") == history.get("followed_events_per_s"):  # not NaN
        print(f"  (approval's relay and projection followed the stored orders at {history['followed_events_per_s']:,.0f}"
              " events/s)")  # fmt: skip


def commit() -> str:
    """The commit measured (with ``-dirty`` when the working tree differs from it)."""
    import shutil
    import subprocess

    git = shutil.which("git") or "git"
    head = subprocess.run([git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout  # noqa: S603
    status = [git, "status", "--porcelain", "--untracked-files=no"]
    dirty = subprocess.run(status, capture_output=True, text=True, cwd=ROOT).stdout.strip()  # noqa: S603
    return (head.strip() or "unknown") + ("-dirty" if dirty else "")


def write_result(result: dict[str, Any], quick: bool) -> None:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = ROOT / "bench" / "results" / f"{stamp}-{result.get('commit') or commit()}{'-quick' if quick else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\n  results written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
