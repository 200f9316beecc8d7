"""approval's event store seals what names people and what they wrote (ADR 0035 plan step 1): a member's names and
e-mail, the buyer's checkout comment wherever an order's content is stored, the comments of decisions, resubmissions,
cancellations and the conversation — each with its person's key from a :class:`KeyRing` (here over a dict standing in
for users' key endpoint). Stored sealed, read plain; once the person is erased (key gone, ring told) they open as
None and the views show an erased person without their words; a value stored before sealing still reads. The
company's addresses stay plain. In-memory event store, the consumer's real handlers."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from approval.adapters.inbound.explanations_http import explanation_out
from approval.adapters.inbound.http import present_order
from approval.adapters.inbound.kafka import consumer_specs
from approval.adapters.outbound.translator import make_translator
from approval.application.explanations import Explanations
from approval.application.orders import Orders, UnknownCaller
from approval.domain.budget import Budget
from approval.domain.members import Member
from approval.domain.model import Address, Order, OrderLine
from approval.domain.pricing import OrderRequest
from contracts.approval import v1 as wire
from contracts.topics import USERS_USERS
from contracts.users import v1 as users
from kc_runtime.sealing import UNKNOWN, KeyRing, is_sealed, new_key
from tests.service.approval.test_erasure import markers
from tests.service.notifications.test_mail_rules import inbound
from tests.support.approval import Company
from tests.support.users import signed_in
from tests.unit.approval.test_order import content

MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
ERASED_AT = datetime(2026, 12, 7, 9, 14, tzinfo=UTC)
BUDGET = Budget(max_quantity=10, max_value=Decimal("100.00"), currency="EUR")


class Users:
    """users' key endpoint: who has which key (None: erased); an id it does not know answers UNKNOWN (plain)."""

    def __init__(self) -> None:
        self.keys: dict[UUID, bytes | None] = {}

    def fetch(self, person: UUID) -> bytes | None:
        return self.keys.get(person, UNKNOWN)


@pytest.fixture
def keys() -> Users:
    return Users()


@pytest.fixture
def orders(keys: Users) -> Orders:
    return Orders(env=MEMORY, key_ring=KeyRing(keys.fetch))


def handle(orders: Orders, message: Any) -> list[Any]:
    (spec,) = [s for s in consumer_specs(orders, lambda _company: []) if s.topic is USERS_USERS]
    return spec.handlers[type(message)](inbound(message, USERS_USERS))


def join(orders: Orders, keys: Users, company: Company, person: dict[str, str], permissions: list[str]) -> Member:
    """A person users knows (with a key), told to approval as users tells it."""
    user_id = uuid4()
    keys.keys[user_id] = new_key()
    created = users.UserCreated(
        user_id=user_id, company_id=company.id, email=person["email"], first_name=person["first_name"],
        last_name=person["last_name"], language="de", status="active", role_ids=[], permissions=permissions,
        budget=users.Budget(), is_main_contact=False, created_at=ERASED_AT,
    )  # fmt: skip
    orders.save(*handle(orders, created))
    orders.save(*orders.member_changed(user_id, budget=BUDGET))
    return orders.caller(signed_in(person["email"]))


def erase(orders: Orders, keys: Users, member: Member) -> None:
    """As users does it: deactivated, then the key destroyed, then ``UserErased``."""
    orders.save(*handle(orders, users.UserDeactivated(user_id=member.id, company_id=member.company_id)))
    keys.keys[member.id] = None
    message = users.UserErased(user_id=member.id, company_id=member.company_id, erased_at=ERASED_AT, changed_by=uuid4())
    orders.save(*handle(orders, message))


def stored(orders: Orders, aggregate_id: UUID) -> str:
    """Everything the event store holds of an aggregate, as text."""
    return "\n".join(e.state.decode() for e in orders.recorder.select_events(aggregate_id))


def request(quantity: int, comment: str | None = None, **fields: Any) -> OrderRequest:
    wanted = content(OrderLine("A-1", "Schraube", quantity, Decimal("10.00")))
    return OrderRequest.of(replace(wanted, buyer_comment=comment, **fields))


def shown(out: Any) -> str:
    return out.model_dump_json()


def test_a_members_names_and_email_are_stored_sealed_and_read_plain(orders, keys):
    person = markers()
    member = join(orders, keys, Company(orders), person, ["place_orders"])
    orders.save(*handle(orders, users.UserRenamed(user_id=member.id, company_id=member.company_id,
                                                  first_name=person["first_name"] + "x", last_name="Neu")))  # fmt: skip

    held = stored(orders, member.id)
    assert not any(value in held for value in (person["email"], person["first_name"], person["last_name"]))
    assert held.count("kc1:") >= 5
    loaded = orders.repository.get(member.id)
    assert (loaded.email, loaded.first_name, loaded.last_name) == (person["email"], person["first_name"] + "x", "Neu")
    assert orders.names([member.id]) == {member.id: f"{person['first_name']}x Neu"}


def test_the_words_on_an_order_are_stored_sealed_with_their_authors_keys_and_read_plain(orders, keys):
    company = Company(orders)
    buyer_person, approver_person = markers(), markers()
    buyer = join(orders, keys, company, buyer_person, ["place_orders"])
    approver = join(orders, keys, company, approver_person, ["approve_orders"])
    company.approvers(approver)
    held = orders.submit(buyer, request(20, buyer_person["checkout"]))
    orders.comment(buyer, held.id, buyer_person["comment"])
    orders.comment(approver, held.id, approver_person["comment"])
    approved = orders.approve(approver, held.id, approver_person["decision"])

    text = stored(orders, held.id)
    for value in (buyer_person["checkout"], buyer_person["comment"], approver_person["comment"],
                  approver_person["decision"]):  # fmt: skip
        assert value not in text
    assert approved.status.value == "released"
    out = shown(present_order(orders, orders.repository.get(held.id)))
    for value in (buyer_person["checkout"], buyer_person["comment"], approver_person["comment"],
                  approver_person["decision"], buyer_person["first_name"]):  # fmt: skip
        assert value in out
    assert approved.content.delivery_address.street in text  # the company's address stays plain


def test_a_rejection_resubmission_and_cancellation_are_stored_sealed(orders, keys):
    company = Company(orders)
    buyer_person, approver_person = markers(), markers()
    buyer = join(orders, keys, company, buyer_person, ["place_orders"])
    approver = join(orders, keys, company, approver_person, ["approve_orders"])
    company.approvers(approver)
    held = orders.submit(buyer, request(20))
    orders.reject(approver, held.id, approver_person["decision"])
    orders.resubmit(buyer, held.id, buyer_person["comment"], request(15, buyer_person["checkout"]))
    orders.cancel(buyer, held.id, buyer_person["decision"])

    text = stored(orders, held.id)
    assert not any(value in text for value in (*buyer_person.values(), *approver_person.values()))
    loaded = orders.repository.get(held.id)
    said = {(c.kind, c.text) for c in loaded.conversation}
    assert {("rejection", approver_person["decision"]), ("resubmission", buyer_person["comment"]),
            ("cancellation", buyer_person["decision"])} <= said  # fmt: skip
    assert loaded.content.buyer_comment == buyer_person["checkout"]


def test_once_erased_their_values_open_as_none_and_the_views_show_an_erased_person_without_their_words(orders, keys):
    company = Company(orders)
    buyer_person, approver_person = markers(), markers()
    buyer = join(orders, keys, company, buyer_person, ["place_orders"])
    approver = join(orders, keys, company, approver_person, ["approve_orders"])
    company.approvers(approver)
    held = orders.submit(buyer, request(20, buyer_person["checkout"]))
    orders.comment(approver, held.id, approver_person["comment"])
    orders.reject(approver, held.id, approver_person["decision"])

    erase(orders, keys, approver)

    member = orders.repository.get(approver.id)
    assert member.erased and (member.email, member.first_name, member.last_name) == ("", "", "")
    (joined,) = [e for e in orders.events.get(approver.id) if isinstance(e, Member.Joined)]
    assert (joined.email, joined.first_name, joined.last_name) == (None, None, None)  # they no longer open
    order = orders.repository.get(held.id)
    assert {(c.kind, c.text) for c in order.conversation if c.author_id == approver.id} == {
        ("comment", None), ("rejection", None)
    }
    assert order.content.buyer_comment == buyer_person["checkout"]  # the buyer's words are theirs, still there
    out = present_order(orders, order)
    assert out.decided_by is not None and out.decided_by.model_dump() == {"id": approver.id, "name": None,
                                                                          "erased": True}  # fmt: skip
    (step,) = [e for e in out.timeline if e.event == "Rejected"]
    assert step.by is not None and step.by.erased and step.comment is None
    assert out.buyer_comment == buyer_person["checkout"] and not out.buyer.erased
    assert not any(value in shown(out) for value in approver_person.values())
    explained = explanation_out(Explanations(orders).explain(buyer, held.id))
    assert not any(value in shown(explained) for value in approver_person.values())
    text = "\n".join(stored(orders, i) for i in (held.id, approver.id))
    assert not any(value in text for value in approver_person.values())  # the store never held them plain


def test_a_rejection_replayed_after_its_approvers_erasure_goes_out_with_an_empty_comment(orders, keys):
    company = Company(orders)
    approver_person = markers()
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    approver = join(orders, keys, company, approver_person, ["approve_orders"])
    company.approvers(approver)
    held = orders.submit(buyer, request(20))
    orders.reject(approver, held.id, approver_person["decision"])
    erase(orders, keys, approver)

    (rejected,) = [e for e in orders.events.get(held.id) if isinstance(e, Order.Rejected)]
    (sent,) = make_translator(lambda oid, version: orders.repository.get(oid, version=version))(rejected)
    assert isinstance(sent.message, wire.OrderRejected)
    assert sent.message.comment == "" and sent.message.approver_id == approver.id


def test_an_erased_buyers_checkout_comment_is_gone_from_every_content_and_the_addresses_stay(orders, keys):
    company = Company(orders)
    person = markers()
    buyer = join(orders, keys, company, person, ["place_orders"])
    delivery = Address(name="Wareneingang", street=f"Hafenstr. {person['comment'][-4:]}", postal_code="20457",
                       city="Hamburg", country="DE")  # fmt: skip
    held = orders.submit(buyer, request(20, person["checkout"], delivery_address=delivery))

    erase(orders, keys, buyer)
    approved = orders.approve(company.main, held.id, "passt")

    assert approved.status.value == "released"
    events = list(orders.events.get(held.id))
    assert all(e.content.buyer_comment is None for e in events if isinstance(e, Order.Submitted | Order.Released))
    (released,) = [e for e in events if isinstance(e, Order.Released)]
    (sent,) = make_translator(lambda oid, version: orders.repository.get(oid, version=version))(released)
    assert sent.message.buyer_comment is None and sent.message.delivery_address.street == delivery.street
    assert person["checkout"] not in stored(orders, held.id) and delivery.street in stored(orders, held.id)
    out = present_order(orders, orders.repository.get(held.id))
    assert out.buyer.erased and out.buyer_comment is None and out.delivery_address == vars(delivery)


def test_an_erasure_releases_the_address_claim_although_the_address_no_longer_opens(keys):
    """users destroys the key before it says ``UserErased``: a process that no longer holds the key (here: it keeps
    none) cannot open the member's address, yet the address finds them no more."""
    orders = Orders(env=MEMORY, key_ring=KeyRing(keys.fetch, ttl_s=0))
    person = markers()
    member = join(orders, keys, Company(orders), person, ["place_orders"])

    erase(orders, keys, member)

    with pytest.raises(UnknownCaller):
        orders.caller(signed_in(person["email"]))


def test_a_plain_value_stored_before_sealing_still_reads(orders, keys):
    company = Company(orders)
    person = markers()
    ring = orders.mapper.keys
    orders.mapper.keys = None  # as stored before this release: no ring
    try:
        buyer = join(orders, keys, company, person, ["place_orders"])
        held = orders.submit(buyer, request(20, person["checkout"]))
    finally:
        orders.mapper.keys = ring
    assert person["checkout"] in stored(orders, held.id) and person["email"] in stored(orders, buyer.id)

    orders.comment(buyer, held.id, person["comment"])  # stored sealed now

    assert person["comment"] not in stored(orders, held.id)
    order = orders.repository.get(held.id)
    assert order.content.buyer_comment == person["checkout"]
    assert [c.text for c in order.conversation] == [person["checkout"], person["comment"]]
    assert orders.repository.get(buyer.id).first_name == person["first_name"]


def test_values_of_people_users_does_not_know_stay_plain(orders):
    company = Company(orders)  # its members are no users of users' (the stand-in answers UNKNOWN)
    buyer = company.member("bea", ["place_orders"], BUDGET)
    held = orders.submit(buyer, request(20, "an die Rampe"))
    assert "an die Rampe" in stored(orders, held.id)
    assert not is_sealed(orders.repository.get(held.id).content.buyer_comment)
