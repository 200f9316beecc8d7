"""A real users process between Kafka and PostgreSQL: registrations in, company and user events out."""

from __future__ import annotations

import asyncio
import json
import signal

import psycopg
import pytest

from contracts import Headers
from contracts.topics import REGISTRATION_REGISTRATIONS, USERS_COMPANIES, USERS_USERS
from kc_runtime.sealing import is_sealed, unseal
from tests.conftest import eventually
from tests.integration.conftest import read_topic, service_env
from tests.support.infra import KAFKA, ServiceProcess, random_suffix
from tests.support.users import RegistrationPublisher, registration

pytestmark = pytest.mark.integration


def users_process(dsn: str, prefix: str, group: str) -> ServiceProcess:
    return ServiceProcess("users", "USERS_", service_env(dsn, prefix, CONSUMER_GROUP=group), name="users")


async def start(p: ServiceProcess, processes: list, failpoints: str = "") -> ServiceProcess:
    processes.append(p.start(failpoints=failpoints))
    return await asyncio.to_thread(p.wait_ready)


@pytest.fixture
async def publisher(topic_prefix):
    p = RegistrationPublisher(KAFKA, topic_prefix=topic_prefix)
    await p.start()
    yield p
    await p.stop()


def types_of(records) -> list[str]:
    return [dict(r.headers)[Headers.EVENT_TYPE].decode() for r in records]


async def test_a_registration_becomes_a_company_and_its_main_contact_on_the_users_topics(
    database, topic_prefix, processes, publisher
):
    dsn = await database("users")
    users = await start(users_process(dsn, topic_prefix, f"it-users-{random_suffix()}"), processes)
    msg = registration()
    await publisher.publish(msg)
    key = str(msg.company_id).encode()

    companies = await eventually(
        lambda: read_topic(topic_prefix + USERS_COMPANIES.name, key=key), what="CompanyCreated on users.companies"
    )
    user_records = await eventually(
        lambda: read_topic(topic_prefix + USERS_USERS.name, key=key), what="UserCreated on users.users"
    )
    assert types_of(companies) == ["CompanyCreated"]
    assert types_of(user_records) == ["UserCreated"]
    created = json.loads(user_records[0].value)
    assert created["is_main_contact"] is True
    # the address travels sealed with the main contact's own key (ADR 0035 decision 6), which opens it
    assert is_sealed(created["email"]) and msg.main_contact.email not in user_records[0].value.decode()
    with psycopg.connect(dsn) as conn:
        (key,) = conn.execute("SELECT key FROM person_keys WHERE user_id = %s", (created["user_id"],)).fetchone()
    assert unseal(bytes(key), "msg/UserCreated/email", created["email"]) == msg.main_contact.email
    headers = {k: v.decode() for k, v in user_records[0].headers}
    assert headers[Headers.PRODUCER] == "users"
    assert int(headers[Headers.SOURCE_NOTIFICATION_ID]) > int(
        dict(companies[0].headers)[Headers.SOURCE_NOTIFICATION_ID].decode()
    )
    assert users.metric("kc_consumer_messages_total", outcome="applied") == 1


async def test_a_registration_is_applied_once_when_the_consumer_dies_before_committing_its_offset(
    database, topic_prefix, processes, publisher
):
    dsn = await database("users")
    group = f"it-users-{random_suffix()}"
    doomed = await start(users_process(dsn, topic_prefix, group), processes, failpoints="consumer.after_commit")
    msg = registration()
    await publisher.publish(msg)
    assert await asyncio.to_thread(doomed.wait_exit) == -signal.SIGKILL

    users = await start(users_process(dsn, topic_prefix, group), processes)
    await eventually(
        lambda: asyncio.to_thread(users.metric, "kc_consumer_messages_total", outcome="duplicate"),
        what="the redelivered registration to be recognised as a duplicate",
    )
    key = str(msg.company_id).encode()

    async def both_published():
        c = await read_topic(topic_prefix + USERS_COMPANIES.name, key=key)
        u = await read_topic(topic_prefix + USERS_USERS.name, key=key)
        return (c, u) if c and u else None

    companies, user_records = await eventually(both_published, what="the company and its main contact")
    assert len({dict(r.headers)[Headers.EVENT_ID] for r in companies}) == 1
    assert len({dict(r.headers)[Headers.EVENT_ID] for r in user_records}) == 1


async def test_an_unreadable_registration_goes_to_the_dead_letter_topic(database, topic_prefix, processes, publisher):
    dsn = await database("users")
    await start(users_process(dsn, topic_prefix, f"it-users-{random_suffix()}"), processes)
    msg = registration()
    await publisher.producer.send_and_wait(
        topic_prefix + REGISTRATION_REGISTRATIONS.name,
        b'{"company_id": "not-a-uuid"}',
        key=b"K-broken",
        headers=[(Headers.EVENT_TYPE, msg.event_type.encode())],
    )
    dead = await eventually(
        lambda: read_topic(topic_prefix + REGISTRATION_REGISTRATIONS.dlt, key=b"K-broken"), what="the dead letter"
    )
    assert dict(dead[0].headers)[Headers.DLT_REASON] == b"invalid_envelope"
