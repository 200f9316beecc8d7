"""erp-sync's event store keeps shop users' names, e-mail, phone and comments sealed with their own key (ADR 0035,
plan step 1): what the ERP is told stays plain (decision 5: the relay translates the opened events), an erased
person's values open as nothing (the ERP then hears of them by ids only), a value stored before this release still
reads, and a person users does not know (an ERP contact that is no shop user) keeps plain values. In-memory event
store with a key ring over a dict (a stand-in for users' key endpoint), the real consumer specs and translator on
the in-memory wire of ``test_erp_exchange``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from contracts.erp import v1 as erp
from contracts.erp_sync import v1 as sync_wire
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
from erp_sync.domain.model import ContactExchange, SalesOrderExchange
from kc_runtime.sealing import UNKNOWN, KeyRing, new_key
from tests.service.erp_sync.test_erp_exchange import T0, ErpSync, registration, released, user_created
from tests.support.erasure import holds_any


class UsersKeys:
    """users' key endpoint as a dict: a live person's key, None once erased, anyone else unknown (UNKNOWN)."""

    def __init__(self) -> None:
        self.keys: dict[UUID, bytes | None] = {}
        self.asked: list[UUID] = []

    def fetch(self, person: UUID) -> bytes | None:
        self.asked.append(person)
        return self.keys[person] if person in self.keys else UNKNOWN

    def person(self) -> UUID:
        user_id = uuid4()
        self.keys[user_id] = new_key()
        return user_id


@pytest.fixture
def keys() -> UsersKeys:
    return UsersKeys()


@pytest.fixture
def erp_sync(keys: UsersKeys) -> ErpSync:
    return ErpSync(KeyRing(keys.fetch))


def markers(tag: str = "") -> dict[str, str]:
    """Values that appear nowhere but in this person's data."""
    tag = tag + uuid4().hex[:10]
    return {"email": f"erika-{tag}@example.com", "first_name": f"Erika{tag}", "last_name": f"Muster{tag}"}


def stored(erp_sync: ErpSync) -> str:
    """Every event's state as the event store holds it."""
    notifications = erp_sync.exchanges.recorder.select_notifications(start=None, limit=100_000)
    return "\n".join(n.state.decode() for n in notifications)


def everything_read(erp_sync: ErpSync) -> str:
    """Every event as the event store opens it now, and every message a replay of them all would send."""
    events = [e for _, e, _ in erp_sync.exchanges.notifications(0, 100_000)]
    messages = [o.message.model_dump_json() for e in events for o in translate(e)]
    letters = [letter.message.model_dump_json() for e in events if (letter := dead_letter(e)) is not None]
    return "\n".join([*map(repr, events), *messages, *letters])


async def a_user(erp_sync: ErpSync, company: UUID, user_id: UUID, person: dict[str, str]) -> None:
    await erp_sync.deliver(USERS_USERS, str(company), user_created(company, user_id=user_id, **person))


async def erase(erp_sync: ErpSync, keys: UsersKeys, user_id: UUID, company: UUID) -> None:
    """users destroys the key, then tells everyone."""
    keys.keys[user_id] = None
    message = users.UserErased(user_id=user_id, company_id=company, erased_at=T0 + timedelta(days=30))
    await erp_sync.deliver(USERS_USERS, str(company), message)


async def registered(erp_sync: ErpSync) -> UUID:
    company = uuid4()
    await erp_sync.deliver(REGISTRATION_REGISTRATIONS, "10001", registration(company))
    return company


# ---- contact persons ------------------------------------------------------------------------------------------


async def test_a_users_names_and_email_are_stored_sealed_and_the_erp_gets_them_plain(erp_sync, keys):
    company, user_id, person = await registered(erp_sync), keys.person(), markers()
    await a_user(erp_sync, company, user_id, person)
    renamed = f"Renamed{uuid4().hex[:10]}"
    rename = users.UserRenamed(user_id=user_id, company_id=company, first_name=renamed, last_name=person["last_name"])
    await erp_sync.deliver(USERS_USERS, str(company), rename)

    assert holds_any(stored(erp_sync), [*person.values(), renamed]) == []
    assert f"kc1:{user_id}:" in stored(erp_sync)
    created, changed = erp_sync.sent(ERP_OUTBOUND_CONTACTS)
    assert isinstance(created, erp.ContactCreated) and isinstance(changed, erp.ContactChanged)
    assert (created.email, created.first_name, created.last_name) == tuple(person.values())
    assert (changed.first_name, changed.last_name) == (renamed, person["last_name"])
    x = Contacts(erp_sync.exchanges).contact(user_id)
    assert (x.email, x.first_name) == (person["email"], renamed)  # read plain


async def test_a_contact_message_sent_again_and_dead_lettered_is_stored_sealed_and_goes_out_plain(erp_sync, keys):
    company, user_id, person = await registered(erp_sync), keys.person(), markers()
    await a_user(erp_sync, company, user_id, person)
    x = Contacts(erp_sync.exchanges).contact(user_id)
    erp_sync.clock.now = x.message_at + timedelta(seconds=10)
    assert erp_sync.deliveries.resend_if_due(x.id)  # Resent carries the whole message
    erp_sync.clock.now = x.message_at + timedelta(seconds=100)
    assert erp_sync.deliveries.resend_if_due(x.id)  # Failed, too

    assert holds_any(stored(erp_sync), list(person.values())) == []
    _first, again = erp_sync.sent(ERP_OUTBOUND_CONTACTS)
    assert isinstance(again, erp.ContactCreated) and again.attempt == 2 and again.email == person["email"]
    (failed,) = [e for _, e, _ in erp_sync.exchanges.notifications(0, 100) if isinstance(e, ContactExchange.Failed)]
    letter = dead_letter(failed)
    assert letter is not None and isinstance(letter.message, erp.ContactCreated)
    assert letter.message.first_name == person["first_name"]


async def test_after_the_erasure_nothing_stored_opens_to_the_persons_values_and_a_replay_tells_the_erp_nothing_of_them(
    erp_sync, keys
):
    company, user_id, person = await registered(erp_sync), keys.person(), markers()
    await a_user(erp_sync, company, user_id, person)
    comment = f"Rampe {uuid4().hex[:10]}"
    in_erp = erp.ErpContactChanged(
        idempotency_key="erp-contact/C-7/1", customer_number="10001", contact_id="C-7", user_id=user_id,
        in_reply_to=None, phone="+49 711 4711", changed_at=T0, **person,
    )  # fmt: skip
    await erp_sync.deliver(ERP_INBOUND_CONTACTS, "10001", in_erp, producer="erp")
    order = released(company, user_id).model_copy(update={"buyer_comment": comment})
    await erp_sync.deliver(APPROVAL_ORDERS, str(order.order_id), order, producer="approval")
    x = Contacts(erp_sync.exchanges).contact(user_id)
    erp_sync.clock.now = x.message_at + timedelta(seconds=100)
    assert erp_sync.deliveries.resend_if_due(x.id)  # given up: the Failed event keeps the whole message
    values = [*person.values(), comment, "4711"]
    assert holds_any(everything_read(erp_sync), values) != []  # readable while the person lives

    await erase(erp_sync, keys, user_id, company)

    assert holds_any(stored(erp_sync), values) == []
    assert holds_any(everything_read(erp_sync), values) == []
    sent_again = [o.message for _, e, _ in erp_sync.exchanges.notifications(0, 100_000) for o in translate(e)]
    (request,) = [m for m in sent_again if isinstance(m, erp.SalesOrderRequested)]
    assert request.buyer is not None and (request.buyer.user_id, request.buyer.first_name) == (user_id, None)
    assert request.buyer_comment is None
    mine = [m for m in sent_again if getattr(m, "user_id", None) == user_id and m.event_type.startswith("Contact")]
    assert [type(m) for m in mine] == [erp.ContactErasureRequested]  # none of the messages that named them


async def test_the_erasure_drops_the_persons_key_at_once_without_it_the_ring_keeps_it_for_its_time(erp_sync, keys):
    company, user_id, person = await registered(erp_sync), keys.person(), markers()
    await a_user(erp_sync, company, user_id, person)
    order = released(company, user_id)
    await erp_sync.deliver(APPROVAL_ORDERS, str(order.order_id), order, producer="approval")
    keys.keys[user_id] = None  # users destroyed the key; its UserErased is not here yet
    exchange = erp_sync.exchanges.sales_order(order.order_id)
    assert exchange.request["buyer"]["email"] == person["email"]  # the ring keeps what it had, for its ttl

    await erase(erp_sync, keys, user_id, company)

    assert erp_sync.exchanges.sales_order(order.order_id).request["buyer"]["email"] is None


# ---- released orders ------------------------------------------------------------------------------------------


async def test_a_released_orders_request_is_sealed_with_the_buyers_and_the_approvers_own_keys_and_goes_out_plain(
    erp_sync, keys
):
    company = await registered(erp_sync)
    buyer, approver = keys.person(), keys.person()
    of_buyer, of_approver = markers("b"), markers("a")
    await a_user(erp_sync, company, buyer, of_buyer)
    await a_user(erp_sync, company, approver, of_approver)
    comment = f"Rampe {uuid4().hex[:10]}"
    order = released(company, buyer, approved_by=approver).model_copy(update={"buyer_comment": comment})
    await erp_sync.deliver(APPROVAL_ORDERS, str(order.order_id), order, producer="approval")

    assert holds_any(stored(erp_sync), [*of_buyer.values(), *of_approver.values(), comment]) == []
    (request,) = erp_sync.sent(ERP_OUTBOUND_SALES_ORDERS)
    assert request.buyer is not None and request.approver is not None
    assert (request.buyer.email, request.buyer.first_name, request.buyer.last_name) == tuple(of_buyer.values())
    assert (request.approver.email, request.approver.last_name) == (of_approver["email"], of_approver["last_name"])
    assert request.buyer_comment == comment

    await erase(erp_sync, keys, approver, company)
    kept = erp_sync.exchanges.sales_order(order.order_id).request
    assert (kept["approver"]["email"], kept["approver"]["first_name"]) == (None, None)
    assert (kept["buyer"]["email"], kept["buyer_comment"]) == (of_buyer["email"], comment)  # the buyer's own key
    erp_sync.clock.now = datetime.now(UTC) + timedelta(seconds=15)
    assert erp_sync.deliveries.resend_if_due(SalesOrderExchange.create_id(order.order_id))
    (again,) = erp_sync.sent(ERP_OUTBOUND_SALES_ORDERS)[1:]
    assert again.attempt == 2 and again.approver is not None and again.buyer is not None
    assert (again.approver.user_id, again.approver.email, again.approver.first_name) == (approver, None, None)
    assert (again.buyer.email, again.buyer_comment) == (of_buyer["email"], comment)


async def test_an_order_of_a_buyer_users_does_not_know_keeps_their_values_plain(erp_sync, keys):
    company, stranger = await registered(erp_sync), uuid4()  # e.g. test data: users answers unknown_person
    await a_user(erp_sync, company, stranger, markers())
    order = released(company, stranger)
    await erp_sync.deliver(APPROVAL_ORDERS, str(order.order_id), order, producer="approval")
    assert "Rampe 3" in stored(erp_sync)
    (request,) = erp_sync.sent(ERP_OUTBOUND_SALES_ORDERS)
    assert request.buyer_comment == "Rampe 3"


# ---- the ERP's contact persons ----------------------------------------------------------------------------------


async def test_the_erps_contact_that_is_a_user_is_sealed_one_that_is_no_user_stays_plain(erp_sync, keys):
    company, user_id = await registered(erp_sync), keys.person()
    await a_user(erp_sync, company, user_id, markers())
    of_user, of_other, of_stranger = markers("u"), markers("o"), markers("s")

    def changed(contact_id: str, person: dict[str, str], user: UUID | None) -> erp.ErpContactChanged:
        return erp.ErpContactChanged(
            idempotency_key=f"erp-contact/{contact_id}/1", customer_number="10001", contact_id=contact_id,
            user_id=user, in_reply_to=None, phone="+49 711 1", changed_at=T0, **person,
        )  # fmt: skip

    await erp_sync.deliver(ERP_INBOUND_CONTACTS, "10001", changed("C-1", of_user, user_id), producer="erp")
    await erp_sync.deliver(ERP_INBOUND_CONTACTS, "10001", changed("C-2", of_other, None), producer="erp")
    await erp_sync.deliver(ERP_INBOUND_CONTACTS, "10001", changed("C-3", of_stranger, uuid4()), producer="erp")

    text = stored(erp_sync)
    assert holds_any(text, list(of_user.values())) == []
    assert holds_any(text, [*of_other.values(), *of_stranger.values()]) != []  # nobody whose erasure reaches them
    contacts = Customers(erp_sync.exchanges).customer("10001").erp_contacts
    assert contacts["C-1"]["email"] == of_user["email"]
    told = {
        m.contact_id: m for m in erp_sync.sent(ERP_SYNC_CUSTOMERS) if isinstance(m, sync_wire.ErpContactPersonChanged)
    }
    assert (told["C-1"].first_name, told["C-2"].first_name) == (of_user["first_name"], of_other["first_name"])


# ---- before this release --------------------------------------------------------------------------------------


async def test_values_stored_before_sealing_still_read_and_what_is_stored_now_is_sealed(erp_sync, keys):
    company, user_id, person = await registered(erp_sync), keys.person(), markers()
    mapper = erp_sync.exchanges.mapper
    ring, mapper.keys = mapper.keys, None  # the release before sealing
    await a_user(erp_sync, company, user_id, person)
    mapper.keys = ring
    assert holds_any(stored(erp_sync), list(person.values())) != []

    x = Contacts(erp_sync.exchanges).contact(user_id)
    assert (x.email, x.first_name, x.last_name) == tuple(person.values())
    order = released(company, user_id)
    await erp_sync.deliver(APPROVAL_ORDERS, str(order.order_id), order, producer="approval")
    (request,) = erp_sync.sent(ERP_OUTBOUND_SALES_ORDERS)
    assert request.buyer is not None and request.buyer.email == person["email"]
    (sealed,) = [n for n in erp_sync.exchanges.recorder.select_notifications(start=None, limit=100)
                 if n.originator_id == SalesOrderExchange.create_id(order.order_id)]  # fmt: skip
    assert holds_any(sealed.state.decode(), list(person.values())) == []
