"""registration's part of erasing a person (ADR 0035, decision 3): on ``UserErased`` the address the user held is
free again for a new registration (as users frees it), in the consumer's transaction; the person is remembered as
erased, so that a later or replayed event of users does not make the address theirs again; a redelivery changes
nothing. In-memory event store, the service's HTTP API and its real consumer of users.users.v1."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from contracts.registration.v1 import RegistrationCompleted
from contracts.topics import USERS_USERS
from contracts.users import v1 as users
from kc_runtime import metrics
from registration.domain.taken import AddressHolder, TakenAddress
from tests.service.registration.conftest import System, body
from tests.service.registration.test_taken_addresses import user_holds, user_moves
from tests.service.registration.wire import published

_ids = itertools.count(1_000_000)  # users' notification ids, after those of the address tests
ERASED_AT = datetime(2026, 12, 7, 9, 14, tzinfo=UTC)


async def erase(system: System, user_id: UUID, notification_id: int | None = None) -> None:
    message = users.UserErased(user_id=user_id, company_id=uuid4(), erased_at=ERASED_AT, changed_by=uuid4())
    n = notification_id or next(_ids)
    await system.inbox.deliver(published(USERS_USERS, str(message.company_id), message, n, "users"))


def created(user_id: UUID, email: str) -> users.UserCreated:
    return users.UserCreated(
        user_id=user_id, company_id=uuid4(), email=email, first_name="Erika", last_name="Muster", language="de",
        role_ids=["buyer"], permissions=["place_orders"], budget=users.Budget(), is_main_contact=False,
        created_at=datetime.now(UTC),
    )  # fmt: skip


async def later(system: System, message: Any) -> None:
    await system.inbox.deliver(published(USERS_USERS, str(message.company_id), message, next(_ids), "users"))


async def registers(system: System, email: str) -> str:
    """A new registration with ``email``, verified and confirmed: its status."""
    rid, token = await system.verified(email=email)
    r = await system.confirm(rid, token)
    assert r.status_code in (200, 409), r.text
    return str((await system.status(rid))["status"])


async def test_an_erased_users_address_is_free_for_a_new_registration(system: System):
    email, user_id = body()["email"], uuid4()
    await user_holds(system, email, user_id)
    assert system.registrations.email_taken(email)

    await erase(system, user_id)

    assert not system.registrations.email_taken(email)
    assert await registers(system, email.upper()) == "completed"
    assert [m for m in system.outbox.drain() if isinstance(m.message, RegistrationCompleted)]


async def test_the_address_index_keeps_no_address_of_an_erased_user(system: System):
    email, user_id = body()["email"], uuid4()
    await user_holds(system, email, user_id)

    await erase(system, user_id)

    taken = system.registrations.find(system.registrations.address_ids(email)[0], TakenAddress)
    holder = system.registrations.find(AddressHolder.create_id(user_id), AddressHolder)
    assert taken is not None and (taken.user_id, taken.email) == (None, "")
    assert holder is not None and holder.erased and holder.address_id is None


async def test_the_address_a_user_moved_to_is_freed_and_the_one_they_left_stays_with_its_new_holder(system: System):
    old, new = body()["email"], body()["email"]
    user_id, other = uuid4(), uuid4()
    await user_holds(system, old, user_id)
    await user_moves(system, user_id, old, new)
    await user_holds(system, old, other)

    await erase(system, user_id)

    assert not system.registrations.email_taken(new)
    assert system.registrations.email_taken(old)  # the other user's now


async def test_a_user_known_before_erasure_existed_is_found_by_their_address(system: System):
    """A user whose address was recorded by a release without the holders (no AddressHolder): the address index's
    own events name them."""
    email, user_id = body()["email"], uuid4()
    system.registrations.save(TakenAddress(email=email, user_id=user_id))
    assert system.registrations.find(AddressHolder.create_id(user_id)) is None

    await erase(system, user_id)

    assert not system.registrations.email_taken(email)
    assert system.registrations.is_erased(user_id)


@pytest.mark.parametrize(
    "stale",
    [
        lambda u, email: created(u, email),
        lambda u, email: users.UserEmailChanged(user_id=u, company_id=uuid4(), email=email,
                                                previous_email=f"x-{email}"),
    ],
    ids=["created", "email-changed"],
)  # fmt: skip
async def test_a_later_event_of_users_does_not_make_the_address_taken_again(system: System, stale):
    email, user_id = body()["email"], uuid4()
    await user_holds(system, email, user_id)
    await erase(system, user_id)
    stored = system.registrations.max_notification_id()

    await later(system, stale(user_id, email))

    assert system.registrations.max_notification_id() == stored
    assert not system.registrations.email_taken(email)
    assert await registers(system, email) == "completed"


async def test_a_person_erased_before_registration_knew_them_stays_without_an_address(system: System):
    email, user_id = body()["email"], uuid4()

    await erase(system, user_id)
    await later(system, created(user_id, email))

    assert system.registrations.is_erased(user_id)
    assert not system.registrations.email_taken(email)


def handled(outcome: str) -> float:
    return metrics.CONSUMED.labels("registration", USERS_USERS.name, outcome)._value.get()


async def test_the_erasure_is_stored_once_and_a_redelivery_or_second_erasure_changes_nothing(system: System):
    email, user_id = body()["email"], uuid4()
    await user_holds(system, email, user_id)
    n = next(_ids)
    await erase(system, user_id, notification_id=n)
    stored, duplicates = system.registrations.max_notification_id(), handled("duplicate")

    await erase(system, user_id, notification_id=n)  # the same message again
    await erase(system, user_id)  # users erasing again (a repeat answers the same erased user)

    assert handled("duplicate") == duplicates + 1
    assert system.registrations.max_notification_id() == stored  # neither records anything
    assert system.inbox.dead_letters == []
