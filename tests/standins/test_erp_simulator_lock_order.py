"""The ERP simulator's writers lock in one order — the outbox first, then a customer's row — so a change made in the
ERP never deadlocks with a consumer batch that has queued an answer (holding the outbox) and then locks the same
customer (an activation). It did: the ERP change got a 500 after PostgreSQL's ``deadlock_timeout`` (CI, stop 28,
``tests/journeys/test_erp_contacts.py``). On the PostgreSQL of the local stack, a database of its own."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from standins.erp_simulator import db
from standins.erp_simulator.seed import SEED_CUSTOMERS
from tests.conftest import eventually
from tests.standins.test_erp_simulator_prices import World, world  # noqa: F401  (the fixture)

CHANGES: list[tuple[str, str, dict[str, Any]]] = [
    ("post", "contacts", {"email": "nora@example.com", "first_name": "Nora", "last_name": "Neu"}),
    ("put", "credit", {"credit_limit": "1000"}),
    ("post", "master-data", {"name": "Umbenannt GmbH"}),
    ("post", "invoices", {}),
    ("put", "prices/A-100", {"unit_price": "9.90"}),
]


async def _until_someone_waits_for_the_outbox(pool: asyncpg.Pool) -> None:
    async def waiting() -> bool:
        return bool(
            await pool.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = $1",
                db.OUTBOX_LOCK & 0xFFFFFFFF,
            )
        )

    await eventually(waiting, timeout=5, interval=0.02, what="the ERP change to wait for the outbox's lock")


@pytest.mark.parametrize(("method", "path", "body"), CHANGES, ids=[c[1].split("/")[0] for c in CHANGES])
async def test_an_erp_change_and_a_consumer_batch_locking_the_same_customer_both_complete(
    world: World,  # noqa: F811
    method: str,
    path: str,
    body: dict[str, Any],
):
    await db.seed(world.pool, SEED_CUSTOMERS)
    number = SEED_CUSTOMERS[0]["customer_number"]
    async with db.sending(world.pool) as batch:  # a consumer batch that has queued an answer
        change = asyncio.create_task(world.http.request(method, f"/admin/customers/{number}/{path}", json=body))
        await _until_someone_waits_for_the_outbox(world.pool)
        await batch.execute("SET LOCAL lock_timeout = '3s'")
        # the batch's next message locks the customer (as an activation does); with the change holding the row and
        # waiting for the outbox, this is a deadlock (or the lock timeout)
        locked = await batch.fetchval(
            "SELECT customer_number FROM customers WHERE customer_number = $1 FOR UPDATE", number
        )
        assert locked == number
    answer = await asyncio.wait_for(change, timeout=10)
    assert answer.status_code in (200, 201), answer.text
