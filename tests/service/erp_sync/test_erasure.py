"""erp-sync's part of erasing a person (ADR 0035, decisions 3 and 5): on ``UserErased`` the contact exchange forgets
names and e-mail in the consumer's transaction and asks the ERP to erase its contact person
(``ContactErasureRequested``: ids only, re-sent, dead-lettered and retried like every ERP message); the ERP's
``ContactErased`` settles it; no later users or ERP message brings the person's data back, a released order names
them by ids only, and a replay republishes the erasure, never what the ERP was told before. In-memory event store,
the real consumer specs and translator on the in-memory wire of ``test_erp_exchange``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from contracts.erp import v1 as erp
from contracts.topics import (
    APPROVAL_ORDERS,
    ERP_INBOUND_CONTACTS,
    ERP_OUTBOUND_CONTACTS,
    ERP_OUTBOUND_SALES_ORDERS,
    ERP_SYNC_CUSTOMERS,
    REGISTRATION_REGISTRATIONS,
    USERS_USERS,
)
from contracts.users import v1 as users
from erp_sync.adapters.outbound.translator import dead_letter, translate
from erp_sync.application.contacts import Contacts
from erp_sync.application.customers import Customers
from erp_sync.domain.model import ContactExchange, DeliveryStatus
from tests.service.erp_sync.test_erp_exchange import T0, ErpSync, registration, released, user_created

ERASED_AT = T0 + timedelta(days=30)


@pytest.fixture
def erp_sync() -> ErpSync:
    return ErpSync()


def markers() -> dict[str, str]:
    """Values that appear nowhere but in this person's data."""
    tag = uuid4().hex[:10]
    return {"email": f"erika-{tag}@example.com", "first_name": f"Erika{tag}", "last_name": f"Muster{tag}"}


def holds(value: Any, person: dict[str, str]) -> bool:
    return any(marker in repr(value) for marker in person.values())


def erased(user_id: UUID, company_id: UUID) -> users.UserErased:
    return users.UserErased(user_id=user_id, company_id=company_id, erased_at=ERASED_AT, changed_by=uuid4())


async def known_contact(erp_sync: ErpSync, person: dict[str, str], answered: bool = True) -> tuple[UUID, UUID]:
    """A registered company's user erp-sync told the ERP about; the ERP named its contact C-7 (if ``answered``)."""
    company = uuid4()
    await erp_sync.deliver(REGISTRATION_REGISTRATIONS, "10001", registration(company))
    created = user_created(company, **person)
    await erp_sync.deliver(USERS_USERS, str(company), created)
    if answered:
        answer = erp.ErpContactChanged(
            idempotency_key="erp-contact/C-7/1", customer_number="10001", contact_id="C-7", user_id=created.user_id,
            in_reply_to=f"contact/{created.user_id}/1", changed_at=T0, **person,
        )  # fmt: skip
        await erp_sync.deliver(ERP_INBOUND_CONTACTS, "10001", answer, producer="erp")
    await erp_sync.deliver(
        USERS_USERS, str(company), users.UserDeactivated(user_id=created.user_id, company_id=company)
    )
    erp_sync.sent(ERP_OUTBOUND_CONTACTS)  # what was sent before
    erp_sync.outbox.seen.clear()
    return created.user_id, company


def erasure_answer(user_id: UUID, sequence: int, key: str = "erp-contact-erasure/C-7") -> erp.ContactErased:
    return erp.ContactErased(
        idempotency_key=key, customer_number="10001", contact_id="C-7", user_id=user_id,
        in_reply_to=f"contact/{user_id}/{sequence}", erased_at=ERASED_AT + timedelta(seconds=3),
    )  # fmt: skip


def contact(erp_sync: ErpSync, user_id: UUID) -> ContactExchange:
    return Contacts(erp_sync.exchanges).contact(user_id)


# ---- the exchange and what the ERP is told ------------------------------------------------------------------


async def test_an_erased_users_contact_forgets_names_and_the_erp_is_asked_to_erase_it(erp_sync: ErpSync):
    person = markers()
    user_id, company = await known_contact(erp_sync, person)

    await erp_sync.deliver(USERS_USERS, str(company), erased(user_id, company))

    (asked,) = erp_sync.sent(ERP_OUTBOUND_CONTACTS)
    assert isinstance(asked, erp.ContactErasureRequested)
    assert (asked.user_id, asked.company_id, asked.erp_contact_id, asked.customer_number) == (
        user_id, company, "C-7", "10001",
    )  # fmt: skip
    assert (asked.idempotency_key, asked.sequence, asked.attempt, asked.requested_at) == (
        f"contact/{user_id}/3", 3, 1, ERASED_AT,
    )  # fmt: skip
    assert not holds(asked.model_dump_json(), person)
    x = contact(erp_sync, user_id)
    assert x.erased and (x.email, x.first_name, x.last_name) == ("", "", "")
    assert x.status is DeliveryStatus.REQUESTED and x.message == "erasure_requested"


async def test_the_erp_is_asked_also_when_it_never_named_its_contact_id(erp_sync: ErpSync):
    user_id, company = await known_contact(erp_sync, markers(), answered=False)
    await erp_sync.deliver(USERS_USERS, str(company), erased(user_id, company))
    (asked,) = erp_sync.sent(ERP_OUTBOUND_CONTACTS)
    assert isinstance(asked, erp.ContactErasureRequested) and asked.erp_contact_id is None
    assert asked.user_id == user_id  # the ERP finds it by the user id it was told


async def test_the_erps_answer_is_recorded_once(erp_sync: ErpSync):
    user_id, company = await known_contact(erp_sync, markers())
    await erp_sync.deliver(USERS_USERS, str(company), erased(user_id, company))

    await erp_sync.deliver(ERP_INBOUND_CONTACTS, "10001", erasure_answer(user_id, 3), producer="erp")
    version = contact(erp_sync, user_id).version
    await erp_sync.deliver(ERP_INBOUND_CONTACTS, "10001", erasure_answer(user_id, 3, key="copy"), producer="erp")

    x = contact(erp_sync, user_id)
    assert x.status is DeliveryStatus.ACKNOWLEDGED and x.erp_erased_at == ERASED_AT + timedelta(seconds=3)
    assert x.version == version
    erp_sync.clock.now = ERASED_AT + timedelta(hours=1)
    erp_sync.sent(ERP_OUTBOUND_CONTACTS)
    erp_sync.outbox.seen.clear()
    assert erp_sync.tick() == 0  # nothing is sent again
    assert erp_sync.sent(ERP_OUTBOUND_CONTACTS) == []


async def test_an_unanswered_erasure_is_sent_again_then_dead_lettered_and_an_operators_retry_asks_again(
    erp_sync: ErpSync,
):
    person = markers()
    user_id, company = await known_contact(erp_sync, person)
    await erp_sync.deliver(USERS_USERS, str(company), erased(user_id, company))
    x = contact(erp_sync, user_id)

    erp_sync.clock.now = x.message_at + timedelta(seconds=10)
    assert erp_sync.tick() == 1
    erp_sync.clock.now = x.message_at + timedelta(seconds=100)
    assert erp_sync.tick() == 1  # given up
    assert contact(erp_sync, user_id).status is DeliveryStatus.FAILED

    first, again = erp_sync.sent(ERP_OUTBOUND_CONTACTS)
    assert isinstance(again, erp.ContactErasureRequested) and again.attempt == 2
    assert again.idempotency_key == first.idempotency_key
    (failed,) = [e for _, e, _ in erp_sync.exchanges.notifications(0, 10_000) if isinstance(e, ContactExchange.Failed)]
    letter = dead_letter(failed)
    assert letter is not None and isinstance(letter.message, erp.ContactErasureRequested)
    assert letter.topic is ERP_OUTBOUND_CONTACTS and not holds(letter.message.model_dump_json(), person)

    resent = erp_sync.deliveries.for_key(first.idempotency_key)  # the dead letter's key finds the exchange
    assert resent is not None and resent.retry(erp_sync.clock.now)
    erp_sync.exchanges.save(resent)
    *_, retried = erp_sync.sent(ERP_OUTBOUND_CONTACTS)
    assert isinstance(retried, erp.ContactErasureRequested) and retried.attempt == 3


async def test_erasing_twice_changes_nothing(erp_sync: ErpSync):
    user_id, company = await known_contact(erp_sync, markers())
    await erp_sync.deliver(USERS_USERS, str(company), erased(user_id, company))
    stored = erp_sync.exchanges.max_notification_id()
    await erp_sync.deliver(USERS_USERS, str(company), erased(user_id, company))
    assert erp_sync.exchanges.max_notification_id() == stored


@pytest.mark.parametrize(
    "later",
    [
        lambda u, c, p: users.UserRenamed(user_id=u, company_id=c, first_name=p["first_name"], last_name="Neu"),
        lambda u, c, p: users.UserEmailChanged(user_id=u, company_id=c, email=p["email"], previous_email="x@e.com"),
        lambda u, c, p: users.UserActivated(user_id=u, company_id=c),
        lambda u, c, p: users.UserRolesSet(
            user_id=u, company_id=c, role_ids=["main_contact"], permissions=[], is_main_contact=True
        ),
        lambda u, c, p: user_created(c, user_id=u, **p),
    ],
    ids=["renamed", "email-changed", "activated", "roles-set", "created-again"],
)
async def test_no_later_users_event_is_sent_to_the_erp_or_kept(erp_sync: ErpSync, later):
    person = markers()
    user_id, company = await known_contact(erp_sync, person)
    await erp_sync.deliver(USERS_USERS, str(company), erased(user_id, company))
    erp_sync.sent(ERP_OUTBOUND_CONTACTS)
    erp_sync.outbox.seen.clear()

    await erp_sync.deliver(USERS_USERS, str(company), later(user_id, company, person))

    assert erp_sync.sent(ERP_OUTBOUND_CONTACTS) == []
    x = contact(erp_sync, user_id)
    assert (x.email, x.first_name, x.last_name, x.active) == ("", "", "", False)


async def test_a_person_erased_before_erp_sync_knew_them_is_never_sent_to_the_erp(erp_sync: ErpSync):
    person, user_id, company = markers(), uuid4(), uuid4()
    await erp_sync.deliver(USERS_USERS, str(company), erased(user_id, company))
    await erp_sync.deliver(USERS_USERS, str(company), user_created(company, user_id=user_id, **person))

    assert erp_sync.sent(ERP_OUTBOUND_CONTACTS) == []
    x = contact(erp_sync, user_id)
    assert x.erased and x.sequence == 0 and not holds(vars(x), person)


# ---- the ERP's view of the person, orders, replays -----------------------------------------------------------


async def test_the_erps_contact_of_the_user_keeps_ids_only_and_a_later_erp_change_brings_no_names_back(
    erp_sync: ErpSync,
):
    person = markers()
    user_id, company = await known_contact(erp_sync, person)
    changed_in_erp = erp.ErpContactChanged(
        idempotency_key="erp-contact/C-7/2", customer_number="10001", contact_id="C-7", user_id=user_id,
        in_reply_to=None, phone="+49 711 4711", changed_at=T0 + timedelta(days=1), **person,
    )  # fmt: skip
    await erp_sync.deliver(ERP_INBOUND_CONTACTS, "10001", changed_in_erp, producer="erp")
    customers = Customers(erp_sync.exchanges)
    assert holds(customers.customer("10001").erp_contacts, person)
    erp_sync.outbox.drain()
    erp_sync.outbox.seen.clear()

    await erp_sync.deliver(USERS_USERS, str(company), erased(user_id, company))
    assert not holds(customers.customer("10001").erp_contacts, person)
    assert customers.customer("10001").erp_contacts["C-7"]["erased"] is True

    again = changed_in_erp.model_copy(update={"idempotency_key": "erp-contact/C-7/3", "changed_at": ERASED_AT})
    await erp_sync.deliver(ERP_INBOUND_CONTACTS, "10001", again, producer="erp")
    assert not holds(customers.customer("10001").erp_contacts, person)
    assert erp_sync.sent(ERP_SYNC_CUSTOMERS) == []  # nothing of them goes to the other services


async def test_an_order_released_after_the_erasure_names_the_buyer_by_ids_only(erp_sync: ErpSync):
    person = markers()
    user_id, company = await known_contact(erp_sync, person)
    await erp_sync.deliver(USERS_USERS, str(company), erased(user_id, company))

    order = released(company, user_id)
    await erp_sync.deliver(APPROVAL_ORDERS, str(order.order_id), order, producer="approval")

    (request,) = erp_sync.sent(ERP_OUTBOUND_SALES_ORDERS)
    assert request.buyer is not None and (request.buyer.user_id, request.buyer.erp_contact_id) == (user_id, "C-7")
    assert (request.buyer.email, request.buyer.first_name, request.buyer.last_name) == (None, None, None)


async def test_a_replay_republishes_the_erasure_never_what_the_erp_was_told_before(erp_sync: ErpSync):
    person = markers()
    user_id, company = await known_contact(erp_sync, person)
    await erp_sync.deliver(USERS_USERS, str(company), erased(user_id, company))

    index = erp_sync.exchanges.replay_index
    mine = [
        erp_sync.exchanges.mapper.to_domain_event(n)
        for n in index.page(datetime.min.replace(tzinfo=T0.tzinfo), None, 0, 1000)
        if n.originator_id == ContactExchange.create_id(user_id)
    ]
    assert [type(e) for e in mine] == [ContactExchange.Erased]
    (republished,) = [o.message for e in mine for o in translate(e)]
    assert isinstance(republished, erp.ContactErasureRequested) and not holds(republished.model_dump_json(), person)
