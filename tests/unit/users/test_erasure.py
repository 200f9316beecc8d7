"""Erasing a user (ADR 0035): the rules of the User aggregate, and the key changes a save records."""

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from tests.unit.users.test_user import a_user
from users.application.person_keys import InMemoryPersonKeys, KeyErased, PersonKey, key_changes
from users.domain.errors import (
    CannotEraseMainContact,
    CannotEraseSelf,
    UserErased,
    UserNotDeactivated,
)
from users.domain.model import User

AT = datetime(2026, 12, 7, 9, 14, tzinfo=UTC)


def deactivated() -> tuple[User, object]:
    user, admin = a_user(), uuid4()
    user.deactivate(by=admin)
    return user, admin


def test_a_deactivated_user_is_erased_with_an_event_that_names_nobody():
    user, admin = deactivated()
    user.collect_events()
    user.erase(at=AT, by=admin)
    (erased,) = user.collect_events()
    assert isinstance(erased, User.Erased)
    assert (erased.erased_at, erased.by, erased.company_id) == (AT, admin, user.company_id)
    details = {k: v for k, v in vars(erased).items() if not k.startswith("originator") and k != "timestamp"}
    assert set(details) == {"company_id", "erased_at", "by"}
    assert user.is_erased and user.erased_at == AT


def test_an_active_user_is_not_erased():
    user = a_user()
    with pytest.raises(UserNotDeactivated) as refused:
        user.erase(at=AT, by=uuid4())
    assert refused.value.code == "user_not_deactivated" and not user.is_erased


def test_nobody_erases_themselves():
    user, _ = deactivated()
    with pytest.raises(CannotEraseSelf):
        user.erase(at=AT, by=user.id)


def test_the_main_contact_is_never_erased():
    user = a_user(role_ids=(), main_contact=True)
    with pytest.raises(CannotEraseMainContact):
        user.erase(at=AT, by=uuid4())


def test_erasing_twice_records_one_erasure_and_keeps_its_time():
    user, admin = deactivated()
    user.erase(at=AT, by=admin)
    user.collect_events()
    user.erase(at=datetime.now(UTC), by=admin)
    assert user.collect_events() == [] and user.erased_at == AT


def test_an_erased_user_is_not_renamed_given_an_address_or_activated():
    user, admin = deactivated()
    user.erase(at=AT, by=admin)
    for change in (
        lambda: user.rename("Neu", "Name", by=admin),
        lambda: user.change_email("neu@example.com", by=admin),
        lambda: user.activate(by=admin),
    ):
        with pytest.raises(UserErased):
            change()


def test_an_erased_user_replays_as_erased_and_an_old_one_as_not():
    user, admin = deactivated()
    user.erase(at=AT, by=admin)
    events = user.collect_events()
    replayed = None
    for e in events:
        replayed = e.mutate(replayed)
    assert replayed is not None and replayed.erased_at == AT
    assert a_user().erased_at is None  # users stored before erasure existed


def test_a_created_user_gets_a_fresh_256_bit_key_and_an_erased_one_loses_it():
    user, admin = deactivated()
    created = user.collect_events()
    (first,) = key_changes(created)
    (again,) = key_changes(created)
    assert isinstance(first, PersonKey) and first.user_id == user.id and first.company_id == user.company_id
    assert first.key is not None and len(first.key) == 32 and first.key != again.key
    user.erase(at=AT, by=admin)
    assert key_changes(user.collect_events()) == (KeyErased(user.id, user.company_id, AT),)


def test_the_in_memory_keys_forget_the_key_and_keep_the_first_erasure():
    user_id, company_id = uuid4(), uuid4()
    keys = InMemoryPersonKeys()
    keys.record([PersonKey(user_id, company_id, b"k" * 32, AT)])
    keys.record([KeyErased(user_id, company_id, AT)])
    keys.record([KeyErased(user_id, company_id, datetime.now(UTC))])
    row = keys.get(user_id)
    assert row is not None and row.key is None and row.erased_at == AT


def test_a_key_never_shows_in_its_rows_repr():
    row = PersonKey(uuid4(), uuid4(), b"\x01secret-key-bytes-of-32-length!!", AT)
    assert "secret" not in repr(row) and "secret" not in str(row)
