"""approval's part of erasing a person (ADR 0035, decisions 3 and 4): on ``UserErased`` the member forgets their names
and e-mail in the consumer's transaction (``Member.Erased``), their address no longer finds them, a redelivery and a
stale rename change nothing, and every view of an order shows them as an erased user — their id kept, their name and
the words they wrote gone, the decisions they took still there. In-memory event store, the consumer's handlers and its
real consumer spec."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import AggregateNotFoundError

from approval.adapters.inbound.explanations_http import explanation_out
from approval.adapters.inbound.http import present_order, summary_out
from approval.adapters.inbound.kafka import consumer_specs
from approval.adapters.outbound.translator import make_translator
from approval.application.explanations import Explanations
from approval.application.orders import Orders, UnknownCaller
from approval.application.what_if import PolicyChange, WhatIfs
from approval.domain.budget import Budget
from approval.domain.members import Member, MemberEmail, MemberSubject
from approval.domain.model import Address, Order, OrderLine
from approval.domain.pricing import OrderRequest
from approval.domain.tiers import NotAnApprover as TierNotAnApprover
from approval.domain.tiers import Tier
from contracts.topics import USERS_USERS
from contracts.users import v1 as users
from kc_runtime import metrics
from kc_runtime.consumer import IdempotentConsumer
from kc_runtime.eventstore import WorkerPool
from tests.service.notifications.test_mail_rules import inbound
from tests.service.users.test_registration_consumer import FakeBatch, RecordingBroker
from tests.support.approval import Company
from tests.support.messages import consumer_record
from tests.support.users import TEST_ISSUER as ISSUER
from tests.support.users import signed_in
from tests.unit.approval.test_order import content

ERASED_AT = datetime(2026, 12, 7, 9, 14, tzinfo=UTC)
BUDGET = Budget(max_quantity=10, max_value=Decimal("100.00"), currency="EUR")


def markers() -> dict[str, str]:
    """Values that appear nowhere but in this person's data."""
    tag = uuid4().hex[:10]
    return {
        "email": f"erika-{tag}@example.com", "first_name": f"Erika{tag}", "last_name": f"Muster{tag}",
        "comment": f"Kommentar{tag}", "decision": f"Entscheidung{tag}", "checkout": f"Rampe{tag}",
    }  # fmt: skip


def handle(orders: Orders, message: Any) -> list[Any]:
    (spec,) = [s for s in consumer_specs(orders, lambda _company: []) if s.topic is USERS_USERS]
    return spec.handlers[type(message)](inbound(message, USERS_USERS))


def join(orders: Orders, company: Company, person: dict[str, str], permissions: list[str]) -> Member:
    user_id = uuid4()
    orders.save(
        *orders.member_joined(
            user_id, company.id, person["email"], person["first_name"], person["last_name"], "de",
            active=True, permissions=permissions, budget=BUDGET,
        )
    )  # fmt: skip
    return orders.caller(signed_in(person["email"]))


def erase(orders: Orders, member: Member) -> list[Any]:
    """As users does it: deactivated first, then erased."""
    orders.save(*handle(orders, users.UserDeactivated(user_id=member.id, company_id=member.company_id)))
    message = users.UserErased(user_id=member.id, company_id=member.company_id, erased_at=ERASED_AT, changed_by=uuid4())
    changed = handle(orders, message)
    orders.save(*changed)
    return changed


def request(quantity: int, comment: str | None = None) -> OrderRequest:
    return OrderRequest.of(
        replace(content(OrderLine("A-1", "Schraube", quantity, Decimal("10.00"))), buyer_comment=comment)
    )


@pytest.fixture
def orders() -> Orders:
    return Orders(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


# ---- the member ------------------------------------------------------------------------------------------------


def test_the_consumer_records_the_erasure_on_the_member_and_forgets_names_and_email(orders):
    person = markers()
    member = join(orders, Company(orders), person, ["place_orders"])

    changed = erase(orders, member)

    stored = orders.repository.get(member.id)
    assert isinstance(stored, Member) and stored.erased and stored.erased_at == ERASED_AT and not stored.active
    assert (stored.email, stored.first_name, stored.last_name, stored.name) == ("", "", "", "")
    assert any(isinstance(a, Member) for a in changed)
    (erased_event,) = [e for e in orders.events.get(member.id) if isinstance(e, Member.Erased)]
    assert not any(v in repr(vars(erased_event)) for v in person.values())  # the event names no personal value


def test_an_erased_persons_address_no_longer_finds_them(orders):
    person = markers()
    member = join(orders, Company(orders), person, ["place_orders"])
    erase(orders, member)
    index = orders.repository.get(orders.email_index_ids(person["email"])[0])
    assert isinstance(index, MemberEmail) and index.user_id is None
    with pytest.raises(UnknownCaller):
        orders.caller(signed_in(person["email"]))


def test_an_erasure_told_again_changes_nothing(orders):
    member = join(orders, Company(orders), markers(), ["place_orders"])
    erase(orders, member)
    version = orders.repository.get(member.id).version
    again = users.UserErased(user_id=member.id, company_id=member.company_id, erased_at=ERASED_AT, changed_by=uuid4())
    assert handle(orders, again) == []
    assert orders.repository.get(member.id).version == version


def created(user_id: UUID, company_id: UUID, person: dict[str, str]) -> users.UserCreated:
    return users.UserCreated(
        user_id=user_id, company_id=company_id, email=person["email"], first_name=person["first_name"],
        last_name=person["last_name"], language="de", status="active", role_ids=["approver"],
        permissions=["approve_orders", "place_orders"], budget=users.Budget(), is_main_contact=False,
        created_at=ERASED_AT,
    )  # fmt: skip


LATER = [
    created,
    lambda u, c, p: users.UserRenamed(user_id=u, company_id=c, first_name=p["first_name"], last_name=p["last_name"]),
    lambda u, c, p: users.UserEmailChanged(user_id=u, company_id=c, email=p["email"], previous_email=p["email"]),
    lambda u, c, p: users.UserActivated(user_id=u, company_id=c),
    lambda u, c, p: users.UserSignInBound(
        user_id=u, company_id=c, issuer=ISSUER, subject=p["email"], bound_at=ERASED_AT
    ),
]


def test_a_person_erased_before_approval_knew_them_is_remembered_as_erased(orders):
    user_id, company_id = uuid4(), uuid4()
    message = users.UserErased(user_id=user_id, company_id=company_id, erased_at=ERASED_AT, changed_by=uuid4())

    changed = handle(orders, message)
    orders.save(*changed)

    stored = orders.repository.get(user_id)
    assert isinstance(stored, Member) and stored.erased and stored.erased_at == ERASED_AT
    assert (stored.company_id, stored.email, stored.name, stored.active) == (company_id, "", "", False)
    assert orders.names([user_id]) == {user_id: None} and orders.names([user_id]).erased == {user_id}
    assert [type(e) for e in orders.events.get(user_id)] == [Member.Joined, Member.Erased]


def test_an_erasure_told_again_of_a_person_not_known_before_changes_nothing(orders):
    user_id, company_id = uuid4(), uuid4()
    message = users.UserErased(user_id=user_id, company_id=company_id, erased_at=ERASED_AT, changed_by=uuid4())
    orders.save(*handle(orders, message))
    before = orders.max_notification_id()
    assert handle(orders, message) == []
    assert orders.max_notification_id() == before


@pytest.mark.parametrize("later", LATER, ids=["created", "renamed", "email-changed", "activated", "signed-in"])
def test_no_later_event_of_users_brings_a_person_erased_before_they_were_known_back(orders, later):
    person = markers()
    user_id, company_id = uuid4(), uuid4()
    erased = users.UserErased(user_id=user_id, company_id=company_id, erased_at=ERASED_AT, changed_by=uuid4())
    orders.save(*handle(orders, erased))

    orders.save(*handle(orders, later(user_id, company_id, person)))

    stored = orders.repository.get(user_id)
    assert stored.erased and (stored.email, stored.first_name, stored.last_name, stored.active) == ("", "", "", False)
    assert orders.names([user_id]) == {user_id: None}
    for e in orders.events.get(user_id):
        assert not any(v in repr(vars(e)) for v in person.values())  # nothing of theirs was stored
    for index_id in orders.email_index_ids(person["email"]):  # their address finds nobody
        with pytest.raises(AggregateNotFoundError):
            orders.repository.get(index_id)
    with pytest.raises(AggregateNotFoundError):  # nor does their sign-in
        orders.repository.get(MemberSubject.create_id(ISSUER, person["email"]))
    with pytest.raises(UnknownCaller):
        orders.caller(signed_in(person["email"]))


async def test_an_erasure_before_the_creation_is_kept_once_through_the_real_consumer(orders):
    """Delivered out of order (the creation re-delivered after the erasure), both in one batch, the batch
    delivered twice: the erased member is stored once, with no name, and the tracking position skips the rest."""
    person = markers()
    user_id, company_id = uuid4(), uuid4()
    (spec,) = [s for s in consumer_specs(orders, lambda _company: []) if s.topic is USERS_USERS]
    consumer = IdempotentConsumer(
        service="approval", group_id="approval", app=orders, broker=RecordingBroker(),
        blocking=WorkerPool(2), spec=spec, max_attempts=2, backoff_initial_s=0.01,
    )  # fmt: skip
    erased = users.UserErased(user_id=user_id, company_id=company_id, erased_at=ERASED_AT, changed_by=uuid4())
    records = tuple(
        consumer_record(m, topic=USERS_USERS.name, key=str(company_id), producer="users",
                        notification_id=n, offset=n, correlation_id="c")
        for n, m in ((11, erased), (12, created(user_id, company_id, person)))
    )  # fmt: skip

    batch = FakeBatch(records)
    await consumer.handle(batch)
    stored = orders.max_notification_id()
    await consumer.handle(FakeBatch(records))

    member = orders.repository.get(user_id)
    assert member.erased and member.name == "" and member.email == ""
    assert [type(e) for e in orders.events.get(user_id)] == [Member.Joined, Member.Erased]
    assert orders.max_notification_id() == stored and batch.acked == 1


def test_a_stale_rename_or_address_change_after_the_erasure_brings_nothing_back(orders):
    person = markers()
    member = join(orders, Company(orders), person, ["place_orders"])
    erase(orders, member)
    company_id = member.company_id
    orders.save(*handle(orders, users.UserRenamed(user_id=member.id, company_id=company_id,
                                                  first_name=person["first_name"], last_name=person["last_name"])))  # fmt: skip
    orders.save(
        *handle(
            orders,
            users.UserEmailChanged(
                user_id=member.id, company_id=company_id, email=person["email"], previous_email=person["email"]
            ),
        )
    )

    stored = orders.repository.get(member.id)
    assert (stored.email, stored.first_name, stored.last_name) == ("", "", "")
    assert orders.names([member.id]) == {member.id: None}
    with pytest.raises(UnknownCaller):  # the address was not claimed again
        orders.caller(signed_in(person["email"]))


def test_other_changes_of_an_erased_member_still_count(orders):
    member = join(orders, Company(orders), markers(), ["place_orders"])
    erase(orders, member)
    orders.save(*handle(orders, users.UserPermissionsChanged(user_id=member.id, company_id=member.company_id,
                                                             permissions=["view_company_orders"], cause_role_id="controller")))  # fmt: skip
    assert orders.repository.get(member.id).permissions == frozenset({"view_company_orders"})


async def test_the_erasure_is_handled_once_through_the_real_consumer_and_committed(orders):
    member = join(orders, Company(orders), markers(), ["place_orders"])
    orders.save(*handle(orders, users.UserDeactivated(user_id=member.id, company_id=member.company_id)))
    (spec,) = [s for s in consumer_specs(orders, lambda _company: []) if s.topic is USERS_USERS]
    broker = RecordingBroker()
    consumer = IdempotentConsumer(
        service="approval", group_id="approval", app=orders, broker=broker,
        blocking=WorkerPool(2), spec=spec, max_attempts=2, backoff_initial_s=0.01,
    )  # fmt: skip
    message = users.UserErased(user_id=member.id, company_id=member.company_id, erased_at=ERASED_AT, changed_by=uuid4())
    record = consumer_record(
        message, topic=USERS_USERS.name, key=str(member.company_id), producer="users",
        notification_id=7, offset=7, correlation_id="c",
    )  # fmt: skip
    ignored = metrics.CONSUMED.labels("approval", USERS_USERS.name, "ignored")._value.get()

    batch = FakeBatch((record,))
    await consumer.handle(batch)
    stored = orders.max_notification_id()
    await consumer.handle(FakeBatch((record,)))  # redelivered: recognised by its tracking position

    assert orders.repository.get(member.id).erased
    assert orders.max_notification_id() == stored
    assert batch.acked == 1 and broker.published == []
    assert metrics.CONSUMED.labels("approval", USERS_USERS.name, "ignored")._value.get() == ignored


# ---- the views -------------------------------------------------------------------------------------------------


def shown(out: Any) -> str:
    return out.model_dump_json()


def test_an_order_approved_by_an_erased_user_shows_the_approval_by_an_erased_user_and_not_their_words(orders):
    company = Company(orders)
    person = markers()
    approver = join(orders, company, person, ["approve_orders"])
    company.approvers(approver)
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    held = orders.submit(buyer, request(20))
    orders.comment(approver, held.id, person["comment"])
    approved = orders.approve(approver, held.id, person["decision"])
    before = shown(present_order(orders, approved))
    assert person["first_name"] in before and person["decision"] in before  # the search below finds what is there

    erase(orders, approver)

    out = present_order(orders, orders.repository.get(held.id))
    assert out.status == approved.status.value and out.decided_by is not None
    assert out.decided_by.model_dump() == {"id": approver.id, "name": None, "erased": True}
    (step,) = [e for e in out.timeline if e.event == "Approved"]
    assert step.by is not None and step.by.erased and step.by.name is None and step.comment is None
    (said,) = [m for m in out.conversation if m.author.id == approver.id and m.kind == "comment"]
    assert said.text is None and said.author.erased  # that a comment existed stays; what it said is gone
    assert out.buyer.erased is False and out.buyer.name == "Buyer Muster"
    assert not any(value in shown(out) for value in person.values())


def test_an_erased_buyers_order_shows_an_erased_buyer_without_their_checkout_comment(orders):
    company = Company(orders)
    person = markers()
    buyer = join(orders, company, person, ["place_orders"])
    held = orders.submit(buyer, request(20, comment=person["checkout"]))
    orders.comment(buyer, held.id, person["comment"])
    rejected = orders.reject(company.main, held.id, "Zu viel")

    erase(orders, buyer)

    out = present_order(orders, orders.repository.get(rejected.id))
    assert out.status == "rejected" and out.buyer.erased and out.buyer.name is None
    assert out.buyer_comment is None
    assert ("Rejected", "Zu viel") in {(e.event, e.comment) for e in out.timeline}  # others' words stay
    assert {m.kind for m in out.conversation if m.text is None} == {"submission", "comment"}
    assert not any(value in shown(out) for value in person.values())

    row = {
        "order_id": held.id, "status": "rejected", "buyer_id": buyer.id, "total": Decimal("200.00"), "currency": "EUR",
        "total_quantity": 20, "line_count": 1, "reference": None, "approvers": [company.main.id], "round": 1,
        "submitted_at": ERASED_AT, "updated_at": ERASED_AT,
    }  # fmt: skip
    summary = summary_out(row, orders.names([buyer.id, company.main.id]))
    assert summary.buyer is not None and summary.buyer.model_dump() == {"id": buyer.id, "name": None, "erased": True}
    assert not any(value in shown(summary) for value in person.values())


def test_the_explanation_shows_an_erased_decider_without_their_words(orders):
    company = Company(orders)
    person = markers()
    approver = join(orders, company, person, ["approve_orders"])
    company.approvers(approver)
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    held = orders.submit(buyer, request(20))
    orders.reject(approver, held.id, person["decision"])

    erase(orders, approver)

    out = explanation_out(Explanations(orders).explain(buyer, held.id))
    assert out.decided_by is not None and out.decided_by.erased and out.decided_by.name is None
    assert any(s.kind == "rejection" or s.event == "Rejected" for s in out.steps)
    assert not any(value in shown(out) for value in person.values())


# ---- refusals that name a person -------------------------------------------------------------------------------


def erased_in_tier(orders: Orders, company: Company, known: bool) -> tuple[Member, dict[str, str]]:
    """An approver of the company, erased (known to approval before, or erased before approval knew them)."""
    person = markers()
    if known:
        approver = join(orders, company, person, ["approve_orders"])
        erase(orders, approver)
        return approver, person
    message = users.UserErased(user_id=uuid4(), company_id=company.id, erased_at=ERASED_AT, changed_by=uuid4())
    (tombstone,) = handle(orders, message)
    orders.save(tombstone)
    return tombstone, person


def assert_names_an_erased_user(error: Exception, person: dict[str, str]) -> None:
    assert str(error) == "An erased user may not approve orders."
    assert not any(value in str(error) for value in person.values())


@pytest.mark.parametrize("known", [True, False], ids=["known", "erased-before-known"])
def test_a_policy_naming_an_erased_approver_is_refused_naming_an_erased_user(orders, known):
    company = Company(orders)
    erased, person = erased_in_tier(orders, company, known)
    with pytest.raises(TierNotAnApprover) as refused:
        orders.define_approval_policy(company.main, [Tier(Decimal("150"), (erased.id,))], "EUR")
    assert_names_an_erased_user(refused.value, person)


@pytest.mark.parametrize("known", [True, False], ids=["known", "erased-before-known"])
def test_a_what_if_naming_an_erased_approver_is_refused_naming_an_erased_user(orders, known):
    company = Company(orders)
    erased, person = erased_in_tier(orders, company, known)
    change = PolicyChange((Tier(Decimal("150"), (erased.id,)),), None)
    with pytest.raises(TierNotAnApprover) as refused:
        WhatIfs(orders).proposal(company.main, None, None, [], [], [change], ERASED_AT)
    assert_names_an_erased_user(refused.value, person)


def test_a_refusal_names_a_person_who_is_not_erased_by_their_name(orders):
    company = Company(orders)
    buyer = company.member("bea", ["place_orders"], BUDGET)
    with pytest.raises(TierNotAnApprover, match=f"^{buyer.name} may not approve orders.$"):
        orders.define_approval_policy(company.main, [Tier(Decimal("150"), (buyer.id,))], "EUR")


# ---- the company's addresses -----------------------------------------------------------------------------------


def test_an_erased_buyers_order_keeps_the_companys_addresses_and_still_reaches_the_erp_with_them(orders):
    """The delivery and billing address are the company's shipping data (ADR 0035, as decided for approval): kept as
    typed when the buyer who typed them is erased — even a name line naming the buyer — so the order can still be
    approved and delivered, and what was shipped where stays auditable."""
    company = Company(orders)
    person = markers()
    buyer = join(orders, company, person, ["place_orders"])
    delivery = Address(
        name=f"Wareneingang z. Hd. {person['first_name']} {person['last_name']}", street="Hafenstr. 3",
        postal_code="20457", city="Hamburg", country="DE", additional="Rampe 2",
    )  # fmt: skip
    billing = Address(name="Muster GmbH", street="Hauptstr. 1", postal_code="10115", city="Berlin", country="DE")
    wanted = replace(content(OrderLine("A-1", "Schraube", 20, Decimal("10.00"))), delivery_address=delivery,
                     billing_address=billing, buyer_comment=person["checkout"])  # fmt: skip
    held = orders.submit(buyer, OrderRequest.of(wanted))

    erase(orders, buyer)

    out = present_order(orders, orders.repository.get(held.id))
    assert out.buyer.erased and out.buyer.name is None and out.buyer_comment is None
    assert (out.delivery_address, out.billing_address) == (vars(delivery), vars(billing))

    approved = orders.approve(company.main, held.id)
    assert approved.status.value == "released"
    (released,) = [e for e in orders.events.get(held.id) if isinstance(e, Order.Released)]
    (sent,) = make_translator(lambda _id, _version: approved)(released)
    assert sent.message.delivery_address.model_dump() == vars(delivery)
    assert sent.message.billing_address.model_dump() == vars(billing)
    assert sent.message.buyer_id == buyer.id
