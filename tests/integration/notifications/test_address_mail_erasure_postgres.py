"""A mail to an address on behalf of a user, still waiting when they are erased (ADR 0035), through the real service
process, Kafka and PostgreSQL: the confirmation of a user's e-mail change (to the new address) waits for a mail server
that is away; users erases the user; the mail is dropped — recorded failed ("recipient erased") in the store and the
mail log — and no table outside the event store holds the new address or the names."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from pydantic import SecretStr

from contracts.users import v1 as users
from kc_runtime.settings import ServiceSettings
from notifications.adapters.outbound.dispatcher import ERASED
from notifications.application.mails import Mails
from notifications.domain.model import Mail, MailStatus
from tests.conftest import eventually
from tests.integration.conftest import service_env
from tests.integration.notifications.test_erasure_postgres import Feed, found_in_tables
from tests.support.infra import KAFKA, ServiceProcess, free_port, random_suffix

pytestmark = pytest.mark.integration


async def test_a_waiting_confirmation_of_an_email_change_is_dropped_when_the_user_is_erased(
    database, topic_prefix, processes
):
    dsn = await database("notifications")
    away = str(free_port())  # nobody listens there: the mail waits, retried, until it is dropped
    service = ServiceProcess(
        "notifications", "NOTIFICATIONS_",
        service_env(dsn, topic_prefix, CONSUMER_GROUP=f"it-notifications-{random_suffix()}", SMTP_PORT=away),
        name="notifications",
    )  # fmt: skip
    processes.append(service.start())
    await asyncio.to_thread(service.wait_ready)
    mails = Mails(env=ServiceSettings(database_url=SecretStr(dsn), db_pool_size=2).eventsourcing_env())
    tag = random_suffix()
    email, new_email, first, last = f"erased-{tag}@example.com", f"new-{tag}@example.com", f"Erika{tag}", f"M{tag}"
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
        requested = users.UserEmailChangeRequested(
            change_id=uuid4(), user_id=user_id, company_id=company_id, email=new_email, previous_email=email,
            first_name=first, last_name=last, language="en", token=f"tok-{tag}", confirm_path=f"/confirm/{tag}",
            expires_at=datetime.now(UTC) + timedelta(days=1),
        )  # fmt: skip
        cause = await feed.publish(requested, company_id, "users")
        mail_id = Mail.create_id(str(cause), new_email)

        async def queued() -> bool:
            mail = await asyncio.to_thread(mails.find, mail_id)
            return isinstance(mail, Mail) and mail.status is MailStatus.QUEUED

        await eventually(queued, what="the confirmation mail to be queued")
        await feed.publish(users.UserDeactivated(user_id=user_id, company_id=company_id), company_id, "users")
        erasure = users.UserErased(user_id=user_id, company_id=company_id, erased_at=datetime.now(UTC))
        await feed.publish(erasure, company_id, "users")
    finally:
        await producer.stop()

    async def dropped() -> Mail | None:
        mail = await asyncio.to_thread(mails.find, mail_id)
        return mail if isinstance(mail, Mail) and mail.status is not MailStatus.QUEUED else None

    # the dispatcher's next attempt (its backoff grows to at most 30 s) finds the user erased
    mail = await eventually(dropped, timeout=60, what="the waiting confirmation mail to be dropped")
    assert (mail.status, mail.failure) == (MailStatus.FAILED, ERASED)

    async def logged_failed() -> bool:
        conn = await asyncpg.connect(dsn)
        try:
            return (
                await conn.fetchval("SELECT status FROM notifications_mail_log WHERE mail_id = $1", mail_id) == "failed"
            )
        finally:
            await conn.close()

    await eventually(logged_failed, what="the mail log to record the mail failed")
    assert await found_in_tables(dsn, [email, new_email, first, last]) == []
