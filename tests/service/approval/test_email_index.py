"""Which member an e-mail address finds (ADR 0035 decision 4): the index's id is a keyed hash of the address under
approval's secret (a blind index), not a ``uuid5`` anyone could compute from a guessed address; an address claimed
before the blind index (under its ``uuid5``) still finds its member, and its claim moves to the blind index when
the index is next written. In-memory event store."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

import pytest
from eventsourcing.application import AggregateNotFoundError

from approval.application.orders import Orders, UnknownCaller
from approval.domain.budget import Budget
from approval.domain.members import Member, MemberEmail
from tests.support.approval import Company
from tests.support.users import signed_in

OLD_NAMESPACE = uuid5(NAMESPACE_URL, "urn:kundencenter:approval:members")


def index_at(orders: Orders, index_id: UUID) -> MemberEmail:
    index = orders.repository.get(index_id)
    assert isinstance(index, MemberEmail)
    return index


def joined_before_the_blind_index(orders: Orders, company: Company, email: str) -> UUID:
    """A member as the release before the blind index stored them: the address claimed under its uuid5."""
    user_id = uuid4()
    member = Member.join(user_id, company.id, email, "Lea", "Alt", "de")
    member.update(active=True, permissions=["place_orders"], budget=Budget())
    old_index = MemberEmail._create(
        MemberEmail.Claimed, id=uuid5(OLD_NAMESPACE, email.strip().lower()), user_id=user_id
    )
    orders.save(member, old_index)
    return user_id


def test_an_address_index_id_is_a_keyed_hash_not_the_uuid5_of_the_address(orders, company):
    buyer = company.buyer()
    blind, legacy = orders.email_index_ids(buyer.email)
    assert legacy == uuid5(OLD_NAMESPACE, buyer.email.lower())
    assert blind != legacy and blind.version == 8
    assert index_at(orders, blind).user_id == buyer.id
    with pytest.raises(AggregateNotFoundError):  # nothing is stored under the id a guess of the address gives
        orders.repository.get(legacy)


def test_the_index_id_differs_under_another_secret_and_is_the_same_under_the_same():
    email = "lea@example.com"
    one = Orders(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, index_secret=b"a" * 32)
    same = Orders(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, index_secret=b"a" * 32)
    other = Orders(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, index_secret=b"b" * 32)
    assert one.email_index_ids(email)[0] == same.email_index_ids(" Lea@Example.COM ")[0]
    assert one.email_index_ids(email)[0] != other.email_index_ids(email)[0]


def test_a_short_index_secret_is_refused():
    with pytest.raises(ValueError, match="32 bytes"):
        Orders(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, index_secret=b"short")


def test_an_address_finds_its_member_in_any_case(orders, company):
    buyer = company.buyer()
    assert orders.caller(signed_in(f"  {buyer.email.upper()} ", subject="sub|x")).id == buyer.id


def test_an_address_claimed_before_the_blind_index_still_finds_its_member(orders, company):
    user_id = joined_before_the_blind_index(orders, company, "lea-old@example.com")
    assert orders.caller(signed_in("lea-old@example.com")).id == user_id
    assert orders.caller(signed_in("LEA-old@example.com", subject="sub|lea")).id == user_id
    with pytest.raises(AggregateNotFoundError):  # read, not written: nothing moved yet
        orders.repository.get(orders.email_index_ids("lea-old@example.com")[0])


def test_a_legacy_claim_moves_to_the_blind_index_when_the_address_is_claimed_again(orders, company):
    old_owner = joined_before_the_blind_index(orders, company, "shared@example.com")
    new_owner = uuid4()
    orders.save(*orders.member_joined(new_owner, company.id, "shared@example.com", "Neu", "Muster", "de", active=True))

    blind, legacy = orders.email_index_ids("shared@example.com")
    assert index_at(orders, blind).user_id == new_owner
    assert index_at(orders, legacy).user_id is None  # released in the same save: the blind index alone decides
    assert orders.caller(signed_in("shared@example.com")).id == new_owner
    assert old_owner != new_owner


def test_a_member_whose_legacy_address_changes_is_found_by_the_new_one_only(orders, company):
    user_id = joined_before_the_blind_index(orders, company, "before@example.com")
    orders.save(*orders.member_changed(user_id, email="after@example.com"))

    assert index_at(orders, orders.email_index_ids("before@example.com")[1]).user_id is None
    assert index_at(orders, orders.email_index_ids("after@example.com")[0]).user_id == user_id
    assert orders.caller(signed_in("after@example.com")).id == user_id
    with pytest.raises(UnknownCaller):
        orders.caller(signed_in("before@example.com"))


def test_a_member_whose_address_changes_back_is_found_by_it_again(orders, company):
    user_id = joined_before_the_blind_index(orders, company, "back@example.com")
    orders.save(*orders.member_changed(user_id, email="away@example.com"))
    orders.save(*orders.member_changed(user_id, email="back@example.com"))

    blind, legacy = orders.email_index_ids("back@example.com")
    assert index_at(orders, blind).user_id == user_id and index_at(orders, legacy).user_id is None
    assert orders.caller(signed_in("back@example.com")).id == user_id
    with pytest.raises(UnknownCaller):
        orders.caller(signed_in("away@example.com"))


def test_an_erased_member_is_no_longer_found_by_an_address_claimed_before_the_blind_index(orders, company):
    user_id = joined_before_the_blind_index(orders, company, "gone@example.com")
    orders.save(*orders.member_changed(user_id, active=False))
    orders.save(*orders.member_erased(user_id, company.id, datetime.now(UTC)))

    assert index_at(orders, orders.email_index_ids("gone@example.com")[1]).user_id is None
    with pytest.raises(AggregateNotFoundError):  # an erased person's address gets no blind index either
        orders.repository.get(orders.email_index_ids("gone@example.com")[0])
    with pytest.raises(UnknownCaller):
        orders.caller(signed_in("gone@example.com"))
