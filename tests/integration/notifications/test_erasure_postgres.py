"""notifications' erasure (ADR 0035, decision 3) through the real service process, Kafka, PostgreSQL and the SMTP sink:
a user gets a mail, is erased, and afterwards no column of any table of notifications' database (text, jsonb,
bytea — whatever tables there are then) holds their e-mail address or names, plain, URL-encoded or in base64; a
later mail to them is dropped unsent, and a stale event of users replayed after the erasure brings nothing back.

The event store's own table (``mails_events``) is left out of the search here: the service seals personal fields
with the person's key (ADR 0035 plan step 1), but the persons of this test are made-up ids, not users of the
running stack's users service, whose key endpoint answers ``unknown_person`` for them — values of a person users does
not know stay plain (no key, nobody whose erasure would reach them). The event store is searched too where the person
is a real user: ``tests/journeys/test_notifications_erasure.py``."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from pydantic import SecretStr

from contracts import Envelope, Money
from contracts.approval import v1 as approval
from contracts.topics import APPROVAL_ORDERS, USERS_USERS
from contracts.users import v1 as users
from kc_runtime.settings import ServiceSettings
from notifications.application.mails import Mails
from tests.conftest import eventually
from tests.integration.conftest import service_env
from tests.support.erasure import found_in_tables as search
from tests.support.infra import KAFKA, ServiceProcess, random_suffix

pytestmark = pytest.mark.integration

SMTP_SINK = "http://127.0.0.1:8113"
EVENT_STORE = {"mails_events"}
"""Left out of the search here: this test's persons are not users the stack knows, so their values stay plain (see
the module's docstring)."""


def headers_for(message: Any, event_id: UUID, producer: str, notification_id: int) -> list[tuple[str, bytes]]:
    env = Envelope(
        event_id=event_id, event_type=message.event_type, schema_version=1, occurred_at=datetime.now(UTC),
        correlation_id="erasure-test", causation_id="erasure-test", producer=producer,
        source_notification_id=notification_id,
    )  # fmt: skip
    return [(k, v.encode()) for k, v in env.to_headers().items()]


async def found_in_tables(dsn: str, markers: list[str], skip: set[str] = EVENT_STORE) -> list[tuple[str, str, str]]:
    """(table, column, marker) for every column of notifications' tables outside its event store holding a marker."""
    return await search(dsn, markers, skip)


async def test_the_search_finds_a_marker_in_any_searched_column(database):
    """The search of the test below can fail: a marker put into a text, a jsonb and a bytea column is found."""
    dsn = await database("notifications")
    marker = f"probe-{random_suffix()}@example.com"
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("CREATE TABLE probe_text (v text); CREATE TABLE probe_json (v jsonb);"
                           " CREATE TABLE probe_bytes (v bytea)")  # fmt: skip
        await conn.execute("INSERT INTO probe_text VALUES ($1)", f"to {marker.upper()}")
        await conn.execute("INSERT INTO probe_json VALUES ($1::jsonb)", f'{{"to": "{quote(marker, safe="")}"}}')
        await conn.execute("INSERT INTO probe_bytes VALUES ($1)", b"\x00" + base64.b64encode(marker.encode()))
    finally:
        await conn.close()

    hits = await found_in_tables(dsn, [marker, "nobody-else"])

    assert sorted(t for t, _, _ in hits) == ["probe_bytes", "probe_json", "probe_text"]


async def messages_to(address: str) -> list[dict]:
    async with httpx.AsyncClient(base_url=SMTP_SINK, timeout=10) as sink:
        response = await sink.get("/messages", params={"to": address})
        response.raise_for_status()
        return response.json()


class Feed:
    """Publishes as users and approval would: each producer's notification ids counting up."""

    def __init__(self, producer: AIOKafkaProducer, prefix: str) -> None:
        self.producer, self.prefix = producer, prefix
        self.positions: dict[str, int] = {}

    async def publish(self, message: Any, key: UUID, as_: str) -> UUID:
        topic = {"users": USERS_USERS, "approval": APPROVAL_ORDERS}[as_]
        self.positions[as_] = self.positions.get(as_, 0) + 1
        event_id = uuid4()
        await self.producer.send_and_wait(
            self.prefix + topic.name, message.model_dump_json().encode(), key=str(key).encode(),
            headers=headers_for(message, event_id, as_, self.positions[as_]),
        )  # fmt: skip
        return event_id


def rejected(buyer: UUID, company: UUID) -> approval.OrderRejected:
    return approval.OrderRejected(
        order_id=uuid4(), company_id=company, buyer_id=buyer, approver_id=uuid4(), comment="Zu teuer",
        total=Money(amount=Decimal("99.50"), currency="EUR"), rejected_at=datetime.now(UTC),
    )  # fmt: skip


async def test_after_the_erasure_no_table_of_notifications_holds_the_persons_address_or_names(
    database, topic_prefix, processes
):
    dsn = await database("notifications")
    service = ServiceProcess(
        "notifications", "NOTIFICATIONS_",
        service_env(dsn, topic_prefix, CONSUMER_GROUP=f"it-notifications-{random_suffix()}", SMTP_PORT="2525"),
        name="notifications",
    )  # fmt: skip
    processes.append(service.start())
    await asyncio.to_thread(service.wait_ready)
    mails = Mails(env=ServiceSettings(database_url=SecretStr(dsn), db_pool_size=2).eventsourcing_env())
    tag = random_suffix()
    email, first, last = f"erased-{tag}@example.com", f"Erika{tag}", f"Muster{tag}"
    user_id, company_id = uuid4(), uuid4()

    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, enable_idempotence=True)
    await producer.start()
    try:
        feed = Feed(producer, topic_prefix)
        created = users.UserCreated(
            user_id=user_id, company_id=company_id, email=email, first_name=first, last_name=last, language="en",
            status="active", role_ids=["buyer"], permissions=["place_orders"], budget=users.Budget(),
            is_main_contact=False, created_at=datetime.now(UTC),
        )  # fmt: skip
        await feed.publish(created, company_id, "users")
        await feed.publish(rejected(user_id, company_id), company_id, "approval")
        await eventually(lambda: messages_to(email), what="the rejection mail at the SMTP sink")

        await feed.publish(users.UserDeactivated(user_id=user_id, company_id=company_id), company_id, "users")
        erasure = users.UserErased(user_id=user_id, company_id=company_id, erased_at=datetime.now(UTC))
        await feed.publish(erasure, company_id, "users")

        async def erased() -> bool:
            recipient = await asyncio.to_thread(mails.recipient, user_id)
            return recipient is not None and recipient.erased

        await eventually(erased, what="the recipient to be erased")
        # a stale event of users replayed after the erasure, and a later mail to the erased person
        stale = users.UserEmailChanged(user_id=user_id, company_id=company_id, email=email, previous_email=email)
        await feed.publish(stale, company_id, "users")
        later = await feed.publish(rejected(user_id, company_id), company_id, "approval")
    finally:
        await producer.stop()

    async def dropped() -> bool:
        conn = await asyncpg.connect(dsn)
        try:
            status = await conn.fetchval("SELECT status FROM notifications_mail_log WHERE cause = $1", str(later))
        finally:
            await conn.close()
        return status == "failed"

    await eventually(dropped, what="the later mail to be dropped (mail log: failed)")
    await eventually(lambda: users_position(dsn, at_least=4), what="the stale event of users to be consumed")
    recipient = await asyncio.to_thread(mails.recipient, user_id)
    assert recipient is not None and (recipient.email, recipient.first_name, recipient.last_name) == ("", "", "")
    assert len(await messages_to(email)) == 1  # the first mail only

    assert await found_in_tables(dsn, [email, first, last]) == []


async def users_position(dsn: str, at_least: int) -> bool:
    """The consumer of users.users.v1 has recorded (in its tracking table) the message at ``at_least``."""
    conn = await asyncpg.connect(dsn)
    try:
        position = await conn.fetchval(
            "SELECT max(notification_id) FROM mails_tracking WHERE application_name LIKE 'users/%'"
        )
    finally:
        await conn.close()
    return position is not None and position >= at_least
