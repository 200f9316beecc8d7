"""`make chaos`: the full stack under a steady order load while processes are killed at random moments.

Kills (kill -9, then restart) each service process, the Kafka broker and PostgreSQL, and cuts the ERP
simulator off for a while. With ``--signal term`` it instead stops each service gracefully (SIGTERM, as
Kubernetes does on a rollout or a node drain) at a random moment under the same load and starts it again; then
nothing may be doubled at all, and every service must have stopped within its grace period.
Afterwards it checks, and prints as figures:
  * every acknowledged order reached a final or correctly pending state;
  * every released order is at the ERP simulator exactly once (duplicates discarded there are counted);
  * every mail was sent exactly once (no Message-ID twice) and every expected mail arrived;
  * the approval read model (lists) equals the orders themselves;
  * dead-letter topics hold only messages that really are poison (none were injected: expected empty);
  * prices kept flowing: articles whose price the ERP changed during the faults are priced by approval as the
    ERP (the simulator) finally keeps them;
  * period budgets stay exact (ADR 0017): one buyer per company orders against a monthly budget; afterwards the
    ledger's reserved and consumed figures equal what that buyer's orders, as they finally stand, say they must
    be, and what was reserved without an approver's decision never exceeds the budget;
  * the company's credit (ADR 0026): the second company's ERP keeps a small credit limit, raised step by step
    during the faults, so its orders wait for credit (`credit_hold`) and go on by themselves; once the limit is
    raised for good no order is left waiting, each held order is at the ERP exactly once, and approval's waiting
    list is empty;
  * deadlines of waiting orders (ADR 0033): the first company reminds after 2 s and escalates after 5 s, and a third
    of its orders over budget are left undecided, so the timer fires during the faults (the leader killed, its
    database and broker too); afterwards every order left waiting was reminded and escalated to the main contact
    exactly once, no order took a step twice, and the reminders' mails arrived;
  * bundles (ADR 0034): every sixth order over budget is approved in a bundle of two by the company's approver
    (refused — e.g. one would wait for credit — each is approved on its own); afterwards each bundled order is at the
    ERP exactly once, inside its bundle's one sales order, and never also on its own.
Exits non-zero if any check fails. Only ever targets the local stack on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "deploy" / "local"))

import stack  # noqa: E402

from bench.run import GATEWAY, KAFKA, setup_companies  # noqa: E402
from contracts.envelope import Headers  # noqa: E402
from contracts.topics import TOPICS  # noqa: E402
from notifications.adapters.outbound.dispatcher import PARALLEL as MAIL_PARALLEL  # noqa: E402
from tests.support.orders import order_body  # noqa: E402

ERP_SIMULATOR = "http://127.0.0.1:8111"
SMTP_SINK = "http://127.0.0.1:8113"
SERVICES = ["registration", "users", "approval", "erp-sync", "notifications"]
FINAL_OR_PENDING = {"pending_approval", "released", "transmitted", "confirmed", "erp_rejected", "rejected", "cancelled",
                    "expired"}  # fmt: skip
AT_ERP = {"released", "transmitted", "confirmed", "erp_rejected"}
PRICED_BY_CHAOS = ("M-300", "B-200")  # in the ERP simulator's default list; the chaos buyers order SKU-0…39
PERIOD_BUDGET = Decimal("250.00")  # monthly, for one buyer per company: filled after a few orders, then held
PERIOD_LIMITS = {"period_value", "period_quantity"}
CREDIT_START = Decimal("300.00")  # the second company's credit limit at the ERP when the load starts …
CREDIT_STEP = Decimal("250.00")  # … raised by this every few seconds during the faults (orders wait, then go on)
CREDIT_FOR_GOOD = Decimal("10000000.00")  # after the load: every waiting order must go on by itself
DEADLINES = {"remind_after": "PT2S", "escalate_after": "PT5S"}  # the first company's (ADR 0033)
DEADLINE_STEPS = ("Reminded", "EscalatedOnDeadline", "Expired")
STOP_GRACE = 30.0  # seconds a service gets after SIGTERM (the Deployments' terminationGracePeriodSeconds)


def log(text: str) -> None:
    print(f"[chaos {datetime.now(UTC).strftime('%H:%M:%S')}] {text}", flush=True)


class Load:
    """Buyers ordering steadily; over-budget orders are decided by the company's approver."""

    def __init__(self, gw: httpx.AsyncClient, shops: list[dict[str, Any]]) -> None:
        self.gw = gw
        self.shops = shops
        self.acknowledged: dict[str, dict[str, Any]] = {}  # order id → what we know we did
        self.attempts = 0
        self.failures = Counter[str]()
        self.stop = asyncio.Event()
        self.faults: list[str] = []
        self.stops: list[dict[str, Any]] = []  # graceful stops (--signal term): service, seconds, graceful
        self.retried = 0  # submissions sent again with their Idempotency-Key after a failed answer
        self.run = uuid.uuid4().hex[:8]
        self.price_changes = Counter[bool]()  # the ERP's price changes: accepted by the simulator (True) or not
        self.priced: set[tuple[str, str]] = set()  # (customer number, sku) whose price the ERP changed
        self.held_for_credit: set[str] = set()  # orders answered with status credit_hold
        self.credit_raises = Counter[bool]()  # the ERP's credit limit raised (True) or the hook not reached
        self.left_waiting: set[str] = set()  # the first company's orders over budget nobody decides (deadlines)
        self.reminded: set[str] = set()  # of those, the ones reminded (a timer down past the escalation skips it)
        self.to_bundle: dict[str, list[dict[str, Any]]] = {}  # per company: an order waiting for a partner (ADR 0034)
        self.bundles = Counter[str]()  # bundle requests by outcome: 201, refused (decided singly), lost

    async def _decide(self, shop: dict[str, Any], order_id: str, record: dict[str, Any], reject: bool) -> None:
        action, decision = ("reject", {"comment": "nein"}) if reject else ("approve", {"comment": "ok"})
        d = await self._post(f"/api/orders/{order_id}/{action}", shop["approver"], decision)
        if d is not None and d.status_code == 200:
            record["decided"] = action
            if d.json().get("status") == "credit_hold":  # approved, and now waiting for credit
                self.held_for_credit.add(order_id)

    async def _bundle(self, shop: dict[str, Any], order_id: str, record: dict[str, Any]) -> None:
        """Two orders of the company approved as one bundle (ADR 0034): the first waits for a partner."""
        waiting = self.to_bundle.setdefault(shop["customer_number"], [])
        if not waiting:
            waiting.append({"id": order_id, "record": record})
            return
        partner = waiting.pop()
        pair = [(partner["id"], partner["record"]), (order_id, record)]
        r = await self._post("/api/orders/bundles", shop["approver"], {"order_ids": [i for i, _ in pair]})
        if r is not None and r.status_code == 201:
            self.bundles["201"] += 1
            for _, rec in pair:
                rec["decided"] = "approve"
        elif r is not None and r.status_code < 500:  # refused as a whole (credit, a price): each on its own
            self.bundles[f"refused {r.status_code}"] += 1
            for i, rec in pair:
                await self._decide(shop, i, rec, reject=False)
        else:  # the answer was lost to a fault: the orders are bundled or still waiting, either is right
            self.bundles["lost"] += 1

    async def credit(self, shop: dict[str, Any], every_s: float = 4.0) -> None:
        """The ERP raises the company's credit limit step by step, whatever is being killed at the time: the orders
        waiting for credit go on by themselves, oldest first (ADR 0026)."""
        limit = CREDIT_START
        async with httpx.AsyncClient(base_url=ERP_SIMULATOR, timeout=10) as erp:
            while not self.stop.is_set():
                try:
                    await asyncio.wait_for(self.stop.wait(), timeout=every_s)
                    return
                except TimeoutError:
                    pass
                try:
                    r = await erp.put(f"/admin/customers/{shop['customer_number']}/credit",
                                      json={"credit_limit": str(limit + CREDIT_STEP)})  # fmt: skip
                    if r.status_code == 200:
                        limit += CREDIT_STEP
                    self.credit_raises[r.status_code == 200] += 1
                except httpx.HTTPError:
                    self.credit_raises[False] += 1

    async def _post(self, url: str, headers: dict, body: Any) -> httpx.Response | None:
        try:
            r = await self.gw.post(url, json=body, headers=headers, timeout=15)
        except httpx.HTTPError as exc:
            self.failures[type(exc).__name__] += 1
            return None
        if r.status_code >= 500:
            self.failures[f"http {r.status_code}"] += 1
        return r

    async def prices(self, rng: random.Random) -> None:
        """The ERP changes prices throughout (articles the buyers do not order, so their shown prices stay right):
        each change travels through erp-sync to approval, whatever is being killed at the time."""
        async with httpx.AsyncClient(base_url=ERP_SIMULATOR, timeout=10) as erp:
            while not self.stop.is_set():
                shop = rng.choice(self.shops)
                sku = rng.choice(PRICED_BY_CHAOS)
                price = f"{rng.randint(100, 99_999) / 100:.2f}"
                try:
                    r = await erp.put(f"/admin/customers/{shop['customer_number']}/prices/{sku}",
                                      json={"unit_price": price})  # fmt: skip
                    self.price_changes[r.status_code == 200] += 1
                except httpx.HTTPError:
                    self.price_changes[False] += 1
                self.priced.add((shop["customer_number"], sku))
                await asyncio.sleep(0.3)

    async def buyer(self, shop: dict[str, Any], headers: dict[str, str], n: int) -> None:
        i = n * 100_000
        while not self.stop.is_set():
            i += 1
            over = i % 4 == 0
            body = order_body(quantity=60 if over else 1 + i % 5, unit_price="9.90", sku=f"SKU-{i % 40}")
            self.attempts += 1
            # As a shop should: one Idempotency-Key per order, the same key on every retry of it — an answer lost
            # to a fault (502 while a service restarts, 503 while PostgreSQL does) never makes a second order.
            keyed = {**headers, "Idempotency-Key": f"chaos-{n}-{i}-{self.run}"}
            r = await self._post("/api/orders", keyed, body)
            tries = 1
            while (r is None or r.status_code >= 500) and tries < 40 and not self.stop.is_set():
                await asyncio.sleep(0.25)
                r = await self._post("/api/orders", keyed, body)
                tries += 1
            if tries > 1:
                self.retried += 1
            if r is None or r.status_code != 201:
                await asyncio.sleep(0.2)
                continue
            order = r.json()
            record = {"status": order["status"], "buyer": headers, "shop": shop, "decided": None}
            self.acknowledged[order["id"]] = record
            if order["status"] == "credit_hold":
                self.held_for_credit.add(order["id"])
            if order["status"] == "pending_approval" and shop is self.shops[0] and i % 12 == 8:
                self.left_waiting.add(order["id"])  # nobody decides it: its deadlines fire (ADR 0033)
            elif order["status"] == "pending_approval" and i % 24 == 4:
                await self._bundle(shop, order["id"], record)
            elif order["status"] == "pending_approval":
                await self._decide(shop, order["id"], record, reject=i % 3 == 0)
            await asyncio.sleep(0.05)


async def faults(load: Load, duration: float, quick: bool, rng: random.Random, mode: str = "kill") -> list[str]:
    """Kill -9 and restart components at random moments; cut the ERP off for a while. In ``term`` mode: stop
    each service with SIGTERM (graceful) and start it again."""
    plan = [*SERVICES, "kafka", "postgres", "erp-outage"]
    if quick:
        plan = ["approval", "erp-sync", "notifications", "postgres", "kafka", "erp-outage"]
    if mode == "term":
        plan = list(SERVICES)
    rng.shuffle(plan)
    done = []
    slot = duration / (len(plan) + 1)
    async with httpx.AsyncClient(base_url=ERP_SIMULATOR, timeout=10) as erp:
        for k, target in enumerate(plan):
            await asyncio.sleep(slot * (0.5 + rng.random()) if k else slot * rng.random())
            if target == "erp-outage":
                log("ERP simulator cut off")
                await _admin(erp, "/admin/pause")
                await asyncio.sleep(min(8.0, slot))
                await _admin(erp, "/admin/resume")
                log("ERP simulator back")
            elif mode == "term":
                log(f"SIGTERM {target}")
                began = time.monotonic()
                reports = await asyncio.to_thread(stack.stop_components, [stack.COMPONENTS[target]], STOP_GRACE)
                took = time.monotonic() - began
                graceful = not any(" killed " in line for line in reports)
                load.stops.append({"service": target, "seconds": round(took, 2), "graceful": graceful})
                log(f"{target} {'stopped' if graceful else 'had to be killed'} after {took:.1f}s")
                await asyncio.sleep(rng.uniform(0.5, 2.0))
                started = time.monotonic()
                await restart(target)
                log(f"{target} back after {time.monotonic() - started:.1f}s")
            else:
                log(f"kill -9 {target}")
                await asyncio.to_thread(stack.stop_component, target, signal.SIGKILL)
                await asyncio.sleep(rng.uniform(0.5, 3.0))
                started = time.monotonic()
                await restart(target)
                log(f"{target} back after {time.monotonic() - started:.1f}s")
            done.append(target)
            load.faults.append(target)
    return done


async def restart(target: str, timeout: float = 90) -> None:
    """Start a killed component again (its dead processes may linger a moment, e.g. PostgreSQL's pid file)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await asyncio.to_thread(stack.start_component, target)
            return
        except stack.StackError as exc:
            if time.monotonic() > deadline:
                raise
            log(f"{target} not startable yet ({str(exc).splitlines()[0][:80]}), retrying")
            await asyncio.sleep(2)


async def _admin(erp: httpx.AsyncClient, path: str, timeout: float = 120) -> None:
    """An admin command to the ERP simulator, retried while another fault makes it slow to answer."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            r = await erp.post(path, timeout=30)
            if r.status_code < 500:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"ERP simulator did not accept {path}")
        await asyncio.sleep(1)


async def quiesce(timeout: float = 180) -> None:
    """Wait until every relay has published everything and consumers have caught up (lag 0, stable)."""
    deadline = time.monotonic() + timeout
    ports = {"registration": 8101, "users": 8102, "approval": 8103, "erp-sync": 8104, "notifications": 8105}
    stable = 0
    async with httpx.AsyncClient(timeout=5) as client:
        while time.monotonic() < deadline:
            lags = []
            for port in ports.values():
                try:
                    text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
                except httpx.HTTPError:
                    lags.append(1)
                    continue
                lags += [
                    float(line.split()[-1]) for line in text.splitlines() if line.startswith("kc_relay_lag_events")
                ]
            stable = stable + 1 if lags and max(lags) == 0 else 0
            if stable >= 5:
                return
            await asyncio.sleep(1)
    raise TimeoutError("the system did not settle")


async def dead_letters(since_ms: int, seen: list[dict[str, str]] | None = None) -> Counter[str]:
    """Reasons of the dead letters written since ``since_ms`` on every dead-letter topic; ``seen`` gets each one's
    headers (topic, consumer group, error), for the result file."""
    reasons: Counter[str] = Counter()
    dlts = [t.dlt for t in TOPICS if t.consumers]
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    try:
        described = await admin.describe_topics(dlts)
    finally:
        await admin.close()
    parts = [TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]]
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(parts)
        starts = await consumer.offsets_for_times({tp: since_ms for tp in parts})
        ends = await consumer.end_offsets(parts)
        for tp in parts:
            start = starts[tp].offset if starts.get(tp) else ends[tp]
            if start >= ends[tp]:
                continue
            consumer.seek(tp, start)
            done = False
            while not done:
                records = (await consumer.getmany(tp, timeout_ms=2000)).get(tp, [])
                for r in records:
                    headers = {k: v.decode(errors="replace") for k, v in r.headers if k.startswith("kc-dlt-")}
                    reasons[headers.get(Headers.DLT_REASON, "?")] += 1
                    if seen is not None:
                        seen.append(headers)
                done = not records or records[-1].offset + 1 >= ends[tp]
    finally:
        await consumer.stop()
    return reasons


async def check_prices(load: Load, failures: list[str], timeout: float = 120) -> dict[str, Any]:
    """Every article whose price the ERP changed during the run: approval prices it as the ERP finally keeps it."""
    shops = {s["customer_number"]: s for s in load.shops}
    wrong: dict[tuple[str, str], str] = {}
    async with (
        httpx.AsyncClient(base_url=ERP_SIMULATOR, timeout=30) as erp,
        httpx.AsyncClient(base_url=GATEWAY, timeout=30) as gw,
    ):
        for number, sku in sorted(load.priced):
            rows = (await erp.get(f"/customers/{number}/prices")).json()
            (erp_price,) = [Decimal(str(r["unit_price"])) for r in rows if r["sku"] == sku]
            deadline = time.monotonic() + timeout
            while True:
                r = await gw.post("/api/orders/evaluate", json=order_body(quantity=1, sku=sku),
                                  headers=shops[number]["main"])  # fmt: skip
                seen = Decimal(r.json()["lines"][0]["unit_price"]["amount"]) if r.status_code == 200 else None
                if seen == erp_price or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            if seen != erp_price:
                wrong[(number, sku)] = f"ERP {erp_price}, approval {seen if seen is not None else r.text[:100]}"
    for (number, sku), text in wrong.items():
        failures.append(f"price of {sku} for {number}: {text}")
    return {
        "price_changes_accepted_by_the_erp": load.price_changes[True],
        "price_changes_refused_during_faults": load.price_changes[False],
        "prices_checked": len(load.priced),
        "prices_wrong_at_approval": len(wrong),
    }


async def check(load: Load, since_ms: int) -> tuple[dict[str, Any], list[str]]:
    failures: list[str] = []
    figures: dict[str, Any] = {
        "orders_attempted": load.attempts,
        "orders_acknowledged": len(load.acknowledged),
        "submissions_retried_with_their_key": load.retried,
    }
    states: dict[str, str] = {}
    bundled: dict[str, str] = {}  # order id → the bundle it went to the ERP in (ADR 0034)
    async with httpx.AsyncClient(base_url=GATEWAY, timeout=30) as gw:
        for order_id, rec in load.acknowledged.items():
            r = await gw.get(f"/api/orders/{order_id}", headers=rec["buyer"])
            if r.status_code != 200:
                failures.append(f"order {order_id}: GET answered {r.status_code}")
                continue
            status = r.json()["status"]
            states[order_id] = status
            if r.json().get("bundle_id"):
                bundled[order_id] = r.json()["bundle_id"]
            taken = Counter(t["event"] for t in r.json()["timeline"] if t["event"] in DEADLINE_STEPS)
            if any(n > 1 for n in taken.values()):
                failures.append(f"order {order_id}: a deadline step taken more than once: {dict(taken)}")
            if status not in FINAL_OR_PENDING:
                failures.append(f"order {order_id}: unknown status {status}")
            if rec["decided"] == "approve" and status not in AT_ERP:
                failures.append(f"order {order_id}: approved but {status}")
            if rec["decided"] == "reject" and status != "rejected":
                failures.append(f"order {order_id}: rejected but {status}")
        # the read model (lists) against the orders themselves
        mismatches = 0
        unanswered = 0  # orders made whose answer the load never got (it gave up retrying): not lost, but unseen
        for shop in load.shops:
            for headers in shop["buyers"]:
                listed: dict[str, str] = {}
                offset = 0
                while True:
                    page = (
                        await gw.get("/api/orders", params={"limit": 200, "offset": offset}, headers=headers)
                    ).json()
                    listed.update({o["id"]: o["status"] for o in page["items"]})
                    offset += 200
                    if offset >= page["total"]:
                        break
                for order_id, rec in load.acknowledged.items():
                    if rec["buyer"] is headers and listed.get(order_id) != states.get(order_id):
                        mismatches += 1
                unanswered += len(set(listed) - set(load.acknowledged))
        figures["period_budgets"] = await check_period_budgets(gw, load, failures)
        figures["credit"] = await check_credit(gw, load, states, failures)
        figures["deadlines"] = await check_deadlines(gw, load, failures)
        figures["read_model_mismatches"] = mismatches
        figures["orders_made_but_never_answered"] = unanswered
        if mismatches:
            failures.append(f"{mismatches} orders listed with another status than they have")
    figures["orders_by_status"] = dict(Counter(states.values()))

    released = [o for o, s in states.items() if s in AT_ERP]
    at_erp_once = 0
    duplicates_discarded = 0
    async with httpx.AsyncClient(base_url=ERP_SIMULATOR, timeout=30) as erp:
        for order_id in released:
            bundle = bundled.get(order_id)
            rows = (await erp.get("/sales-orders", params={"order_id": bundle or order_id})).json()
            alone = (await erp.get("/sales-orders", params={"order_id": order_id})).json() if bundle else []
            if len(rows) != 1 or alone:
                failures.append(f"order {order_id}: {len(rows)} sales orders at the ERP (bundle {bundle}), "
                                f"{len(alone)} of its own")  # fmt: skip
            elif bundle and order_id not in rows[0]["payload"].get("bundled_orders", []):
                failures.append(f"order {order_id}: its bundle {bundle}'s sales order does not name it")
            else:
                at_erp_once += 1
                duplicates_discarded += rows[0].get("duplicates_discarded", 0) if not bundle else 0
        for bundle in set(bundled.values()):
            rows = (await erp.get("/sales-orders", params={"order_id": bundle})).json()
            duplicates_discarded += sum(row.get("duplicates_discarded", 0) for row in rows)
    figures["bundles"] = {"requests": dict(load.bundles), "bundled_orders": len(bundled),
                          "bundles_at_erp": len(set(bundled.values()))}  # fmt: skip
    if not load.bundles["201"]:
        failures.append("bundles: none was made (the check tested nothing)")
    figures["released_orders"] = len(released)
    figures["released_at_erp_exactly_once"] = at_erp_once
    figures["erp_duplicates_discarded"] = duplicates_discarded

    async with httpx.AsyncClient(base_url=SMTP_SINK, timeout=30) as sink:
        mails = (await sink.get("/messages")).json()
    order_ids = set(load.acknowledged)
    ours = [m for m in mails if any(o in (m.get("text") or "") for o in order_ids)]
    by_message_id = Counter(m["headers"].get("Message-ID") for m in ours)
    doubled = sum(n - 1 for n in by_message_id.values() if n > 1)
    figures["mails_sent"] = len(ours)
    figures["mails_doubled"] = doubled
    # SMTP has no idempotency: a mail accepted by the server in the instant before notifications records it
    # as sent is sent again after a kill -9, with the same Message-ID (receivers can drop it). At most the
    # mails in flight at each kill can be doubled; more would mean a real bug.
    kills = sum(1 for f in load.faults if f == "notifications") - sum(
        1 for s in load.stops if s["service"] == "notifications"
    )  # a graceful stop finishes its deliveries and records them: it may double nothing
    allowed = kills * MAIL_PARALLEL
    figures["mails_doubled_allowed_by_kills"] = allowed
    if doubled > allowed:
        failures.append(f"{doubled} mails were sent more than once (at most {allowed} could be, by {kills} kills)")
    expected = 0
    missing = 0
    for order_id, rec in load.acknowledged.items():
        kinds = []
        if rec["decided"] or states.get(order_id) == "pending_approval":
            kinds.append("approval request")
        if rec["decided"] == "approve":
            kinds.append("approved")
        if rec["decided"] == "reject":
            kinds.append("rejected")
        if order_id in load.left_waiting:
            kinds.append("approval request to the main contact")
        if order_id in load.reminded:
            kinds.append("reminder")
        mentioning = [m for m in ours if order_id in (m.get("text") or "")]
        expected += len(kinds)
        if len(mentioning) < len(kinds):
            missing += len(kinds) - len(mentioning)
    figures["mails_expected"] = expected
    figures["mails_missing"] = missing
    if missing:
        failures.append(f"{missing} expected mails did not arrive")

    if load.stops:
        figures["graceful_stops"] = load.stops
        for stop in load.stops:
            if not stop["graceful"]:
                failures.append(f"{stop['service']} did not exit within {STOP_GRACE:.0f}s of SIGTERM")

    figures.update(await check_prices(load, failures))

    letters: list[dict[str, str]] = []
    reasons = await dead_letters(since_ms, letters)
    figures["dead_letters_during_run"] = dict(reasons)
    if letters:
        figures["dead_letters"] = letters[:20]  # which consumer failed on what, and why
    if sum(reasons.values()):
        failures.append(f"dead-letter topics got {sum(reasons.values())} messages, none was poison: {dict(reasons)}")

    # An outage must never park an event (kc_runtime.parking): every service's parked list stays empty.
    parked = await parked_events()
    figures["parked_events"] = parked
    if any(parked.values()):  # -1: the list could not be read
        failures.append(f"events were parked during the run (or the list was unreadable), none was poison: {parked}")
    return figures, failures


IN_FLIGHT = {"released", "transmitted", "credit_hold"}


async def settle_orders(gw: httpx.AsyncClient, load: Load, timeout: float = 180) -> None:
    """Wait until none of the load's orders is still on its way (released or transmitted without the ERP's answer,
    or waiting for credit) as the buyers' lists show them: the orders the final credit raise let go reach the ERP
    just before the checks, and an order answered between reading it and listing it would count as a mismatch."""
    deadline = time.monotonic() + timeout
    while True:
        moving = 0
        for shop in load.shops:
            for headers in shop["buyers"]:
                offset = 0
                while True:
                    r = await gw.get("/api/orders", params={"limit": 200, "offset": offset}, headers=headers)
                    if r.status_code != 200:
                        moving += 1
                        break
                    page = r.json()
                    moving += sum(1 for o in page["items"] if o["status"] in IN_FLIGHT)
                    offset += 200
                    if offset >= page["total"]:
                        break
        if not moving:
            return
        if time.monotonic() > deadline:
            log(f"{moving} orders still on their way after {timeout:.0f}s; checking anyway")
            return
        await asyncio.sleep(1)


async def give_deadlines(gw: httpx.AsyncClient, shop: dict[str, Any]) -> None:
    """The first company's main contact sets its deadlines (ADR 0033)."""
    r = await gw.put("/api/approvals/deadlines", json=DEADLINES, headers=shop["main"])
    if r.status_code != 200:
        raise RuntimeError(f"the deadlines were not set: {r.status_code} {r.text[:200]}")


async def check_deadlines(gw: httpx.AsyncClient, load: Load, failures: list[str], timeout: float = 120) -> dict:
    """Every order left waiting was escalated to the main contact, and reminded at most once — none, when the timer
    was down until the escalation was due as well (only the furthest step due is taken). The timer may have been
    down at the end, so it is given time to catch up."""
    main_id = (await gw.get("/api/me", headers=load.shops[0]["main"])).json()["user"]["id"]
    buyers = {o: rec["buyer"] for o, rec in load.acknowledged.items()}
    deadline = time.monotonic() + timeout
    pending = set(load.left_waiting)
    done: dict[str, dict[str, Any]] = {}
    while pending and time.monotonic() < deadline:
        for order_id in sorted(pending):
            r = await gw.get(f"/api/orders/{order_id}", headers=buyers[order_id])
            if r.status_code == 200 and "EscalatedOnDeadline" in {t["event"] for t in r.json()["timeline"]}:
                done[order_id] = r.json()
        pending -= set(done)
        if pending:
            await asyncio.sleep(1)
    for order_id in sorted(pending):
        failures.append(f"deadlines: order {order_id} left waiting was not escalated")
    wrong = 0
    for order_id, order in done.items():
        taken = Counter(t["event"] for t in order["timeline"] if t["event"] in DEADLINE_STEPS)
        if taken["EscalatedOnDeadline"] != 1 or taken["Reminded"] > 1 or taken["Expired"]:
            failures.append(f"deadlines: order {order_id} took {dict(taken)}")
            wrong += 1
        if taken["Reminded"]:
            load.reminded.add(order_id)
        if main_id not in {a["id"] for a in order["approvers"]}:
            failures.append(f"deadlines: order {order_id} escalated but the main contact is not among its approvers")
    if not load.left_waiting:
        failures.append("deadlines: no order was left waiting (the check tested nothing)")
    elif not load.reminded:
        failures.append("deadlines: no order left waiting was reminded (the check tested nothing)")
    return {
        "orders_left_waiting": len(load.left_waiting),
        "escalated_once": len(done) - wrong,
        "reminded_once": len(load.reminded),
        "reminder_passed_over_for_the_escalation": len(done) - len(load.reminded),
    }


async def give_credit(gw: httpx.AsyncClient, shop: dict[str, Any], limit: Decimal, timeout: float = 120) -> None:
    """The ERP (the simulator's hook) sets the company's credit limit; wait until approval judges on it."""
    async with httpx.AsyncClient(base_url=ERP_SIMULATOR, timeout=10) as erp:
        r = await erp.put(f"/admin/customers/{shop['customer_number']}/credit",
                          json={"credit_limit": str(limit), "open_receivables": "0.00", "credit_blocked": False})  # fmt: skip
        r.raise_for_status()
    deadline = time.monotonic() + timeout
    while True:
        r = await gw.get("/api/orders/credit", headers=shop["main"])
        if r.status_code == 200 and r.json().get("known") and Decimal(r.json()["credit_limit"]) == limit:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"approval did not learn of the credit limit {limit}: {r.status_code} {r.text[:200]}")
        await asyncio.sleep(0.2)


async def check_credit(
    gw: httpx.AsyncClient, load: Load, states: dict[str, str], failures: list[str]
) -> dict[str, Any]:
    """After the limit was raised for good: nothing waits for credit any more, and every order that waited went
    on (or was rejected/cancelled as decided); the at-the-ERP-exactly-once check covers them like every order."""
    shop = load.shops[1]
    body = (await gw.get("/api/orders/credit", headers=shop["main"])).json()
    still = [o for o, s in states.items() if s == "credit_hold"]
    went_on = [o for o in load.held_for_credit if states.get(o) in AT_ERP]
    figures = {
        "orders_held_for_credit": len(load.held_for_credit),
        "held_then_at_erp": len(went_on),
        "still_waiting": len(still),
        "approvals_waiting_list": len(body.get("waiting", [])),
        "limit_raised_during_faults": load.credit_raises[True],
        "limit_raise_not_reached": load.credit_raises[False],
    }
    if still or body.get("waiting"):
        failures.append(f"credit: {len(still)} orders still wait for credit after the limit was raised for good")
    if not load.held_for_credit:
        failures.append("credit: no order ever waited for credit (the check tested nothing)")
    return figures


async def give_period_budgets(gw: httpx.AsyncClient, shops: list[dict[str, Any]], timeout: float = 120) -> None:
    """The first buyer of each company gets a monthly budget of ``PERIOD_BUDGET`` (beside the per-order limits),
    in force at approval before the load starts."""
    from bench.run import BENCH_BUDGET

    for shop in shops:
        buyer = shop["buyers"][0]
        me = await gw.get("/api/me", headers=buyer)
        me.raise_for_status()
        period_budget = {"period": "month", "max_value": {"amount": str(PERIOD_BUDGET), "currency": "EUR"}}
        r = await gw.put(f"/api/users/{me.json()['user']['id']}/budget", json={**BENCH_BUDGET, "period_budget": period_budget},
                         headers=shop["main"])  # fmt: skip
        r.raise_for_status()
        shop["period_buyer"] = buyer
        deadline = time.monotonic() + timeout
        while True:
            r = await gw.get("/api/orders/period-budget", headers=buyer)
            if r.status_code == 200 and r.json()["figures"] is not None:
                shop["period"] = r.json()["figures"]["period"]
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"approval did not learn of the period budget: {r.status_code} {r.text[:200]}")
            await asyncio.sleep(0.1)


async def check_period_budgets(gw: httpx.AsyncClient, load: Load, failures: list[str]) -> dict[str, Any]:
    """Each period buyer's ledger against their orders as they finally stand — every order of theirs, also one
    whose answer the load never got: reserved = the totals of orders released or on the way to the ERP, and of
    those waiting that fitted when submitted; consumed = the totals the ERP confirmed; rejected, cancelled and
    refused orders take nothing. Orders that fitted without an approver's word never sum above the budget."""
    figures: dict[str, Any] = {}
    for n, shop in enumerate(s for s in load.shops if "period_buyer" in s):
        buyer = shop["period_buyer"]
        now = (await gw.get("/api/orders/period-budget", headers=buyer)).json()["figures"]
        if now["period"] != shop["period"]:  # the run crossed into a new month: the ledger started again
            figures[f"buyer_{n}"] = f"not checked: the period changed from {shop['period']} to {now['period']}"
            continue
        orders: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = (await gw.get("/api/orders", params={"limit": 200, "offset": offset}, headers=buyer)).json()
            for item in page["items"]:
                r = await gw.get(f"/api/orders/{item['id']}", headers=buyer)
                r.raise_for_status()
                orders.append(r.json())
            offset += 200
            if offset >= page["total"]:
                break
        reserved = consumed = unapproved = Decimal(0)
        reserved_qty = consumed_qty = 0
        for o in orders:
            total, qty = Decimal(o["total"]["amount"]), o["total_quantity"]
            fitted = not any(x["limit"] in PERIOD_LIMITS for x in o["exceeded_limits"])
            status = o["status"]
            if status == "confirmed":
                consumed, consumed_qty = consumed + total, consumed_qty + qty
            elif status in ("released", "transmitted") or (status == "pending_approval" and fitted):
                reserved, reserved_qty = reserved + total, reserved_qty + qty
            if fitted and status in ("pending_approval", "released", "transmitted", "confirmed"):
                unapproved += total
        ledger = {
            "reserved": Decimal(now["reserved_value"]["amount"]),
            "consumed": Decimal(now["consumed_value"]["amount"]),
            "reserved_quantity": now["reserved_quantity"],
            "consumed_quantity": now["consumed_quantity"],
        }
        expected = {"reserved": reserved, "consumed": consumed, "reserved_quantity": reserved_qty,
                     "consumed_quantity": consumed_qty}  # fmt: skip
        figures[f"buyer_{n}"] = {
            "orders": len(orders),
            "held_for_the_period_budget": sum(
                1 for o in orders if any(x["limit"] in PERIOD_LIMITS for x in o["exceeded_limits"])
            ),
            "ledger": {k: str(v) for k, v in ledger.items()},
            "taken_without_approval": str(unapproved),
        }
        if ledger != expected:
            failures.append(f"period budget of buyer {n}: ledger {ledger}, the orders say {expected}")
        if unapproved > PERIOD_BUDGET:
            failures.append(f"period budget of buyer {n}: {unapproved} taken without approval, budget {PERIOD_BUDGET}")
    return figures


async def parked_events() -> dict[str, int]:
    """Parked events per service (GET /ops/parked with the development profile's operator tokens)."""
    from kc_runtime.ops import development_ops_token

    ports = {"registration": 8101, "users": 8102, "approval": 8103, "erp-sync": 8104, "notifications": 8105}
    found: dict[str, int] = {}
    async with httpx.AsyncClient(timeout=10) as client:
        for service, port in ports.items():
            token = os.environ.get(f"{service.upper().replace('-', '_')}_OPS_TOKEN") or development_ops_token(service)
            r = await client.get(f"http://127.0.0.1:{port}/ops/parked", headers={"Authorization": f"Bearer {token}"})
            found[service] = len(r.json()) if r.status_code == 200 else -1
    return found


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("CHAOS_SECONDS", 120)))
    parser.add_argument("--buyers", type=int, default=int(os.environ.get("CHAOS_BUYERS", 8)))
    parser.add_argument("--seed", type=int, default=int(os.environ.get("CHAOS_SEED", random.randrange(1 << 30))))
    parser.add_argument("--quick", action="store_true", help="a short run (part of make test)")
    parser.add_argument(
        "--signal",
        choices=("kill", "term"),
        default=os.environ.get("CHAOS_SIGNAL", "kill"),
        help="kill: kill -9 services, Kafka, PostgreSQL and cut the ERP off; term: SIGTERM each service (graceful)",
    )
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.buyers = min(args.seconds, 45.0), 4
    rng = random.Random(args.seed)
    log(f"seed {args.seed}; {args.seconds:.0f}s of load with {args.buyers} buyers; faults: {args.signal}")
    since_ms = int(time.time() * 1000)
    async with httpx.AsyncClient(base_url=GATEWAY, timeout=30) as gw:
        shops = await setup_companies(gw, companies=2, buyers_per_company=max(1, args.buyers // 2))
        await give_period_budgets(gw, shops)
        await give_credit(gw, shops[1], CREDIT_START)
        await give_deadlines(gw, shops[0])
        load = Load(gw, shops)
        buyers = [
            asyncio.create_task(load.buyer(shop, h, n))
            for n, (shop, h) in enumerate((s, b) for s in shops for b in s["buyers"])
        ]
        buyers.append(asyncio.create_task(load.prices(random.Random(rng.random()))))
        buyers.append(asyncio.create_task(load.credit(shops[1])))
        fault_task = asyncio.create_task(faults(load, args.seconds, args.quick, rng, args.signal))
        # the load runs for the given time, and at least until every fault was injected and recovered
        await asyncio.gather(asyncio.sleep(args.seconds), asyncio.shield(fault_task))
        load.stop.set()
        await asyncio.gather(*buyers)
        injected = await fault_task
    log("load stopped; bringing everything up and waiting for the system to settle")
    await asyncio.to_thread(stack.up)
    async with httpx.AsyncClient(base_url=GATEWAY, timeout=30) as gw:
        await give_credit(gw, shops[1], CREDIT_FOR_GOOD, timeout=180)
        await quiesce()
        await settle_orders(gw, load)
    await quiesce()
    figures, failures = await check(load, since_ms)
    figures.update({"seed": args.seed, "seconds": args.seconds, "faults": injected, "signal": args.signal,
                    "request_failures_during_faults": dict(load.failures)})  # fmt: skip
    print(json.dumps(figures, indent=2, sort_keys=True))
    out = ROOT / "bench" / "results" / f"chaos-{args.signal}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"figures": figures, "failures": failures}, indent=2) + "\n")
    for f in failures[:30]:
        print(f"FAILED: {f}")
    print(f"chaos: {'FAILED' if failures else 'ok'} ({len(failures)} failed checks)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
