"""The ERP simulator's credit test hook (ADR 0026) on the PostgreSQL of the local stack (a database of its own,
dropped afterwards; no Kafka): each change of a customer's credit is a new version, sent on the ERP's customer-credit
topic with the figures as they now stand; a customer without credit has none."""

from __future__ import annotations

from decimal import Decimal

from contracts.erp.v1 import CustomerCreditChanged, SalesOrderConfirmed
from contracts.topics import ERP_INBOUND_CUSTOMER_CREDIT, ERP_OUTBOUND_SALES_ORDERS
from standins.erp_simulator import db
from standins.erp_simulator.seed import SEED_CUSTOMERS
from tests.standins.test_erp_simulator import _envelope, _sales_order
from tests.standins.test_erp_simulator_prices import FakeFetch, World, world  # noqa: F401  (the fixture)
from tests.support.messages import consumer_record


async def test_each_credit_change_is_sent_whole_as_a_new_version(world: World):  # noqa: F811
    await db.seed(world.pool, SEED_CUSTOMERS)
    number = SEED_CUSTOMERS[0]["customer_number"]
    assert (await world.http.get(f"/customers/{number}/credit")).status_code == 404  # never sent: no credit check

    first = await world.http.put(f"/admin/customers/{number}/credit", json={"credit_limit": "100.00"})
    assert first.status_code == 200, first.text
    second = await world.http.put(f"/admin/customers/{number}/credit", json={"credit_blocked": True})
    assert second.status_code == 200, second.text
    third = await world.http.put(
        f"/admin/customers/{number}/credit", json={"credit_limit": "5000", "open_receivables": "120.50"}
    )
    assert third.status_code == 200, third.text

    sent = [r for r in await world.sent() if r["topic"] == ERP_INBOUND_CUSTOMER_CREDIT.name]
    assert [r["key"] for r in sent] == [number] * 3
    messages = [CustomerCreditChanged.model_validate(r["payload"]) for r in sent]
    assert [(m.credit_limit, m.open_receivables, m.credit_blocked) for m in messages] == [
        (Decimal("100.00"), Decimal("0"), False),
        (Decimal("100.00"), Decimal("0"), True),  # left out: unchanged
        (Decimal("5000"), Decimal("120.50"), True),
    ]
    assert [m.idempotency_key for m in messages] == [f"credit/{number}/{v}" for v in (1, 2, 3)]
    assert messages[0].as_of < messages[1].as_of < messages[2].as_of
    assert {m.currency for m in messages} == {"EUR"}
    now = (await world.http.get(f"/customers/{number}/credit")).json()
    assert (Decimal(str(now["credit_limit"])), now["credit_blocked"], now["version"]) == (Decimal("5000"), True, 3)


async def test_credit_of_an_unknown_customer_or_with_bad_figures_is_refused(world: World):  # noqa: F811
    assert (await world.http.put("/admin/customers/99999999/credit", json={"credit_limit": "1"})).status_code == 404
    await db.seed(world.pool, SEED_CUSTOMERS)
    number = SEED_CUSTOMERS[0]["customer_number"]
    bad = await world.http.put(f"/admin/customers/{number}/credit", json={"credit_limit": "-5"})
    assert bad.status_code == 422
    assert [r for r in await world.sent() if r["topic"] == ERP_INBOUND_CUSTOMER_CREDIT.name] == []


async def test_a_confirmed_sales_order_is_counted_in_open_orders_and_the_credit_sent_again(world: World):  # noqa: F811
    await db.seed(world.pool, SEED_CUSTOMERS)
    number = SEED_CUSTOMERS[0]["customer_number"]
    await world.http.put(f"/admin/customers/{number}/credit", json={"credit_limit": "1000", "open_orders": "100"})
    request = _sales_order().model_copy(update={"customer_number": number})  # 25.00 EUR
    record = consumer_record(
        request, topic=ERP_OUTBOUND_SALES_ORDERS.name, key=str(request.order_id), headers=_envelope().to_headers()
    )
    fetch = FakeFetch((record, record))  # and a copy: counted once
    await world.simulator.consumer.handle(fetch)  # type: ignore[arg-type]

    sent = await world.sent()
    (answer,) = [
        SalesOrderConfirmed.model_validate(r["payload"]) for r in sent if r["event_type"] == "SalesOrderConfirmed"
    ]
    credit = [
        CustomerCreditChanged.model_validate(r["payload"])
        for r in sent
        if r["topic"] == ERP_INBOUND_CUSTOMER_CREDIT.name
    ]
    assert [c.open_orders for c in credit] == [Decimal("100"), Decimal("125.00")]
    assert credit[-1].as_of >= answer.confirmed_at  # taken after the confirmation: it includes the order


async def test_a_sales_order_of_a_customer_without_credit_sends_no_credit(world: World):  # noqa: F811
    await db.seed(world.pool, SEED_CUSTOMERS)
    request = _sales_order().model_copy(update={"customer_number": SEED_CUSTOMERS[0]["customer_number"]})
    record = consumer_record(
        request, topic=ERP_OUTBOUND_SALES_ORDERS.name, key=str(request.order_id), headers=_envelope().to_headers()
    )
    await world.simulator.consumer.handle(FakeFetch((record,)))  # type: ignore[arg-type]
    assert [r for r in await world.sent() if r["topic"] == ERP_INBOUND_CUSTOMER_CREDIT.name] == []
