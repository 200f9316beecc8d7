"""users consumes RegistrationCompleted: one company and main contact per company, duplicates skipped."""

from dataclasses import dataclass

import pytest

from contracts.registration.v1 import RegistrationCompleted
from contracts.topics import REGISTRATION_REGISTRATIONS
from contracts.users.v1 import CompanyRegistrationRefused
from kc_runtime.consumer import IdempotentConsumer
from kc_runtime.eventstore import WorkerPool
from tests.support.messages import consumer_record
from tests.support.users import erp_contact, registration, signed_in
from users.adapters.inbound.kafka import consumer_specs
from users.adapters.outbound.translator import translate
from users.application.directory import Directory


@dataclass
class FakeBatch:
    raw_message: tuple
    acked: int = 0

    async def ack(self) -> None:
        self.acked += 1


class RecordingBroker:
    def __init__(self) -> None:
        self.published: list[tuple[str, bytes, dict]] = []

    async def publish(self, body, topic, key=None, headers=None):
        self.published.append((topic, body, headers or {}))


def record(msg: RegistrationCompleted, notification_id: int, offset: int = 0, body: bytes | None = None):
    return consumer_record(
        msg, topic=REGISTRATION_REGISTRATIONS.name, key=msg.company.customer_number,
        notification_id=notification_id, producer="registration", offset=offset, body=body,
    )  # fmt: skip


@pytest.fixture
def consumer():
    directory = Directory(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    specs = consumer_specs(directory)
    broker = RecordingBroker()
    c = IdempotentConsumer(
        service="users",
        group_id="users",
        app=directory,
        broker=broker,  # type: ignore[arg-type]
        blocking=WorkerPool(2),
        specs=specs,
        max_attempts=2,
        backoff_initial_s=0.01,
    )
    return c, directory, broker


async def test_a_completed_registration_creates_the_company_and_its_main_contact(consumer):
    c, directory, _ = consumer
    msg = registration(erp_contacts=[erp_contact()])
    await c.handle(FakeBatch((record(msg, 1),)))
    actor = directory.authenticate(signed_in(str(msg.main_contact.email)))
    assert actor.company_id == msg.company_id and actor.is_main_contact
    company = directory.company(actor)
    assert company.customer_number == msg.company.customer_number
    assert [x.erp_contact_id for x in company.erp_contacts] == [msg.erp_contacts[0].erp_contact_id]


async def test_a_redelivered_or_repeated_completion_creates_nothing_more(consumer):
    c, directory, _ = consumer
    msg = registration()
    await c.handle(FakeBatch((record(msg, 1, 0), record(msg, 1, 1))))
    await c.handle(FakeBatch((record(msg, 2, 2),)))  # the same company completed again, later
    assert directory.max_notification_id() == 4  # Company.Created, User.Created, KeyClaim.Claimed, ErpInbox.Opened
    assert directory.max_tracking_id(f"registration/{REGISTRATION_REGISTRATIONS.name}/0") == 2


async def test_an_invalid_completion_goes_to_the_dead_letter_topic(consumer):
    c, directory, broker = consumer
    msg = registration()
    await c.handle(FakeBatch((record(msg, 1, body=b'{"company_id": "nope"}'),)))
    assert [t for t, _, _ in broker.published] == [REGISTRATION_REGISTRATIONS.dlt]
    assert directory.max_notification_id() == 0


async def test_a_completion_whose_main_contact_is_a_user_already_is_refused_never_dead_lettered(consumer):
    c, directory, broker = consumer
    first = registration()
    second = registration(email=str(first.main_contact.email).upper())
    await c.handle(FakeBatch((record(first, 1, 0), record(second, 2, 1))))
    await c.handle(FakeBatch((record(second, 2, 2),)))  # redelivered: refused once
    assert broker.published == []
    assert directory.read_model.company(second.company_id) is None  # nothing created
    refusals = [
        o.message
        for _, event, _ in directory.notifications(0, 1000)
        for o in translate(event)
        if isinstance(o.message, CompanyRegistrationRefused)
    ]
    assert [(m.registration_id, m.company_id, m.reason) for m in refusals] == [
        (second.registration_id, second.company_id, "email_taken")
    ]
    assert directory.authenticate(signed_in(str(first.main_contact.email))).company_id == first.company_id
