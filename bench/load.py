"""The order flow under open-loop load: a fixed arrival rate from a compiled load generator, CPU from /proc.

Python only sets up (companies, buyers, approvers, tokens) and writes the request files; vegeta (MIT, built from the
Go module proxy by the bootstrap) sends them at a fixed rate whatever the answers take, so a slow answer cannot
slow the arrivals down (a closed loop can only measure latency at its own saturation rate). Nothing is polled while
requests are sent: end-to-end times come from the records afterwards — approval's submission time
(``approval_order_summaries.submitted_at``), vegeta's send time of a decision, and the ERP simulator's receipt
(``sales_orders.received_at``).

CPU per order: every component's CPU time (:mod:`bench.procs`) from the first request until the stack is quiet
again (everything at the ERP, and the stack's CPU rate back near its idle rate), divided by the orders that reached
the ERP. The stand-ins (ERP simulator, token issuer, SMTP sink) and the client are shown apart and not counted.

Two loads:
  * within budget: every order goes straight to the ERP; swept over rates to find the knee (the highest rate whose
    submissions' p99 stays ≤ 50 ms with every order accepted);
  * the mix: per order submitted, 80 % within budget and 20 % over budget (held for approval), and as many
    decisions on orders held before the step (four approvals for every rejected order sent back by its buyer,
    within budget): the steady state of a company where a fifth of the orders need an approver. Mails go out.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.procs import STAND_INS, StackCpu, server_seconds
from tests.support.orders import order_body

ROOT = Path(__file__).resolve().parents[1]
GATEWAY = os.environ.get("KC_BENCH_GATEWAY", "http://127.0.0.1:8080")
PG = os.environ.get("KC_BENCH_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:54329/postgres")
P99_TARGET_MS = 50.0


def vegeta() -> str:
    """The load generator: ``KC_BENCH_VEGETA``, the bootstrap's ``.local/bin/vegeta``, or one on PATH."""
    for candidate in (
        os.environ.get("KC_BENCH_VEGETA"),
        str(ROOT / ".local" / "bin" / "vegeta"),
        shutil.which("vegeta"),
    ):
        if candidate and Path(candidate).is_file():
            return candidate
    raise SystemExit("vegeta is missing: `make bootstrap` builds it into .local/bin (needs Go and the module proxy)")


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


@dataclass
class Request:
    kind: str
    """submit, submit_over, approve, resubmit (what it is, for the report)"""
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None

    def vegeta_line(self) -> str:
        target: dict[str, Any] = {
            "method": self.method,
            "url": GATEWAY + self.path,
            "header": {k: [v] for k, v in {**self.headers, "Content-Type": "application/json"}.items()},
        }
        if self.body is not None:
            target["body"] = base64.b64encode(json.dumps(self.body).encode()).decode()
        return json.dumps(target)


@dataclass
class Result:
    kind: str
    code: int
    sent: float
    """epoch seconds"""
    latency_s: float
    body: bytes
    error: str


def attack(requests: list[Request], rate: float, workdir: Path, name: str) -> list[Result]:
    """Send ``requests`` in order at ``rate`` per second (open loop) and return vegeta's records of them."""
    targets = workdir / f"{name}.targets"
    targets.write_text("".join(r.vegeta_line() + "\n" for r in requests))
    out = workdir / f"{name}.bin"
    # -lazy: the attack ends when the file does (each request once); enough workers that a slow answer never
    # holds back the next arrival.
    subprocess.run(  # noqa: S603 — our own arguments
        [vegeta(), "attack", "-format=json", "-lazy", f"-targets={targets}", f"-rate={rate:g}/1s", "-duration=0",
         "-timeout=30s", "-workers=64", "-max-workers=2048", f"-output={out}"],
        check=True,
    )  # fmt: skip
    command = [vegeta(), "encode", "-to=json", str(out)]
    encoded = subprocess.run(command, check=True, capture_output=True).stdout  # noqa: S603
    records = sorted((json.loads(line) for line in encoded.splitlines()), key=lambda r: r["seq"])
    # a lazy attack ends with a "no targets to attack" record per worker that found the file at its end
    records = [r for r in records if r.get("error") != "no targets to attack"]
    # -lazy reads one target per hit, in file order: hit number n is request n
    return [
        Result(
            kind=request.kind,
            code=r["code"],
            sent=_epoch(r["timestamp"]),
            latency_s=r["latency"] / 1e9,
            body=base64.b64decode(r.get("body") or b""),
            error=r.get("error", ""),
        )
        for r, request in zip(records, requests, strict=True)
    ]


def _epoch(stamp: str) -> float:
    """vegeta's RFC 3339 time with nanoseconds (and a zone) as epoch seconds."""
    match = re.fullmatch(r"(.{19})(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", stamp)
    if match is None:
        raise ValueError(f"unexpected time from vegeta: {stamp}")
    whole, fraction, zone = match.groups()
    at = datetime.fromisoformat(whole + ("+00:00" if zone == "Z" else zone)).timestamp()
    return at + (float("0." + fraction) if fraction else 0.0)


@dataclass
class Shop:
    buyers: list[dict[str, str]]
    approver: dict[str, str]
    raw: dict[str, Any]
    """as bench.run.setup_companies made it (main contact's headers, customer number)"""


async def setup(companies: int, buyers_per_company: int) -> list[Shop]:
    from bench import run

    async with httpx.AsyncClient(base_url=GATEWAY, timeout=60) as gw:
        shops = await run.setup_companies(gw, companies, buyers_per_company)
    return [Shop(buyers=s["buyers"], approver=s["approver"], raw=s) for s in shops]


def _within(shop_buyers: list[tuple[Shop, dict[str, str]]], i: int) -> Request:
    _, headers = shop_buyers[i % len(shop_buyers)]
    body = order_body(quantity=1 + i % 5, unit_price="9.90", sku=f"SKU-{i % 50}")
    return Request("submit", "POST", "/api/orders", headers, body)


def _over(shop_buyers: list[tuple[Shop, dict[str, str]]], i: int) -> Request:
    _, headers = shop_buyers[i % len(shop_buyers)]
    return Request("submit_over", "POST", "/api/orders", headers, order_body(quantity=60, unit_price="9.90"))


@dataclass
class Step:
    """One fixed-rate step: what was sent, what came back, what reached the ERP, what it cost."""

    load: str
    rate: float
    results: list[Result]
    released: dict[str, float]
    """order id → when it left the shop's hands (approval's submission time, or the decision's send time)"""
    arrived: dict[str, float]
    cpu: dict[str, float]
    window_s: float
    idle_ms_per_s: float
    lost: int = 0
    commits: dict[str, int] = field(default_factory=dict)
    """Transactions committed per database during the step's window (read-only ones included)"""
    figures: dict[str, Any] = field(default_factory=dict)

    def summarise(self) -> dict[str, Any]:
        ok = [r for r in self.results if 200 <= r.code < 300]
        submits = [r.latency_s * 1000 for r in ok if r.kind in ("submit", "submit_over")]
        decisions = [r.latency_s * 1000 for r in ok if r.kind in ("approve", "resubmit")]
        e2e = [(self.arrived[o] - t) * 1000 for o, t in self.released.items() if o in self.arrived]
        first = min(r.sent for r in self.results)
        last_sent = max(r.sent for r in self.results)
        server = server_seconds(self.cpu)
        orders = len(self.arrived)
        codes: dict[str, int] = {}
        for r in self.results:
            codes[str(r.code)] = codes.get(str(r.code), 0) + 1
        self.figures = {
            "load": self.load,
            "rate_per_s": self.rate,
            "requests": len(self.results),
            "codes": codes,
            "error_samples": sorted(
                {
                    f"{r.code} {r.error or r.body[:160].decode(errors='replace')}"
                    for r in self.results
                    if not 200 <= r.code < 300
                }
            )[:5],
            "offered_per_s": len(self.results) / max(1e-9, last_sent - first),
            "orders_at_erp": orders,
            "not_at_erp": self.lost,
            "end_to_end_orders_per_s": orders / max(1e-9, max(self.arrived.values(), default=first) - first),
            "submit_p50_ms": pct(submits, 50),
            "submit_p99_ms": pct(submits, 99),
            "submit_max_ms": max(submits, default=float("nan")),
            "decision_p50_ms": pct(decisions, 50),
            "decision_p99_ms": pct(decisions, 99),
            "e2e_p50_ms": pct(e2e, 50),
            "e2e_p99_ms": pct(e2e, 99),
            "e2e_mean_ms": statistics.fmean(e2e) if e2e else float("nan"),
            "window_s": self.window_s,
            "cpu_s": {k: round(v, 3) for k, v in sorted(self.cpu.items())},
            "server_cpu_s": server,
            "server_cpu_ms_per_order": server * 1000 / orders if orders else float("nan"),
            "idle_share_ms_per_order": self.idle_ms_per_s * self.window_s / orders if orders else float("nan"),
            "stand_ins_cpu_ms_per_order": sum(v for k, v in self.cpu.items() if k in STAND_INS) * 1000 / orders
            if orders
            else float("nan"),
            # transactions each database committed per order, read-only ones included (pg_stat_database; the
            # stand-ins too; the statistics lag by up to a second)
            "pg_transactions_per_order": {k: round(v / orders, 2) for k, v in sorted(self.commits.items()) if v}
            if orders
            else {},
        }
        return self.figures


async def _records(order_ids: list[str]) -> tuple[dict[str, float], dict[str, float]]:
    """(approval's submission time, the ERP simulator's first receipt) per order id, read once."""
    ids = [uuid.UUID(o) for o in order_ids]
    base = PG.rsplit("/", 1)[0]
    approval = await asyncpg.connect(f"{base}/approval")
    erp = await asyncpg.connect(f"{base}/erp_simulator")
    try:
        submitted = {str(r[0]): r[1].timestamp() for r in await approval.fetch(
            "SELECT order_id, submitted_at FROM approval_order_summaries WHERE order_id = ANY($1::uuid[])", ids)}  # fmt: skip
        arrived = {str(r[0]): r[1].timestamp() for r in await erp.fetch(
            "SELECT order_id, min(received_at) FROM sales_orders WHERE order_id = ANY($1::uuid[]) GROUP BY order_id",
            ids)}  # fmt: skip
        return submitted, arrived
    finally:
        await approval.close()
        await erp.close()


async def _commits() -> dict[str, int]:
    """Commits so far per database (pg_stat_database)."""
    conn = await asyncpg.connect(PG.rsplit("/", 1)[0] + "/postgres")
    try:
        rows = await conn.fetch("SELECT datname, xact_commit FROM pg_stat_database WHERE datname IS NOT NULL")
        return {r["datname"]: int(r["xact_commit"]) for r in rows}
    finally:
        await conn.close()


async def _count_at_erp(conn: asyncpg.Connection, ids: list[uuid.UUID]) -> int:
    return int(
        await conn.fetchval("SELECT count(DISTINCT order_id) FROM sales_orders WHERE order_id = ANY($1::uuid[])", ids)
    )


async def idle_rate(cpu: StackCpu, seconds: float) -> tuple[float, dict[str, float]]:
    """The stack's server CPU (ms per second) when nothing is sent, and each component's."""
    before = cpu.sample()
    await asyncio.sleep(seconds)
    used = StackCpu.used(before, cpu.sample())
    return server_seconds(used) * 1000 / seconds, {k: v * 1000 / seconds for k, v in used.items()}


async def settled(rate: Callable[[], Awaitable[float]], deadline: float, windows: int = 3) -> float:
    """Until the stack's CPU rate (``rate``: ms per second over its next window) stops falling: ``windows`` windows
    in a row within 25 % (or 5 ms/s) of the lowest seen, or ``deadline`` (monotonic). Returns the lowest rate. The
    tail of the warm-up (replies from the ERP, mails, projections, the broker's JIT compiler) belongs to the orders,
    not to the idle burn."""
    lowest = float("inf")
    calm = 0
    while time.monotonic() < deadline:
        now = await rate()
        calm = calm + 1 if lowest < float("inf") and abs(now - lowest) <= max(lowest * 0.25, 5) else 0
        lowest = min(lowest, now)
        if calm >= windows:
            break
    return lowest


async def _until_quiet(cpu: StackCpu, idle_ms_per_s: float, deadline: float) -> None:
    """Until the stack's server CPU rate over half a second is back near its idle rate (the tail of the async work
    — replies from the ERP, mails, projections — belongs to the orders)."""
    previous = cpu.sample()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        now = cpu.sample()
        if server_seconds(StackCpu.used(previous, now)) * 1000 / 0.5 <= idle_ms_per_s * 1.5 + 15:
            return
        previous = now


async def run_step(
    load: str,
    requests: list[Request],
    rate: float,
    cpu: StackCpu,
    idle_ms_per_s: float,
    workdir: Path,
    expect_at_erp: int,
    drain_s: float = 120,
    flame: Path | None = None,
) -> Step:
    profilers = _profile(cpu, flame, f"{load}-{rate:g}", len(requests) / rate) if flame else []
    commits_before = await _commits()
    before = cpu.sample()
    started = time.monotonic()
    results = await asyncio.to_thread(attack, requests, rate, workdir, f"{load}-{rate:g}")
    for profiler in profilers:
        await asyncio.to_thread(profiler.wait)
    released: dict[str, float] = {}
    submitted_ids: list[str] = []
    for r in results:
        if 200 <= r.code < 300 and r.body:
            order = json.loads(r.body)
            if r.kind == "submit":
                submitted_ids.append(order["id"])
            elif r.kind in ("approve", "resubmit") and order.get("status") == "released":
                released[order["id"]] = r.sent
    ids = [uuid.UUID(o) for o in [*submitted_ids, *released]]
    deadline = time.monotonic() + drain_s
    erp = await asyncpg.connect(PG.rsplit("/", 1)[0] + "/erp_simulator")
    try:
        while (at := await _count_at_erp(erp, ids)) < len(ids) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    finally:
        await erp.close()
    await _until_quiet(cpu, idle_ms_per_s, time.monotonic() + 30)
    window = time.monotonic() - started
    used = StackCpu.used(before, cpu.sample())
    commits_after = await _commits()
    commits = {db: n - commits_before.get(db, 0) for db, n in commits_after.items()}
    submitted, arrived = await _records([*submitted_ids, *released])
    released.update({o: submitted[o] for o in submitted_ids if o in submitted})
    step = Step(load, rate, results, released, arrived, used, window, idle_ms_per_s, lost=len(ids) - at,
                commits=commits)  # fmt: skip
    step.summarise()
    if expect_at_erp and len(ids) < expect_at_erp:
        step.figures["not_accepted"] = expect_at_erp - len(ids)
    return step


PROFILED = ("approval", "erp-sync", "notifications", "users", "erp-simulator")


def _profile(cpu: StackCpu, into: Path, name: str, seconds: float) -> list[subprocess.Popen[bytes]]:
    """py-spy flame graphs of the Python services while a step's requests are sent (sampling from outside, without
    stopping the process)."""
    spy = ROOT / ".venv" / "bin" / "py-spy"
    into.mkdir(parents=True, exist_ok=True)
    # KC_FLAME_FORMAT=raw: collapsed stacks (one line per stack and its count) instead of SVG, to read or diff as text
    raw = os.environ.get("KC_FLAME_FORMAT") == "raw"
    # KC_FLAME_GIL=1: only the samples of the thread holding the GIL — where Python spends CPU, without the time a
    # worker thread waits on a socket with the GIL released
    gil = os.environ.get("KC_FLAME_GIL") == "1"
    return [
        subprocess.Popen(  # noqa: S603 — our own arguments
            [
                str(spy),
                "record",
                "--nonblocking",
                *(["--format", "raw"] if raw else []),
                *(["--gil"] if gil else []),
                "-p",
                str(cpu.roots[component]),
                "-d",
                str(max(1, round(seconds))),
                "-o",
                str(into / f"{component}-{name}.{'txt' if raw else 'svg'}"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for component in PROFILED
        if component in cpu.roots
    ]


def within_budget_requests(shops: list[Shop], count: int, offset: int) -> list[Request]:
    buyers = [(s, b) for s in shops for b in s.buyers]
    return [_within(buyers, offset + i) for i in range(count)]


async def held_orders(shops: list[Shop], count: int, workdir: Path) -> list[tuple[Shop, dict[str, str], str, bool]]:
    """``count`` orders over budget, held for approval (sent beforehand, not measured); every fifth one rejected
    already, to be sent back by its buyer. Returns (shop, buyer headers, order id, rejected)."""
    buyers = [(s, b) for s in shops for b in s.buyers]
    requests = [_over(buyers, i) for i in range(count)]
    results = await asyncio.to_thread(attack, requests, 100, workdir, "held")
    held = []
    for i, r in enumerate(results):
        if r.code != 201:
            raise RuntimeError(f"an order over budget was not accepted: {r.code} {r.body[:200]!r}")
        shop, buyer = buyers[i % len(buyers)]
        held.append((shop, buyer, json.loads(r.body)["id"], i % 5 == 0))
    rejects = [Request("reject", "POST", f"/api/orders/{o}/reject", shop.approver, {"comment": "zu viel"})
               for shop, _, o, rejected in held if rejected]  # fmt: skip
    for r in await asyncio.to_thread(attack, rejects, 100, workdir, "rejects"):
        if r.code != 200:
            raise RuntimeError(f"a rejection was refused: {r.code} {r.body[:200]!r}")
    return held


def mix_requests(
    shops: list[Shop], count: int, held: list[tuple[Shop, dict[str, str], str, bool]], offset: int
) -> list[Request]:
    """``count`` submissions (80 % within budget, 20 % over) with one decision on a held order after each one
    over budget, interleaved as they would arrive."""
    buyers = [(s, b) for s in shops for b in s.buyers]
    out: list[Request] = []
    decisions = iter(held)
    for i in range(count):
        if i % 5 == 4:
            out.append(_over(buyers, offset + i))
            shop, buyer, order_id, rejected = next(decisions)
            if rejected:
                again = order_body(quantity=30, unit_price="9.90", sku=f"SKU-{i % 50}")
                out.append(Request("resubmit", "POST", f"/api/orders/{order_id}/resubmit", buyer,
                                   {"comment": "weniger", "order": again}))  # fmt: skip
            else:
                out.append(
                    Request("approve", "POST", f"/api/orders/{order_id}/approve", shop.approver, {"comment": "ok"})
                )
        else:
            out.append(_within(buyers, offset + i))
    return out


async def sweep(
    within_rates: list[float],
    mix_rates: list[float],
    seconds: float,
    companies: int,
    buyers_per_company: int,
    idle_seconds: float = 10,
    shops: list[Shop] | None = None,
    flame: tuple[Path, float] | None = None,
) -> dict[str, Any]:
    """Idle burn, then a step per within-budget rate, then a step per mix rate. Each sweep stops after the first
    step the stack could not keep up with (fewer orders per second at the ERP than offered, or some lost)."""
    if shops is None:
        print(f"[bench]   registering {companies} companies with {buyers_per_company} buyers and an approver each…",
              flush=True)  # fmt: skip
        shops = await setup(companies, buyers_per_company)
    cpu = StackCpu()
    workdir = Path(tempfile.mkdtemp(prefix="kc-bench-"))
    # a short warm-up (connections, caches, JIT of the broker), not measured
    await run_step("warm-up", within_budget_requests(shops, 100, 0), 50, cpu, 1000, workdir, 0)

    async def one_second() -> float:
        before = cpu.sample()
        await asyncio.sleep(1.0)
        return server_seconds(StackCpu.used(before, cpu.sample())) * 1000

    print("[bench]   waiting for the stack to settle after the warm-up…", flush=True)
    await settled(one_second, time.monotonic() + 60)
    print(f"[bench]   idle burn ({idle_seconds:.0f}s of nothing)…", flush=True)
    idle, idle_by_component = await idle_rate(cpu, idle_seconds)
    steps: list[dict[str, Any]] = []
    offset = 100
    for rate in within_rates:
        count = max(1, round(rate * seconds))
        print(f"[bench]   within budget at {rate:g}/s for {seconds:g}s ({count} orders)…", flush=True)
        into = flame[0] if flame and flame[1] == rate else None
        step = await run_step(
            "within", within_budget_requests(shops, count, offset), rate, cpu, idle, workdir, count, flame=into
        )
        offset += count
        steps.append(step.figures)
        _line(step.figures)
        if _saturated(step.figures):
            break
    for rate in mix_rates:
        count = max(5, round(rate * seconds))
        print(
            f"[bench]   the mix at {rate:g} orders/s for {seconds:g}s (holding {count // 5} orders first)…", flush=True
        )
        held = await held_orders(shops, count // 5, workdir)
        requests = mix_requests(shops, count, held, offset)
        offset += count
        expected = sum(1 for r in requests if r.kind in ("submit", "approve", "resubmit"))
        into = flame[0] if flame and flame[1] == rate else None
        step = await run_step("mix", requests, rate * len(requests) / count, cpu, idle, workdir, expected, flame=into)
        step.figures["orders_per_s_offered"] = rate
        steps.append(step.figures)
        _line(step.figures)
        if _saturated(step.figures):
            break
    shutil.rmtree(workdir, ignore_errors=True)
    within = [s for s in steps if s["load"] == "within"]
    good = [s for s in within if s["submit_p99_ms"] <= P99_TARGET_MS and not _failed(s)]
    return {
        "idle_ms_per_s": idle,
        "idle_by_component_ms_per_s": {k: round(v, 1) for k, v in idle_by_component.items()},
        "steps": steps,
        "knee_per_s": max((s["rate_per_s"] for s in good), default=0.0),
        "buyers": sum(len(s.buyers) for s in shops),
    }


def _saturated(step: dict[str, Any]) -> bool:
    offered = step.get("orders_per_s_offered", step["rate_per_s"])
    return _failed(step) or step["end_to_end_orders_per_s"] < 0.8 * offered


def _failed(step: dict[str, Any]) -> bool:
    return bool(step["not_at_erp"] or step.get("not_accepted") or set(step["codes"]) - {"200", "201"})


def _line(s: dict[str, Any]) -> None:
    print(
        f"[bench]     {s['load']:>6} {s.get('orders_per_s_offered', s['rate_per_s']):>6g}/s:"
        f" submit p50/p99 {s['submit_p50_ms']:.1f}/{s['submit_p99_ms']:.1f} ms,"
        f" at the ERP p50/p99 {s['e2e_p50_ms']:.0f}/{s['e2e_p99_ms']:.0f} ms,"
        f" {s['end_to_end_orders_per_s']:.1f} orders/s end to end,"
        f" server CPU {s['server_cpu_ms_per_order']:.1f} ms/order,"
        f" codes {s['codes']}" + (f", NOT AT THE ERP {s['not_at_erp']}" if s["not_at_erp"] else ""),
        flush=True,
    )
    if s.get("pg_transactions_per_order"):
        per = s["pg_transactions_per_order"]
        print(f"[bench]       PostgreSQL transactions per order (reads included): {sum(per.values()):.1f} ("
              + ", ".join(f"{db} {n:g}" for db, n in per.items()) + ")", flush=True)  # fmt: skip


def print_report(flow: dict[str, Any]) -> None:
    print(
        f"\n  open-loop order flow (vegeta, {flow['buyers']} buyers; server = our services + PostgreSQL + Kafka + nginx)"
    )
    print(f"  idle burn of the stack: {flow['idle_ms_per_s']:.1f} ms of CPU per second  "
          + ", ".join(f"{k} {v:.0f}" for k, v in sorted(flow["idle_by_component_ms_per_s"].items())))  # fmt: skip
    head = (f"  {'load':>6} {'rate/s':>7} {'submit p50/p99 ms':>18} {'decide p50/p99':>15} {'at ERP p50/p99 ms':>18}"
            f" {'e2e/s':>7} {'CPU ms/order':>13} {'(idle)':>7} {'stand-ins':>9}  codes")  # fmt: skip
    print(head)
    for s in flow["steps"]:
        decide = f"{s['decision_p50_ms']:.0f}/{s['decision_p99_ms']:.0f}" if s["load"] == "mix" else "-"
        print(
            f"  {s['load']:>6} {s.get('orders_per_s_offered', s['rate_per_s']):>7g}"
            f" {s['submit_p50_ms']:>8.1f}/{s['submit_p99_ms']:<9.1f} {decide:>15}"
            f" {s['e2e_p50_ms']:>8.0f}/{s['e2e_p99_ms']:<9.0f} {s['end_to_end_orders_per_s']:>7.1f}"
            f" {s['server_cpu_ms_per_order']:>13.1f} {s['idle_share_ms_per_order']:>7.1f}"
            f" {s['stand_ins_cpu_ms_per_order']:>9.1f}  {s['codes']}"
            + (f" NOT AT ERP {s['not_at_erp']}" if s["not_at_erp"] else "")
        )
    print(
        f"  knee (highest within-budget rate with submit p99 <= {P99_TARGET_MS:.0f} ms, nothing lost): {flow['knee_per_s']:g}/s"
    )
    heavy = max(flow["steps"], key=lambda s: s["rate_per_s"]) if flow["steps"] else None
    if heavy:
        rate = heavy.get("orders_per_s_offered", heavy["rate_per_s"])
        print(f"  CPU seconds per component at {heavy['load']} {rate:g}/s: "
              + ", ".join(f"{k} {v:.1f}" for k, v in sorted(heavy["cpu_s"].items(), key=lambda kv: -kv[1])))  # fmt: skip
