"""The ERP's credit figures arrive while orders keep taking the same company's credit (every order changes the
``CompanyCredit``): the consumer's save loses to those concurrent changes again and again, reloads and applies the
figures in the end — never a dead letter for contention (kc_runtime.consumer, ``max_conflicts``); a handler that
really fails still ends in the dead-letter topic after ``max_attempts``. Found by ``make chaos`` (the credit in the
load mix): a figures message dead-lettered after five conflicts in a row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

from approval.adapters.inbound.kafka import consumer_specs
from approval.application.orders import Orders
from approval.domain.credit import CompanyCredit, CreditFigures
from contracts.erp_sync import v1 as erp_sync
from contracts.topics import ERP_SYNC_CUSTOMERS
from kc_runtime.consumer import IdempotentConsumer
from kc_runtime.eventstore import WorkerPool
from tests.service.approval.test_erp_batches import FakeBatch, RecordingBroker
from tests.support.approval import Company
from tests.support.messages import consumer_record

T0 = datetime(2026, 12, 6, 8, tzinfo=UTC)
MAX_ATTEMPTS = 3


def consumer(orders: Orders, broker: RecordingBroker) -> IdempotentConsumer:
    return IdempotentConsumer(
        service="approval", group_id="approval", app=orders, broker=broker,  # type: ignore[arg-type]
        blocking=WorkerPool(2), specs=consumer_specs(orders, lambda company_id: []), max_attempts=MAX_ATTEMPTS,
        backoff_initial_s=0.001, backoff_max_s=0.002,
    )  # fmt: skip


def figures_message(company: Company, limit: str, minutes: int) -> erp_sync.CompanyCreditChanged:
    return erp_sync.CompanyCreditChanged(
        company_id=company.id, customer_number=company.customer_number, currency="EUR",
        credit_limit=Decimal(limit), open_receivables=Decimal("0"), as_of=T0 + timedelta(minutes=minutes),
    )  # fmt: skip


def deliver(c: IdempotentConsumer, message, notification_id: int):
    record = consumer_record(
        message, topic=ERP_SYNC_CUSTOMERS.name, key=str(message.company_id), notification_id=notification_id,
        producer="erp-sync", offset=notification_id,
    )  # fmt: skip
    return c.handle(FakeBatch((record,)))


def credit(orders: Orders, company: Company) -> CompanyCredit:
    return orders.repository.get(CompanyCredit.create_id(company.id))


async def test_figures_that_lose_to_concurrent_orders_many_times_are_applied_in_the_end(orders, monkeypatch):
    company = Company(orders)
    orders.save(*orders.credit.figures_changed(company.id, CreditFigures(
        "EUR", Decimal("1000"), Decimal("0"), Decimal("0"), False, T0)))  # fmt: skip
    original = orders.credit.figures_changed
    interleaved = []

    def busy(company_id, figures):  # an order takes credit between the handler's read and its save
        changed = original(company_id, figures)
        if len(interleaved) < MAX_ATTEMPTS * 3:
            other = orders.repository.get(CompanyCredit.create_id(company_id))
            other.take(uuid4(), Decimal("1"))
            orders.save(other)
            interleaved.append(other.version)
        return changed

    monkeypatch.setattr(orders.credit, "figures_changed", busy)
    broker = RecordingBroker()
    await deliver(consumer(orders, broker), figures_message(company, "5000", 5), 1)
    assert len(interleaved) == MAX_ATTEMPTS * 3  # lost that often, more than a failing handler may
    assert broker.published == []  # nothing dead-lettered
    now = credit(orders, company)
    assert now.figures is not None and now.figures.credit_limit == Decimal("5000")
    assert len(now.exposure) == MAX_ATTEMPTS * 3  # every concurrent order's part kept


async def test_a_handler_that_fails_is_still_dead_lettered_after_max_attempts(orders, monkeypatch):
    company = Company(orders)
    calls = []

    def broken(company_id, figures):
        calls.append(1)
        raise ValueError("a bug in the handler")

    monkeypatch.setattr(orders.credit, "figures_changed", broken)
    broker = RecordingBroker()
    await deliver(consumer(orders, broker), figures_message(company, "5000", 5), 1)
    assert len(calls) == MAX_ATTEMPTS
    assert [topic for topic, _ in broker.published] == [ERP_SYNC_CUSTOMERS.dlt]
