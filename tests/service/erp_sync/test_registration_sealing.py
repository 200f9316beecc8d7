"""The main contact a completed registration names is kept sealed with their own key in erp-sync's event store
(``main_contact.user_id``: minted by registration when the attempt was submitted, its key made by users then; ADR
0040, ADR 0035): the customer-center activation's address and names. The ERP is still told them plain (decision 5:
the relay translates the opened event); once the key is gone nothing of them opens and neither a relay nor a replay
behind the erasure sends the activation. A registration without the id (attempts submitted before) is kept plain and
told to the ERP as before.

In-memory event store with a key ring over a dict (``UsersKeys``: users' key endpoint), the real consumer specs and
translator on the in-memory wire of ``test_erp_exchange``."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from contracts.erp import v1 as erp
from contracts.registration.v1 import CompanyMasterData, MainContact, RegistrationCompleted
from contracts.topics import ERP_OUTBOUND_CUSTOMER_CENTER_ACTIVATIONS, REGISTRATION_REGISTRATIONS, USERS_USERS
from contracts.users import v1 as users
from erp_sync.adapters.outbound.translator import translate
from erp_sync.application.verifications import Verifications
from erp_sync.domain.verification import CustomerCenterActivation
from kc_runtime.sealed_messages import seal_body
from kc_runtime.sealing import KeyRing
from tests.service.erp_sync.test_erp_exchange import T0, ErpSync
from tests.service.erp_sync.test_sealed_events import UsersKeys, everything_read, markers, stored
from tests.service.registration.wire import FakeBatch, published, record
from tests.support.erasure import holds_any


@pytest.fixture
def keys() -> UsersKeys:
    return UsersKeys()


@pytest.fixture
def ring(keys: UsersKeys) -> KeyRing:
    return KeyRing(keys.fetch)


@pytest.fixture
def erp_sync(ring: KeyRing) -> ErpSync:
    return ErpSync(ring)


def completed(company: UUID, person: dict[str, str], user_id: UUID | None) -> RegistrationCompleted:
    return RegistrationCompleted(
        registration_id=uuid4(), company_id=company,
        company=CompanyMasterData(customer_number="10001", name="Muster GmbH"),
        main_contact=MainContact(**person, language="en", user_id=user_id), completed_at=T0,
    )  # fmt: skip


def activation(erp_sync: ErpSync, company: UUID) -> CustomerCenterActivation:
    found = Verifications(erp_sync.exchanges).activation(company)
    assert found is not None
    return found


async def test_the_main_contact_of_a_completed_registration_is_stored_sealed_and_the_erp_gets_them_plain(
    erp_sync, keys
):
    company, user_id, person = uuid4(), keys.person(), markers()

    await erp_sync.deliver(REGISTRATION_REGISTRATIONS, "10001", completed(company, person, user_id))

    assert holds_any(stored(erp_sync), list(person.values())) == []
    assert f"kc1:{user_id}:" in stored(erp_sync)
    (activated,) = erp_sync.sent(ERP_OUTBOUND_CUSTOMER_CENTER_ACTIVATIONS)
    assert isinstance(activated, erp.CustomerCenterActivated) and activated.company_id == company
    told = (activated.main_contact_email, activated.main_contact_first_name, activated.main_contact_last_name)
    assert told == tuple(person.values()) and activated.main_contact_language == "en"


async def test_the_activation_opens_with_the_main_contacts_key(erp_sync, keys):
    company, user_id, person = uuid4(), keys.person(), markers()

    await erp_sync.deliver(REGISTRATION_REGISTRATIONS, "10001", completed(company, person, user_id))

    contact = activation(erp_sync, company).main_contact
    assert {k: contact[k] for k in person} == person and contact["user_id"] == str(user_id)


async def test_the_registration_sealed_on_the_wire_is_kept_sealed_through_the_real_consumer(erp_sync, keys, ring):
    company, user_id, person = uuid4(), keys.person(), markers()
    message = completed(company, person, user_id)
    body = seal_body(message, ring)  # as registration's relay publishes it
    assert holds_any(body.decode(), list(person.values())) == []
    batch = FakeBatch((record(published(REGISTRATION_REGISTRATIONS, "10001", message, 1, "registration"), body=body),))

    await erp_sync.inbox.consumers[REGISTRATION_REGISTRATIONS.name].handle(batch)

    assert batch.acked == 1 and holds_any(stored(erp_sync), list(person.values())) == []
    (activated,) = erp_sync.sent(ERP_OUTBOUND_CUSTOMER_CENTER_ACTIVATIONS)
    assert activated.main_contact_email == person["email"]


async def test_once_the_main_contacts_key_is_gone_nothing_of_them_opens_and_no_activation_names_them(
    erp_sync, keys, ring
):
    company, user_id, person = uuid4(), keys.person(), markers()
    await erp_sync.deliver(REGISTRATION_REGISTRATIONS, "10001", completed(company, person, user_id))
    assert len(erp_sync.sent(ERP_OUTBOUND_CUSTOMER_CENTER_ACTIVATIONS)) == 1  # told before the erasure
    keys.keys[user_id] = None
    erased = users.UserErased(user_id=user_id, company_id=company, erased_at=T0 + timedelta(days=30))
    await erp_sync.deliver(USERS_USERS, str(company), erased)

    contact = activation(erp_sync, company).main_contact
    assert (contact["email"], contact["first_name"], contact["last_name"]) == (None, None, None)
    assert holds_any(everything_read(erp_sync), list(person.values())) == []  # a replay of it all sends none of it
    requested = [e for _, e, _ in erp_sync.exchanges.notifications(0, 10_000)
                 if isinstance(e, CustomerCenterActivation.Requested)]  # fmt: skip
    assert len(requested) == 1 and translate(requested[0]) == []


async def test_a_registration_whose_main_contacts_key_is_gone_before_the_relay_tells_the_erp_nothing_and_fails_not(
    erp_sync, keys, ring
):
    company, user_id, person = uuid4(), keys.person(), markers()
    await erp_sync.deliver(REGISTRATION_REGISTRATIONS, "10001", completed(company, person, user_id))
    keys.keys[user_id] = None
    ring.forget(user_id)

    assert erp_sync.sent(ERP_OUTBOUND_CUSTOMER_CENTER_ACTIVATIONS) == []


async def test_a_registration_without_the_main_contacts_id_is_kept_plain_and_told_to_the_erp_as_before(erp_sync, keys):
    company, person = uuid4(), markers()

    await erp_sync.deliver(REGISTRATION_REGISTRATIONS, "10001", completed(company, person, None))

    assert holds_any(stored(erp_sync), list(person.values())) == list(person.values())
    assert "kc1:" not in stored(erp_sync) and keys.asked == []
    (activated,) = erp_sync.sent(ERP_OUTBOUND_CUSTOMER_CENTER_ACTIVATIONS)
    assert (activated.main_contact_email, activated.main_contact_last_name) == (person["email"], person["last_name"])
    contact = activation(erp_sync, company).main_contact
    assert {k: contact[k] for k in person} == person
