"""registration's erasure (ADR 0035) through the real service process, Kafka and PostgreSQL: a user holds an address
(and registered their company with it), is erased, and afterwards the address is free for a new registration, a
stale event of users replayed after the erasure does not take it again, and no column of any table of
registration's database outside its event store (text, jsonb, bytea — whatever tables there are then) holds their
e-mail address or names, plain, URL-encoded or in base64.

The event store's own table (``registrations_events``) is left out of the search: events are append-only and are
sealed in a later step (ADR 0035, plan step 1's transcoding); until then they still hold plain values — which the
test also checks, so that the search demonstrably looks into this database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from pydantic import SecretStr

from contracts import Envelope
from contracts.topics import USERS_USERS
from contracts.users import v1 as users
from kc_runtime.settings import ServiceSettings
from registration.application.registrations import Applicant, Registrations
from registration.domain.taken import TakenAddress
from tests.conftest import eventually
from tests.integration.conftest import service_env
from tests.support.erasure import found_in_tables
from tests.support.infra import KAFKA, ServiceProcess, random_suffix

pytestmark = pytest.mark.integration

EVENT_STORE = {"registrations_events"}
"""Left out of the search: sealed in a later step (see the module's docstring)."""


class UsersFeed:
    """Publishes on users.users.v1 as users would: its notification ids counting up."""

    def __init__(self, producer: AIOKafkaProducer, prefix: str) -> None:
        self.producer, self.prefix, self.position = producer, prefix, 0

    async def publish(self, message: Any) -> None:
        self.position += 1
        env = Envelope(
            event_id=uuid4(), event_type=message.event_type, schema_version=1, occurred_at=datetime.now(UTC),
            correlation_id="erasure-test", causation_id="erasure-test", producer="users",
            source_notification_id=self.position,
        )  # fmt: skip
        await self.producer.send_and_wait(
            self.prefix + USERS_USERS.name, message.model_dump_json().encode(), key=str(message.company_id).encode(),
            headers=[(k, v.encode()) for k, v in env.to_headers().items()],
        )  # fmt: skip


def created(user_id: UUID, company_id: UUID, email: str, first: str, last: str) -> users.UserCreated:
    return users.UserCreated(
        user_id=user_id, company_id=company_id, email=email, first_name=first, last_name=last, language="de",
        role_ids=["main_contact"], permissions=["place_orders"], budget=users.Budget(), is_main_contact=False,
        created_at=datetime.now(UTC),
    )  # fmt: skip


async def users_position(dsn: str, at_least: int) -> bool:
    """registration's consumer of users.users.v1 has recorded (in its tracking table) the message at ``at_least``."""
    conn = await asyncpg.connect(dsn)
    try:
        position = await conn.fetchval(
            "SELECT max(notification_id) FROM registrations_tracking WHERE application_name LIKE 'users/%'"
        )
    finally:
        await conn.close()
    return position is not None and position >= at_least


async def test_after_the_erasure_the_address_is_free_and_no_table_of_registration_holds_the_person(
    database, topic_prefix, processes
):
    dsn = await database("registration")
    service = ServiceProcess(
        "registration", "REGISTRATION_",
        service_env(dsn, topic_prefix, CONSUMER_GROUP=f"it-registration-{random_suffix()}"), name="registration",
    )  # fmt: skip
    processes.append(service.start())
    await asyncio.to_thread(service.wait_ready)
    registrations = Registrations(env=ServiceSettings(database_url=SecretStr(dsn), db_pool_size=2).eventsourcing_env())
    tag = random_suffix()
    email, first, last = f"erased-{tag}@example.com", f"Erika{tag}", f"Muster{tag}"
    user_id, company_id = uuid4(), uuid4()
    # the person's own registration attempt: their address and names in registration's store
    await asyncio.to_thread(
        registrations.submit, Applicant(f"9{tag[:5]}", "R-1", email, first, last, "de"), "192.0.2.77"
    )

    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, enable_idempotence=True)
    await producer.start()
    try:
        feed = UsersFeed(producer, topic_prefix)
        await feed.publish(created(user_id, company_id, email, first, last))
        await eventually(
            lambda: asyncio.to_thread(registrations.email_taken, email), what="the address to be taken by the user"
        )
        await feed.publish(users.UserDeactivated(user_id=user_id, company_id=company_id))
        await feed.publish(users.UserErased(user_id=user_id, company_id=company_id, erased_at=datetime.now(UTC)))
        await eventually(
            lambda: asyncio.to_thread(registrations.is_erased, user_id), what="registration to know the erasure"
        )
        # a stale event of users replayed after the erasure
        await feed.publish(created(user_id, company_id, email, first, last))
    finally:
        await producer.stop()

    await eventually(lambda: users_position(dsn, at_least=4), what="the stale event of users to be consumed")
    assert not await asyncio.to_thread(registrations.email_taken, email)
    registrations.close()

    markers = [email, first, last]
    assert {table for table, _, _ in await found_in_tables(dsn, markers, skip=set())} == EVENT_STORE
    assert await found_in_tables(dsn, markers, skip=EVENT_STORE) == []


async def test_a_user_recorded_before_the_holders_existed_is_found_in_the_address_index_on_postgres(database):
    """A user whose address was recorded by a release without the holders: their address is found in the address
    index's own events (PostgreSQL's notification log, filtered by the events' topics, page by page)."""
    dsn = await database("registration")
    app = Registrations(env=ServiceSettings(database_url=SecretStr(dsn), db_pool_size=2).eventsourcing_env())
    user_id, tag = uuid4(), random_suffix()
    email, others = f"old-{tag}@example.com", [f"other-{i}-{tag}@example.com" for i in range(3)]
    app.save(TakenAddress(email=others[0], user_id=uuid4()), TakenAddress(email=email, user_id=user_id))
    app.save(*(TakenAddress(email=o, user_id=uuid4()) for o in others[1:]))
    app.submit(Applicant(f"8{tag[:5]}", "R-1", f"applicant-{tag}@example.com", "Anna", "Neu", "de"), "192.0.2.78")
    assert app._addresses_taken_by(user_id, page=1) == {TakenAddress.create_id(email)}

    app.save(*app.on_user_erased(user_id, datetime.now(UTC)))

    assert not app.email_taken(email) and all(app.email_taken(o) for o in others)
    assert app.is_erased(user_id)
    app.close()
