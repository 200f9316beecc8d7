"""erp-sync as production builds it (``create_app``) gets persons' keys from the running stack's users (its internal
port, the development token): a user's names and e-mail are stored sealed with the key users holds for them and read
plain again; an id users does not know (``unknown_person``: test data, an ERP contact that is no user) keeps its
values plain (ADR 0035). The user is a main contact users creates for a registration this test publishes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from uuid import UUID, uuid4

import asyncpg
import pytest

import erp_sync.main as erp_sync_main
from erp_sync.application.contacts import Contacts
from erp_sync.domain.model import ContactExchange
from erp_sync.settings import ErpSyncSettings
from tests.conftest import eventually
from tests.support.infra import KAFKA, dsn_for
from tests.support.users import RegistrationPublisher, registration

pytestmark = pytest.mark.integration


async def a_live_user() -> UUID:
    """A user of the running stack: the main contact users creates for a registration published here."""
    publisher = RegistrationPublisher(KAFKA)
    await publisher.start()
    try:
        completed = registration()
        await publisher.publish(completed)
    finally:
        await publisher.stop()

    async def main_contact() -> UUID | None:
        conn = await asyncpg.connect(dsn_for("users"))
        try:
            return await conn.fetchval(
                "SELECT user_id FROM person_keys WHERE company_id = $1 AND key IS NOT NULL", completed.company_id
            )
        finally:
            await conn.close()

    return UUID(str(await eventually(main_contact, what="users to create the main contact with a key")))


@pytest.fixture
async def exchanges(database, topic_prefix) -> AsyncIterator[erp_sync_main.Exchanges]:
    settings = ErpSyncSettings(
        database_url=await database("erp-sync"), kafka_bootstrap_servers=KAFKA, topic_prefix=topic_prefix,
        consumer_group=f"it-keys-{uuid4().hex[:8]}", process_roles=["api"],
    )  # fmt: skip
    http = erp_sync_main.create_app(settings)
    async with http.router.lifespan_context(http):
        yield http.state.runtime.app


def stored_state(exchanges: erp_sync_main.Exchanges, user_id: UUID) -> str:
    (created,) = exchanges.recorder.select_events(ContactExchange.create_id(user_id))
    return created.state.decode()


def store_user(exchanges: erp_sync_main.Exchanges, user_id: UUID, tag: str) -> None:
    contacts = Contacts(exchanges)
    exchanges.save(*contacts.user_created(
        user_id, uuid4(), f"keys-{tag}@example.com", f"Kira{tag}", f"Key{tag}", "de", active=True,
        is_main_contact=False, erp_contact_id=None, at=datetime.now(UTC),
    ))  # fmt: skip


async def test_a_users_values_are_sealed_with_the_key_users_holds_and_a_stranger_keeps_them_plain(exchanges):
    user_id, stranger, tag = await a_live_user(), uuid4(), uuid4().hex[:10]
    # as in the service, where the key fetch (blocking HTTP) may happen: off the event loop
    await asyncio.to_thread(store_user, exchanges, user_id, tag)
    await asyncio.to_thread(store_user, exchanges, stranger, tag)

    of_user, of_stranger = stored_state(exchanges, user_id), stored_state(exchanges, stranger)
    assert tag not in of_user and f"kc1:{user_id}:" in of_user
    assert f"Kira{tag}" in of_stranger and "kc1:" not in of_stranger
    x = await asyncio.to_thread(Contacts(exchanges).contact, user_id)
    assert (x.email, x.first_name) == (f"keys-{tag}@example.com", f"Kira{tag}")
