"""Registration's address index when a user is erased (ADR 0035): plain domain objects, no store."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from registration.domain.taken import AddressHolder, TakenAddress

AT = datetime(2026, 12, 7, 9, 14, tzinfo=UTC)


def test_an_erased_holders_address_is_free_and_no_longer_kept():
    user_id = uuid4()
    taken = TakenAddress(email="Erika@Example.com", user_id=user_id)

    taken.erase(user_id, AT)

    assert not taken.taken and taken.email == ""
    assert isinstance(taken.collect_events()[-1], TakenAddress.HolderErased)


def test_the_erasure_of_someone_else_leaves_the_address_to_its_holder():
    holder = uuid4()
    taken = TakenAddress(email="erika@example.com", user_id=holder)
    taken.collect_events()

    taken.erase(uuid4(), AT)

    assert taken.user_id == holder and taken.email == "erika@example.com"
    assert taken.collect_events() == []


def test_a_freed_address_can_be_taken_by_a_new_user():
    erased, newcomer = uuid4(), uuid4()
    taken = TakenAddress(email="erika@example.com", user_id=erased)
    taken.erase(erased, AT)

    taken.take(newcomer)

    assert taken.taken and taken.user_id == newcomer


def test_an_erased_holder_keeps_only_the_users_id():
    user_id = uuid4()
    holder = AddressHolder.known(user_id, TakenAddress.create_id("erika@example.com"))

    holder.erase(AT)

    assert holder.erased and holder.address_id is None and holder.user_id == user_id
    assert holder.id == AddressHolder.create_id(user_id) != user_id


def test_an_erased_holder_holds_no_address_again():
    holder = AddressHolder.known(uuid4(), None)
    holder.erase(AT)
    holder.collect_events()

    holder.hold(TakenAddress.create_id("erika@example.com"))

    assert holder.address_id is None and holder.collect_events() == []


def test_erasing_an_erased_holder_records_nothing():
    holder = AddressHolder.known(uuid4(), None)
    holder.erase(AT)
    holder.collect_events()

    holder.erase(AT)

    assert holder.collect_events() == []


def test_the_holder_names_its_address_by_the_index_id_only():
    holder = AddressHolder.known(uuid4(), TakenAddress.create_id("erika@example.com"))
    assert "erika" not in repr(vars(holder)) and "erika" not in repr(holder.collect_events())
