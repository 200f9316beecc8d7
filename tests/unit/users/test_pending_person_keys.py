"""A key for a person who is no user yet (ADR 0040): registration's future main contact. The user created with that
id takes the pending key — and only a pending one — and gives it their company."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from kc_runtime.sealing import new_key
from tests.unit.users.test_user import a_user
from users.application.person_keys import InMemoryPersonKeys, KeyErased, PersonKey, created_users, key_changes

RESERVED_AT = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def pending(user_id, key=None) -> PersonKey:
    return PersonKey(user_id, None, key or new_key(), RESERVED_AT)


def test_a_user_can_be_created_with_a_chosen_id_and_otherwise_gets_a_random_one():
    chosen = uuid4()
    assert a_user(id=chosen).id == chosen
    assert a_user().id != a_user().id != chosen


def test_a_user_created_with_a_pending_persons_id_takes_that_key_and_gives_it_their_company():
    user_id = uuid4()
    row = pending(user_id)
    user = a_user(id=user_id)
    (change,) = key_changes(user.collect_events(), pending={user_id: row})
    assert change == PersonKey(user_id, user.company_id, row.key, RESERVED_AT)


def test_a_key_row_that_is_no_pending_persons_is_never_taken_a_fresh_key_is_made():
    user_id = uuid4()
    events = a_user(id=user_id).collect_events()
    others = {
        "another company's": PersonKey(user_id, uuid4(), new_key(), RESERVED_AT),
        "erased": PersonKey(user_id, None, None, RESERVED_AT, RESERVED_AT + timedelta(days=1)),
    }
    for what, row in others.items():
        (change,) = key_changes(events, pending={user_id: row})
        assert isinstance(change, PersonKey) and change.key is not None, what
        assert change.key != row.key and change.created_at != RESERVED_AT, what


def test_without_pending_rows_every_created_user_gets_a_fresh_key_as_before():
    users = [a_user(), a_user()]
    events = [e for u in users for e in u.collect_events()]
    assert created_users(events) == [u.id for u in users]
    changes = key_changes(events, pending={uuid4(): pending(uuid4())})
    assert [c.user_id for c in changes] == [u.id for u in users]
    assert all(isinstance(c, PersonKey) and c.key is not None and len(c.key) == 32 for c in changes)


def test_the_in_memory_keys_give_a_pending_row_its_company_when_its_user_is_created():
    user_id, company_id = uuid4(), uuid4()
    keys = InMemoryPersonKeys()
    row = keys.ensure(pending(user_id))
    assert row.is_pending and keys.ensure(pending(user_id)) == row  # a second reservation answers the first
    keys.record([PersonKey(user_id, company_id, row.key, RESERVED_AT)])
    assert keys.get(user_id) == PersonKey(user_id, company_id, row.key, RESERVED_AT)
    assert not keys.get(user_id).is_pending  # type: ignore[union-attr]


def test_the_in_memory_keys_never_replace_a_stored_key_with_another():
    user_id = uuid4()
    keys = InMemoryPersonKeys()
    reserved = keys.ensure(pending(user_id))
    keys.record([PersonKey(user_id, uuid4(), new_key(), RESERVED_AT)])  # not the pending key
    assert keys.get(user_id) == reserved
    owned = PersonKey(uuid4(), uuid4(), new_key(), RESERVED_AT)
    keys.record([owned])
    keys.record([PersonKey(owned.user_id, owned.company_id, owned.key, RESERVED_AT)])
    keys.record([PersonKey(owned.user_id, uuid4(), new_key(), RESERVED_AT)])
    assert keys.get(owned.user_id) == owned


def test_erasing_the_user_created_from_a_pending_row_erases_that_row():
    user_id, company_id = uuid4(), uuid4()
    keys = InMemoryPersonKeys()
    row = keys.ensure(pending(user_id))
    keys.record([PersonKey(user_id, company_id, row.key, RESERVED_AT)])
    keys.record([KeyErased(user_id, company_id, RESERVED_AT + timedelta(days=3))])
    erased = keys.get(user_id)
    assert erased is not None and erased.key is None and not erased.is_pending
    assert erased.erased_at == RESERVED_AT + timedelta(days=3) and erased.company_id == company_id
