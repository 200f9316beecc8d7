"""users consumes erp-sync.customers.v1: the ERP's contact persons and master data change the company (the
take-over list above all), redelivered and older messages change nothing, and users are never changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from contracts.erp_sync.v1 import CompanyMasterDataChanged, ErpContactPersonChanged
from contracts.topics import ERP_SYNC_CUSTOMERS
from kc_runtime.consumer import IdempotentConsumer
from kc_runtime.eventstore import WorkerPool
from tests.service.users.conftest import World, make_world, register
from tests.service.users.test_registration_consumer import FakeBatch, RecordingBroker
from tests.support.messages import consumer_record
from tests.support.users import registration, signed_in
from users.adapters.inbound.kafka import consumer_specs
from users.application.directory import Directory

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Wire:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self.consumer = IdempotentConsumer(
            service="users", group_id="users", app=directory, broker=RecordingBroker(),  # type: ignore[arg-type]
            blocking=WorkerPool(2), specs=consumer_specs(directory), max_attempts=2, backoff_initial_s=0.01,
        )  # fmt: skip
        self.offset = 0

    async def deliver(self, msg, notification_id: int | None = None) -> None:
        self.offset += 1
        record = consumer_record(
            msg, topic=ERP_SYNC_CUSTOMERS.name, key=str(msg.company_id), producer="erp-sync",
            notification_id=notification_id or self.offset, offset=self.offset, correlation_id="c",
        )  # fmt: skip
        await self.consumer.handle(FakeBatch((record,)))


def person(company_id, contact_id="C-1", minutes=1, **kw) -> ErpContactPersonChanged:
    fields = dict(
        company_id=company_id, customer_number="K-1", contact_id=contact_id, change="added",
        email=f"{contact_id.lower()}-{uuid4().hex[:6]}@example.com", first_name="Nora", last_name="Neu",
        changed_at=T0 + timedelta(minutes=minutes),
    )  # fmt: skip
    return ErpContactPersonChanged(**{**fields, **kw})


def master(company_id, minutes=1, name="Muster AG") -> CompanyMasterDataChanged:
    return CompanyMasterDataChanged(
        company_id=company_id, customer_number="K-1", name=name, currency="EUR",
        changed_at=T0 + timedelta(minutes=minutes),
    )  # fmt: skip


@pytest.fixture
def directory() -> Directory:
    return Directory(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


@pytest.fixture
def world(directory: Directory) -> World:
    return make_world(directory)


def candidates(world: World) -> list[tuple[str, str]]:
    return [(c.erp_contact_id, c.last_name) for c in world.directory.erp_contacts(world.main)]


async def test_a_contact_the_erp_adds_can_be_taken_over_and_a_deactivated_one_disappears(world: World):
    wire = Wire(world.directory)
    nora, otto = person(world.company_id), person(world.company_id, "C-2", last_name="Ott")
    await wire.deliver(nora)
    await wire.deliver(otto)
    assert candidates(world) == [("C-1", "Neu"), ("C-2", "Ott")]

    await wire.deliver(person(world.company_id, "C-2", 2, change="deactivated", last_name="Ott", active=False))
    assert candidates(world) == [("C-1", "Neu")]
    user, created = world.directory.take_over_erp_contact(world.main, "C-1")
    assert created and (user.email, user.erp_contact_id) == (nora.email, "C-1")
    assert candidates(world) == []


async def test_redelivered_and_older_messages_change_nothing(world: World):
    wire = Wire(world.directory)
    newer = person(world.company_id, minutes=5, last_name="Neumann")
    await wire.deliver(newer, notification_id=10)
    top = world.directory.max_notification_id()
    await wire.deliver(newer, notification_id=10)  # redelivered
    await wire.deliver(person(world.company_id, minutes=5, last_name="Neumann", email=newer.email), 11)  # again
    await wire.deliver(person(world.company_id, minutes=1, last_name="Alt"), 12)  # older
    assert world.directory.max_notification_id() == top
    assert candidates(world) == [("C-1", "Neumann")]


async def test_a_contact_that_is_a_user_is_not_changed_in_the_user_account(world: World):
    wire = Wire(world.directory)
    await wire.deliver(person(world.company_id, minutes=1))
    user, _ = world.directory.take_over_erp_contact(world.main, "C-1")
    await wire.deliver(person(world.company_id, minutes=2, last_name="Anders", email="anders@example.com"))
    await wire.deliver(person(world.company_id, "C-3", 2, user_id=user.user_id, last_name="Dritter"))
    after = world.directory.get_user(world.main, user.user_id)
    assert (after.last_name, after.email, after.version) == (user.last_name, user.email, user.version)
    assert candidates(world) == []  # taken over, or a user by the ERP's word


async def test_the_erps_master_data_renames_the_company_newest_first(world: World):
    wire = Wire(world.directory)
    await wire.deliver(master(world.company_id, 2, "Muster AG"))
    await wire.deliver(master(world.company_id, 1, "Muster KG"))
    assert world.directory.company(world.main).name == "Muster AG"


async def test_what_the_erp_sends_before_the_registration_arrives_is_kept_for_the_company(directory: Directory):
    wire = Wire(directory)
    msg = registration()
    await wire.deliver(master(msg.company_id, 1, "Früh AG"))
    await wire.deliver(person(msg.company_id, "C-9", 1))
    register(directory, msg)
    main = directory.authenticate(signed_in(str(msg.main_contact.email)))
    assert directory.company(main).name == "Früh AG"
    assert [c.erp_contact_id for c in directory.erp_contacts(main)] == ["C-9"]
