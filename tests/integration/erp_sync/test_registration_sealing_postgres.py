"""The main contact of a completed registration on PostgreSQL (ADR 0040, ADR 0035): when the completion names their
user id (``main_contact.user_id``), no table of erp-sync's database — the event store included — holds their address
or names in any form (plain, URL-encoded, base64), with the read model and the due projection projected; the
activation opens with their key, and once the key is gone it opens to nothing and what a replay reads through the
replay index sends the ERP nothing of them. A completion without the id keeps them plain in the event store, as
before, and nowhere else.

erp-sync's event store, replay index, projections and real consumer specs over a fresh database; a key ring over a
dict stands in for users' key endpoint (``tests/integration/erp_sync/test_erasure_postgres.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from contracts.registration.v1 import CompanyMasterData, MainContact, RegistrationCompleted
from contracts.topics import REGISTRATION_REGISTRATIONS, USERS_USERS
from contracts.users import v1 as users
from erp_sync.adapters.outbound.translator import translate
from erp_sync.application.verifications import Verifications
from erp_sync.domain.verification import CustomerCenterActivation
from tests.integration.erp_sync.test_erasure_postgres import (
    EVENT_STORE,
    T0,
    ErpSyncOnPostgres,
    closed,
    markers,
    opened,
)
from tests.service.erp_sync.test_sealed_events import UsersKeys
from tests.support.erasure import found_in_tables, holds_any

pytestmark = pytest.mark.integration


@pytest.fixture
async def erp_sync(database) -> AsyncIterator[ErpSyncOnPostgres]:
    opened_ = await opened(database, UsersKeys())
    yield opened_
    await closed(opened_)


async def completed(erp_sync: ErpSyncOnPostgres, person: dict[str, str], user_id: UUID | None) -> UUID:
    company, number = uuid4(), f"R-{uuid4().hex[:8]}"
    message = RegistrationCompleted(
        registration_id=uuid4(), company_id=company, company=CompanyMasterData(customer_number=number, name="Muster"),
        main_contact=MainContact(**person, user_id=user_id), completed_at=T0,
    )  # fmt: skip
    await erp_sync.deliver(REGISTRATION_REGISTRATIONS, number, message, producer="registration")
    await erp_sync.project()
    return company


def replayed(erp_sync: ErpSyncOnPostgres) -> str:
    """What a replay of everything would send: the replay index's notifications, opened and translated."""
    pages = erp_sync.exchanges.replay_index.page(T0 - timedelta(days=365), None, 0, 10_000)
    assert any(n.topic.endswith("CustomerCenterActivation.Requested") for n in pages)
    events = [erp_sync.exchanges.mapper.to_domain_event(n) for n in pages]
    return "\n".join(o.message.model_dump_json() for e in events for o in translate(e))


async def test_no_table_holds_the_main_contact_named_by_their_user_id_and_the_activation_opens_with_their_key(
    erp_sync,
):
    assert erp_sync.keys is not None
    person, user_id = markers(), erp_sync.keys.person()

    company = await completed(erp_sync, person, user_id)

    assert await found_in_tables(erp_sync.dsn, list(person.values()), skip=set()) == []
    activation = Verifications(erp_sync.exchanges).activation(company)
    assert isinstance(activation, CustomerCenterActivation)
    assert {k: activation.main_contact[k] for k in person} == person
    assert holds_any(replayed(erp_sync), list(person.values())) == list(person.values())  # the ERP is told, plain


async def test_once_the_main_contacts_key_is_gone_the_activation_opens_to_nothing_and_a_replay_tells_none_of_it(
    erp_sync,
):
    assert erp_sync.keys is not None
    person, user_id = markers(), erp_sync.keys.person()
    company = await completed(erp_sync, person, user_id)
    erp_sync.keys.keys[user_id] = None
    erasure = users.UserErased(user_id=user_id, company_id=company, erased_at=T0 + timedelta(days=1))
    await erp_sync.deliver(USERS_USERS, str(company), erasure)
    await erp_sync.project()

    activation = Verifications(erp_sync.exchanges).activation(company)
    assert isinstance(activation, CustomerCenterActivation)
    assert [activation.main_contact[k] for k in person] == [None, None, None]
    assert holds_any(replayed(erp_sync), list(person.values())) == []
    assert await found_in_tables(erp_sync.dsn, list(person.values()), skip=set()) == []


async def test_a_main_contact_named_without_a_user_id_stays_plain_in_the_event_store_only(erp_sync):
    assert erp_sync.keys is not None
    person = markers()

    await completed(erp_sync, person, None)

    assert await found_in_tables(erp_sync.dsn, list(person.values()), skip=EVENT_STORE) == []
    in_store = await found_in_tables(erp_sync.dsn, list(person.values()), skip=set())
    assert {(table, marker) for table, _, marker in in_store} == {("exchanges_events", v) for v in person.values()}
    assert erp_sync.keys.asked == []
