"""Every consumer of users.users.v1 takes ``UserErased`` (ADR 0035) in its stride: until each service scrubs what it
keeps of the person (a later step), the message is read, counted as ignored and its offset committed — no handler
runs, nothing is stored, nothing goes to the dead-letter topic, and the next message is handled as before.

The services that scrub already are named in ``SCRUBBING`` with the test of their handler."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest

from approval.adapters.inbound.kafka import consumer_specs as approval_specs
from approval.application.orders import Orders
from contracts.topics import USERS_USERS
from contracts.users.v1 import UserDeactivated, UserErased
from erp_sync.adapters.inbound.kafka import exchange_consumer_specs as erp_sync_specs
from erp_sync.application.exchanges import Exchanges
from kc_runtime import metrics
from kc_runtime.consumer import ConsumerSpec, IdempotentConsumer
from kc_runtime.eventstore import ServiceApplication, WorkerPool
from notifications.adapters.inbound.kafka import consumer_specs as notifications_specs
from notifications.application.mails import Mails
from registration.adapters.inbound.kafka import consumer_specs as registration_specs
from registration.application.registrations import Registrations
from tests.service.users.test_registration_consumer import FakeBatch, RecordingBroker
from tests.support.messages import consumer_record

MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


def _erp_sync() -> tuple[ServiceApplication, list[ConsumerSpec]]:
    exchanges = Exchanges(env=MEMORY)
    return exchanges, erp_sync_specs(exchanges)


SERVICES: dict[str, Callable[[], tuple[ServiceApplication, list[ConsumerSpec]]]] = {
    "erp-sync": _erp_sync,
}

SCRUBBING: dict[str, str] = {
    "approval": "tests/service/approval/test_erasure.py",
    "notifications": "tests/service/notifications/test_erasure.py",
    "registration": "tests/service/registration/test_erasure.py",
}
"""Services whose consumer handles ``UserErased`` (their scrubbing step is built), and where that is tested."""


def test_every_consumer_of_the_users_topic_is_tested_here():
    assert set(USERS_USERS.consumers) == set(SERVICES) | set(SCRUBBING)
    assert not set(SERVICES) & set(SCRUBBING)


def test_the_services_that_scrub_handle_user_erased():
    (spec,) = [s for s in notifications_specs(Mails(env=MEMORY)) if s.topic is USERS_USERS]
    assert UserErased in spec.handlers
    (spec,) = [s for s in approval_specs(Orders(env=MEMORY), lambda _company: []) if s.topic is USERS_USERS]
    assert UserErased in spec.handlers
    (spec,) = [s for s in registration_specs(Registrations(env=MEMORY)) if s.topic is USERS_USERS]
    assert UserErased in spec.handlers


def ignored(service: str) -> float:
    return metrics.CONSUMED.labels(service, USERS_USERS.name, "ignored")._value.get()


@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_user_erased_is_ignored_and_committed(service: str):
    app, specs = SERVICES[service]()
    (spec,) = [s for s in specs if s.topic is USERS_USERS]
    assert UserErased not in spec.handlers
    broker = RecordingBroker()
    consumer = IdempotentConsumer(
        service=service, group_id=service, app=app, broker=broker,  # type: ignore[arg-type]
        blocking=WorkerPool(2), spec=spec, max_attempts=2, backoff_initial_s=0.01,
    )  # fmt: skip
    company_id, user_id = uuid4(), uuid4()
    erased = UserErased(user_id=user_id, company_id=company_id, erased_at=datetime.now(UTC), changed_by=uuid4())
    before, stored = ignored(service), app.max_notification_id()

    batch = FakeBatch((record(erased, offset=1),))
    await consumer.handle(batch)

    assert ignored(service) == before + 1
    assert app.max_notification_id() == stored and broker.published == [] and batch.acked == 1
    # and the consumer goes on with the next message of the partition (handled or not, never dead-lettered)
    after: Any = UserDeactivated(user_id=user_id, company_id=company_id)
    await consumer.handle(FakeBatch((record(after, offset=2),)))
    assert broker.published == []


def record(message: Any, offset: int) -> Any:
    return consumer_record(
        message, topic=USERS_USERS.name, key=str(message.company_id), producer="users",
        notification_id=offset, offset=offset, correlation_id="c",
    )  # fmt: skip
