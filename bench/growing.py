"""Approval's CPU per order as a buyer's period budget and the company's credit fill up (issue 15).

Every order reads and changes two aggregates that grow with the orders: the buyer's ledger of the period (an entry
per order of the month) and the company's credit (its orders the ERP's figures do not hold yet). This measures what
an order costs approval's process as they grow: a database of its own on the stack's PostgreSQL, migrated like the
service's; one company with credit figures from the ERP and a buyer with a monthly period budget; ``--orders``
submissions through the application (``Orders.submit`` inside ``one_read``, as the HTTP request runs it), each timed
in the process's CPU (``time.process_time``: PostgreSQL's own work is not in it) and in wall time. Nothing reaches
Kafka; the database is dropped afterwards.

Prints, per window of orders, the median CPU and wall milliseconds per order and the ledger's and credit's versions,
then the versions the two were snapshotted at (ADR 0032).

    .venv/bin/python bench/growing.py --orders 600
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.run import PG_ADMIN  # noqa: E402


def measure(dsn: str, count: int, window: int) -> None:
    from approval.application.orders import Orders
    from approval.domain.budget import Budget, Period, PeriodBudget
    from approval.domain.credit import CompanyCredit, CreditFigures
    from approval.domain.ledger import BudgetLedger
    from approval.domain.model import OrderStatus
    from approval.settings import ApprovalSettings
    from tests.service.approval.test_orders_application import order
    from tests.support.approval import Company

    orders = Orders(env={**ApprovalSettings(database_url=dsn).eventsourcing_env(), "POSTGRES_POOL_SIZE": "2"})
    try:
        company = Company(orders)
        budget = Budget(period=PeriodBudget("month", Decimal(count * 10 + 1000), "EUR", count * 10))
        buyer = company.member("buyer", ["place_orders"], budget)
        figures = CreditFigures("EUR", Decimal(count * 100), Decimal(0), Decimal(0), False, datetime.now(UTC))
        orders.save(*orders.credit.figures_changed(company.id, figures))
        ledger_id = BudgetLedger.create_id(buyer.id, Period.of("month", datetime.now(UTC)).key)
        credit_id = CompanyCredit.create_id(company.id)
        cpu: list[float] = []
        wall: list[float] = []
        print(f"{'orders':>12} {'cpu ms/order':>13} {'wall ms/order':>14} {'ledger v':>9} {'credit v':>9}")
        for n in range(1, count + 1):
            c0, w0 = time.process_time(), time.perf_counter()
            with orders.one_read():
                placed = orders.submit(buyer, order(1))
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - w0)
            assert placed.status is OrderStatus.RELEASED, placed.status
            if n % window == 0:
                versions = orders.latest_versions([ledger_id, credit_id])
                print(
                    f"{n - window + 1:>5}-{n:<6} {statistics.median(cpu) * 1000:>13.2f} "
                    f"{statistics.median(wall) * 1000:>14.2f} {versions.get(ledger_id, 0):>9} "
                    f"{versions.get(credit_id, 0):>9}",
                    flush=True,
                )
                cpu.clear()
                wall.clear()
        kept = {name: [s.originator_version for s in orders.snapshots.get(i)] for name, i in
                (("ledger", ledger_id), ("credit", credit_id))}  # fmt: skip
        print("snapshots stored at versions:", kept)
    finally:
        orders.close()


async def scratch(count: int, window: int) -> None:
    from kc_runtime import migrations

    name = f"growing_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    try:
        versions = migrations.history("approval")
        assert versions is not None
        await asyncio.to_thread(migrations.upgrade, versions, dsn)
        await asyncio.to_thread(measure, dsn, count, window)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=600)
    parser.add_argument("--window", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(scratch(args.orders, args.window))
    return 0


if __name__ == "__main__":
    sys.exit(main())
