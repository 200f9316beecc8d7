"""Beyond one machine, by calculation: what 1×, 10× and 100× of issue 15's target (1,000 orders/s) need.

The model (docs/adr/0015-scaling-the-write-path.md explains it) takes this machine's measured figures — from a
`make bench` result file (``--result``; default: the newest full run in bench/results/) or the defaults below — and
works out, per target rate:

  * CPU: cores = rate × server CPU per order ÷ utilisation (work spreads over HTTP replicas and consumers freely);
  * the event store: every service writes through one serialised insert point per store (eventsourcing locks the
    table so the notification log has no gaps), so a store takes at most ``lock_commits_per_s`` commits; a command
    from HTTP is a commit of its own, a consumer batch one commit for many messages — stores needed = commits ÷
    (ceiling × headroom), i.e. shards of the store by company;
  * the relay: one active per store, publishing ``events_per_order`` events per order at up to ``relay_events_per_s``;
  * Kafka: partitions per topic so each consumer instance takes at most ``consumer_msgs_per_s``, and at least one per
    store (a shard's events keep their order on their own partitions).

Run: ``.venv/bin/python bench/scale.py [--result FILE] [--target 1000]``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Machine:
    """This machine's figures (defaults: the quiet-machine table of ARCHITECTURE.md §7 and the bench of issue 15)."""

    cpu_ms_per_order: float = 45.0
    """server CPU per order of the mix (services, PostgreSQL, Kafka, gateway)"""
    lock_commits_per_s: float = 1700.0
    """PostgreSQL commits/s under an exclusive table lock, 16 clients: the ceiling of one event store"""
    http_commits_per_order: float = 1.2
    """approval: one commit per submission, and one per decision (a fifth of the orders)"""
    batched_commits_per_order: float = 0.05
    """consumers and followers: one commit per fetched batch (~20 messages at load)"""
    events_per_order: float = 4.0
    """approval's events per order: submitted, released, transmitted, confirmed"""
    relay_events_per_s: float = 3000.0
    """one relay: read the log, translate, produce (acks=all) — bounded by the bulk store rate measured"""
    consumer_msgs_per_s: float = 1500.0
    """one consumer instance of erp-sync, batched (messages per second it applies)"""
    utilisation: float = 0.6
    headroom: float = 0.5
    """share of a store's commit ceiling planned for (the rest absorbs bursts and replays)"""


def from_result(path: Path, machine: Machine) -> Machine:
    result: dict[str, Any] = json.loads(path.read_text())
    steps = [s for s in result.get("order_flow", {}).get("steps", []) if s.get("load") == "mix" and not s["not_at_erp"]]
    if steps:
        best = max(steps, key=lambda s: s["end_to_end_orders_per_s"])
        machine.cpu_ms_per_order = best["server_cpu_ms_per_order"] - best.get("idle_share_ms_per_order", 0.0)
    followed = result.get("history", {}).get("followed_events_per_s")
    if followed and followed == followed:
        machine.relay_events_per_s = followed
    locked = result.get("ceilings", {}).get("pg_commits_per_s_exclusive_lock")
    if locked:
        machine.lock_commits_per_s = locked
    return machine


def plan(rate: float, m: Machine) -> dict[str, float]:
    cores = rate * m.cpu_ms_per_order / 1000 / m.utilisation
    commits = rate * (m.http_commits_per_order + m.batched_commits_per_order)
    stores = max(1, math.ceil(commits / (m.lock_commits_per_s * m.headroom)))
    relay_stores = max(1, math.ceil(rate * m.events_per_order / (m.relay_events_per_s * m.headroom)))
    shards = max(stores, relay_stores)
    partitions = max(shards, math.ceil(rate / (m.consumer_msgs_per_s * m.headroom)))
    return {
        "orders_per_s": rate,
        "cores": cores,
        "machines_of_16_cores": math.ceil(cores / 16),
        "approval_commits_per_s": commits,
        "store_shards_for_commits": stores,
        "store_shards_for_relay": relay_stores,
        "store_shards": shards,
        "relays": shards,
        "partitions_per_topic": partitions,
    }


def latest_result() -> Path | None:
    runs = sorted(p for p in (ROOT / "bench" / "results").glob("20*.json") if "quick" not in p.name)
    return runs[-1] if runs else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--result", type=Path, default=None, help="a make bench result (default: the newest)")
    parser.add_argument("--target", type=float, default=1000.0, help="orders/s of 1× (issue 15: 1,000)")
    parser.add_argument("--defaults", action="store_true", help="use the built-in figures, not a result file")
    args = parser.parse_args()
    machine = Machine()
    source = "built-in figures"
    result = None if args.defaults else (args.result or latest_result())
    if result is not None:
        machine = from_result(result, machine)
        source = str(result.relative_to(ROOT) if result.is_relative_to(ROOT) else result)
    print(f"figures ({source}):")
    for f in fields(machine):
        print(f"  {f.name:<28} {getattr(machine, f.name):>10,.2f}")
    rows = [plan(args.target * k, machine) for k in (1, 10, 100)]
    print()
    print(f"  {'orders/s':>9} {'cores':>8} {'16-core':>8} {'commits/s':>10} {'shards':>7} {'(commits':>9} {'relay)':>7}"
          f" {'partitions':>10}")  # fmt: skip
    for r in rows:
        print(
            f"  {r['orders_per_s']:>9,.0f} {r['cores']:>8,.1f} {r['machines_of_16_cores']:>8}"
            f" {r['approval_commits_per_s']:>10,.0f} {r['store_shards']:>7} {r['store_shards_for_commits']:>9}"
            f" {r['store_shards_for_relay']:>7} {r['partitions_per_topic']:>10}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
