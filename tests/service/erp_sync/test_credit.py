"""The ERP's credit figures of a customer reach approval on erp-sync.customers.v1 (ADR 0026): once per change, the
newest ``as_of`` wins, and what the ERP sent before the registration follows with it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from uuid import uuid4

from contracts.erp import v1 as erp
from contracts.erp_sync import v1 as sync_wire
from contracts.topics import ERP_INBOUND_CUSTOMER_CREDIT, REGISTRATION_REGISTRATIONS
from tests.service.erp_sync.test_customers_for_users import for_users
from tests.service.erp_sync.test_erp_exchange import T0, ErpSync, registration


def credit(number: str, minutes: int, limit: str, receivables: str = "0", **kw) -> erp.CustomerCreditChanged:
    fields = dict(
        idempotency_key=f"credit/{number}/{minutes}", customer_number=number, currency="EUR",
        credit_limit=Decimal(limit), open_receivables=Decimal(receivables), as_of=T0 + timedelta(minutes=minutes),
    )  # fmt: skip
    return erp.CustomerCreditChanged(**{**fields, **kw})


async def test_a_customers_credit_reaches_approval_once_per_change_newest_as_of_winning():
    sync, company = ErpSync(), uuid4()
    await sync.deliver(REGISTRATION_REGISTRATIONS, "10001", registration(company))
    for msg in (
        credit("10001", 1, "1000"),
        credit("10001", 1, "1000"),  # the ERP sent the same figures twice
        credit("10001", 2, "1000", "250", open_orders=Decimal("100")),
        credit("10001", 0, "99999"),  # taken before what erp-sync has: changes nothing
        credit("10001", 3, "1000", "250", open_orders=Decimal("100"), credit_blocked=True),
    ):
        await sync.deliver(ERP_INBOUND_CUSTOMER_CREDIT, "10001", msg, producer="erp")

    sent = for_users(sync, sync_wire.CompanyCreditChanged)
    assert [(c.credit_limit, c.open_receivables, c.open_orders, c.credit_blocked, c.as_of) for c in sent] == [
        (Decimal("1000"), Decimal("0"), Decimal("0"), False, T0 + timedelta(minutes=1)),
        (Decimal("1000"), Decimal("250"), Decimal("100"), False, T0 + timedelta(minutes=2)),
        (Decimal("1000"), Decimal("250"), Decimal("100"), True, T0 + timedelta(minutes=3)),
    ]
    assert {(c.company_id, c.customer_number, c.currency) for c in sent} == {(company, "10001", "EUR")}


async def test_credit_sent_before_the_registration_reaches_approval_with_it():
    sync, company = ErpSync(), uuid4()
    await sync.deliver(ERP_INBOUND_CUSTOMER_CREDIT, "30003", credit("30003", 1, "500", "20"), producer="erp")
    await sync.deliver(ERP_INBOUND_CUSTOMER_CREDIT, "30003", credit("30003", 2, "700", "20"), producer="erp")
    assert for_users(sync, sync_wire.CompanyCreditChanged) == []  # no company yet

    await sync.deliver(REGISTRATION_REGISTRATIONS, "30003", registration(company, "30003"))
    (handed_on,) = for_users(sync, sync_wire.CompanyCreditChanged)
    assert (handed_on.company_id, handed_on.credit_limit, handed_on.open_receivables) == (
        company, Decimal("700"), Decimal("20"),
    )  # fmt: skip
    assert handed_on.as_of == T0 + timedelta(minutes=2)
