"""erp-sync's erasure on PostgreSQL (ADR 0035): after ``UserErased`` went through the real idempotent consumer (in
its transaction, with its tracking record), no table of erp-sync's database holds the person's marker values —
plain, URL-encoded or base64 — with the read model and the due projection projected: not even the event store, which
keeps them sealed with the person's key (a key ring over a dict stands in for users' key endpoint: this test's
persons are no users of the running stack, whose users would answer ``unknown_person`` and leave them plain); values
stored before sealing stay in the event store until the upcasting runbook's copy-and-switch. What a replay reads
through the replay index holds them no more (before the erasure it did: the ERP was told them), also when the index
is first filled after the erasure; and a redelivery of ``UserErased`` stores nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import asyncpg
import pytest
from eventsourcing.utils import get_topic

from contracts.erp import v1 as erp
from contracts.topics import ERP_INBOUND_CONTACTS, REGISTRATION_REGISTRATIONS, USERS_USERS
from contracts.users import v1 as users
from erp_sync.adapters.inbound.kafka import exchange_consumer_specs, verification_consumer_specs
from erp_sync.adapters.outbound.due import SCHEMA as DUE_SCHEMA
from erp_sync.adapters.outbound.due import DueItems
from erp_sync.adapters.outbound.read_model import SCHEMA as EXCHANGES_SCHEMA
from erp_sync.adapters.outbound.read_model import ExchangeStates
from erp_sync.application.contacts import Contacts
from erp_sync.application.exchanges import Exchanges
from erp_sync.application.verifications import Verifications
from erp_sync.domain.model import ContactExchange, RetryPolicy
from kc_runtime.sealing import KeyRing
from tests.integration.erp_sync.test_replay_index import indexed
from tests.integration.test_exactly_once import es_env
from tests.service.erp_sync.test_erp_exchange import registration, user_created
from tests.service.erp_sync.test_sealed_events import UsersKeys
from tests.service.registration.wire import Inbox, published
from tests.support.erasure import found_in_tables, holds_any

pytestmark = pytest.mark.integration

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
EVENT_STORE = {"exchanges_events"}
"""Values stored before sealing (ADR 0035 decision 1) stay there: what it holds is the upcasting runbook's."""


@dataclass
class ErpSyncOnPostgres:
    dsn: str
    exchanges: Exchanges
    inbox: Inbox
    states: ExchangeStates
    due: DueItems
    keys: UsersKeys | None
    """users' keys when the event store seals (None: as before sealing)"""
    position: int = 0
    delivered: int = 0

    def new_user_id(self) -> UUID:
        return self.keys.person() if self.keys is not None else uuid4()

    @property
    def skipped(self) -> set[str]:
        """What the search for an erased person's values leaves out: nothing once sealed."""
        return set() if self.keys is not None else EVENT_STORE

    async def deliver(self, topic, key: str, message, producer: str = "test") -> None:
        self.delivered += 1
        await self.inbox.deliver(published(topic, key, message, self.delivered, producer))

    async def project(self) -> None:
        """What the projections' follower would do: the log since the last call, through both projections."""
        batch = self.exchanges.notifications(self.position, 10_000)
        for projection in (self.states, self.due):
            await projection.apply(batch)
        if batch:
            self.position = batch[-1][0].id

    def replayed_states(self, user_id: UUID) -> list[str]:
        """The stored state of every event of the person's exchange a replay would read (from the beginning)."""
        pages = self.exchanges.replay_index.page(T0 - timedelta(days=365), None, 0, 10_000)
        xid = ContactExchange.create_id(user_id)
        return [n.state.decode("utf-8", errors="replace") for n in pages if n.originator_id == xid]


async def opened(database, keys: UsersKeys | None) -> ErpSyncOnPostgres:
    dsn = await database("erp-sync")
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(EXCHANGES_SCHEMA)
        await conn.execute(DUE_SCHEMA)
    finally:
        await conn.close()
    exchanges = indexed(dsn, KeyRing(keys.fetch) if keys is not None else None)
    specs = [*exchange_consumer_specs(exchanges), *verification_consumer_specs(Verifications(exchanges))]
    policy = RetryPolicy()
    states = ExchangeStates(dsn, relay_name="erp-sync:Exchanges")
    due = DueItems(dsn, deliveries=policy, verifications=policy)
    return ErpSyncOnPostgres(dsn, exchanges, Inbox(exchanges, "erp-sync", specs), states, due, keys)


async def closed(erp_sync: ErpSyncOnPostgres) -> None:
    await erp_sync.states.close()
    await erp_sync.due.close()
    erp_sync.exchanges.close()


@pytest.fixture(params=["sealed", "before sealing"])
async def erp_sync(database, request) -> AsyncIterator[ErpSyncOnPostgres]:
    """erp-sync sealing with users' keys, and as before sealing (its erasure must hold for both)."""
    opened_ = await opened(database, UsersKeys() if request.param == "sealed" else None)
    yield opened_
    await closed(opened_)


@pytest.fixture
async def before_sealing(database) -> AsyncIterator[ErpSyncOnPostgres]:
    opened_ = await opened(database, None)
    yield opened_
    await closed(opened_)


def markers() -> dict[str, str]:
    tag = uuid4().hex[:10]
    return {"email": f"erika-{tag}@example.com", "first_name": f"Erika{tag}", "last_name": f"Muster{tag}"}


async def known_contact(erp_sync: ErpSyncOnPostgres, person: dict[str, str]) -> tuple[UUID, UUID]:
    """A user of a registered company, told to the ERP, renamed, its contact recorded as the ERP keeps it."""
    company = uuid4()
    await erp_sync.deliver(REGISTRATION_REGISTRATIONS, "10001", registration(company))
    created = user_created(company, user_id=erp_sync.new_user_id(), **person)
    user_id = created.user_id
    await erp_sync.deliver(USERS_USERS, str(company), created)
    renamed = users.UserRenamed(user_id=user_id, company_id=company, first_name=person["first_name"], last_name="Neu")
    await erp_sync.deliver(USERS_USERS, str(company), renamed)
    in_erp = erp.ErpContactChanged(
        idempotency_key="erp-contact/C-7/1", customer_number="10001", contact_id="C-7", user_id=user_id,
        in_reply_to=None, phone="+49 711 4711", changed_at=T0, **person,
    )  # fmt: skip
    await erp_sync.deliver(ERP_INBOUND_CONTACTS, "10001", in_erp, producer="erp")
    await erp_sync.deliver(USERS_USERS, str(company), users.UserDeactivated(user_id=user_id, company_id=company))
    return user_id, company


def erased(user_id: UUID, company_id: UUID) -> users.UserErased:
    return users.UserErased(user_id=user_id, company_id=company_id, erased_at=T0 + timedelta(days=1))


async def erase(erp_sync: ErpSyncOnPostgres, user_id: UUID, company: UUID) -> None:
    """users destroys the person's key, then tells everyone."""
    if erp_sync.keys is not None:
        erp_sync.keys.keys[user_id] = None
    await erp_sync.deliver(USERS_USERS, str(company), erased(user_id, company))


async def test_after_the_erasure_no_table_holds_the_person_the_event_store_once_sealed_neither(erp_sync):
    person = markers()
    values = list(person.values())
    user_id, company = await known_contact(erp_sync, person)
    await erp_sync.project()
    if erp_sync.keys is not None:  # sealed from the start: stored, but never readable without the key
        assert await found_in_tables(erp_sync.dsn, values, skip=set()) == []
        conn = await asyncpg.connect(erp_sync.dsn)
        try:
            sealed = await conn.fetchval(
                "SELECT count(*) FROM exchanges_events WHERE position($1::bytea IN state) > 0",
                f"kc1:{user_id}:".encode(),
            )
        finally:
            await conn.close()
        assert sealed >= 4  # created, changed, deactivated; the ERP's contact kept with the customer

    await erase(erp_sync, user_id, company)
    await erp_sync.project()

    assert await found_in_tables(erp_sync.dsn, values, skip=erp_sync.skipped) == []
    row = (await erp_sync.states.row(ContactExchange.create_id(user_id)))[0]
    assert row is not None and row["idempotency_key"] == f"contact/{user_id}/4"
    assert row["detail"] == "erasure requested" and row["status"] == "requested"


async def test_a_replay_reads_the_erasure_request_and_no_longer_what_the_erp_was_told_before(before_sealing):
    erp_sync = before_sealing  # plain values: what the index held is visible in the stored states
    person = markers()
    values = list(person.values())
    user_id, company = await known_contact(erp_sync, person)
    before = erp_sync.replayed_states(user_id)
    assert len(before) == 3 and all(holds_any(state, values) for state in before)  # created, changed, deactivated

    await erase(erp_sync, user_id, company)

    (after,) = erp_sync.replayed_states(user_id)
    assert "C-7" in after  # the erasure request names the ERP's contact id
    assert holds_any(after, values) == []


async def test_a_redelivered_erasure_stores_nothing_and_the_erps_answer_settles_it(erp_sync):
    user_id, company = await known_contact(erp_sync, markers())
    await erase(erp_sync, user_id, company)
    stored = erp_sync.exchanges.max_notification_id()

    await erp_sync.deliver(USERS_USERS, str(company), erased(user_id, company))  # a copy (a new offset)
    assert erp_sync.exchanges.max_notification_id() == stored

    answer = erp.ContactErased(
        idempotency_key="erp-contact-erasure/C-7", customer_number="10001", contact_id="C-7", user_id=user_id,
        in_reply_to=f"contact/{user_id}/4", erased_at=T0 + timedelta(days=1, seconds=3),
    )  # fmt: skip
    await erp_sync.deliver(ERP_INBOUND_CONTACTS, "10001", answer, producer="erp")
    await erp_sync.project()
    row = (await erp_sync.states.row(ContactExchange.create_id(user_id)))[0]
    assert row is not None and (row["status"], row["outcome"]) == ("acknowledged", "erased")
    conn = await asyncpg.connect(erp_sync.dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM erp_sync_due WHERE exchange_id = $1", row["exchange_id"]) == 0
    finally:
        await conn.close()


async def test_the_first_replays_backfill_indexes_none_of_an_erased_persons_earlier_messages(database):
    dsn = await database("erp-sync")
    person = markers()
    user_id, company = uuid4(), uuid4()
    before_the_index = Exchanges(env=es_env(dsn))  # the first version: no replay index
    contacts = Contacts(before_the_index)
    before_the_index.save(*contacts.user_created(
        user_id, company, person["email"], person["first_name"], person["last_name"], "de", active=True,
        is_main_contact=False, erp_contact_id=None, at=T0,
    ))  # fmt: skip
    kept = uuid4()  # another person: indexed by the backfill
    before_the_index.save(*contacts.user_created(
        kept, company, "kept@example.com", "Kim", "Kept", "de", active=True, is_main_contact=False,
        erp_contact_id=None, at=T0,
    ))  # fmt: skip
    before_the_index.close()

    exchanges = indexed(dsn)
    try:
        exchanges.save(*Contacts(exchanges).user_erased(user_id, company, T0 + timedelta(days=1)))
        assert exchanges.replay_index.backfill(exchanges.mapper) == 1

        since = T0 - timedelta(days=365)
        replayed = [(n.originator_id, n.topic) for n in exchanges.replay_index.page(since, None, 0, 100)]
        assert replayed == [
            (ContactExchange.create_id(kept), get_topic(ContactExchange.Created)),
            (ContactExchange.create_id(user_id), get_topic(ContactExchange.Erased)),
        ]
    finally:
        exchanges.close()
