"""Registration knows the addresses users hold (from users.users.v1): one of them is refused before anything is
created — told only after the ERP verified the customer, and checked again at the confirmation."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from uuid import uuid4

from contracts.registration.v1 import RegistrationCompleted
from contracts.topics import USERS_COMPANIES, USERS_USERS
from contracts.users import v1 as users
from tests.service.registration.conftest import System, body
from tests.service.registration.wire import published

_ids = itertools.count(1)


async def user_holds(system: System, email: str, user_id=None) -> None:
    """users published that a user holds ``email``."""
    message = users.UserCreated(
        user_id=user_id or uuid4(), company_id=uuid4(), email=email, first_name="Sam", last_name="Squatter",
        language="de", role_ids=["buyer"], permissions=["place_orders"], budget=users.Budget(),
        is_main_contact=False, created_at=datetime.now(UTC),
    )  # fmt: skip
    await system.inbox.deliver(published(USERS_USERS, str(message.company_id), message, next(_ids), "users"))


async def user_moves(system: System, user_id, old: str, new: str) -> None:
    message = users.UserEmailChanged(user_id=user_id, company_id=uuid4(), email=new, previous_email=old)
    await system.inbox.deliver(published(USERS_USERS, str(message.company_id), message, next(_ids), "users"))


async def test_a_taken_address_is_refused_after_the_erp_verified_the_customer(system: System):
    email = body()["email"]
    await user_holds(system, email.upper())
    r = await system.submit(email=email)
    assert r.status_code == 202, r.text  # nothing told before the customer is verified
    rid = r.json()["id"]
    assert (await system.status(rid))["status"] == "verifying"
    await system.erp_says(rid)
    status = await system.status(rid)
    assert (status["status"], status["reason"]) == ("rejected", "email_taken")
    assert "another address" in status["message"]
    assert not [m for m in system.outbox.drain() if isinstance(m.message, RegistrationCompleted)]


async def test_an_address_taken_before_the_confirmation_is_refused_at_the_confirmation(system: System):
    email = body()["email"]
    rid, token = await system.verified(email=email)
    await user_holds(system, email)
    r = await system.confirm(rid, token)
    assert r.status_code == 409 and r.json()["error"]["code"] == "email_taken", r.text
    assert (await system.status(rid))["reason"] == "email_taken"
    assert not [m for m in system.outbox.drain() if isinstance(m.message, RegistrationCompleted)]
    # the customer was not registered: the real customer registers with another address
    again, token = await system.verified(email=body()["email"])
    assert (await system.confirm(again, token)).status_code == 200


async def test_an_address_a_user_gave_up_is_free_again(system: System):
    old, new = body()["email"], body()["email"]
    user_id = uuid4()
    await user_holds(system, old, user_id)
    await user_moves(system, user_id, old, new)
    rid, token = await system.verified(email=old)
    assert (await system.confirm(rid, token)).status_code == 200
    assert system.registrations.email_taken(new)


async def test_a_completion_users_refused_is_told_to_the_applicant_and_the_customer_may_register_again(
    system: System,
):
    rid, token = await system.verified(email=body()["email"])
    assert (await system.confirm(rid, token)).status_code == 200
    completed = [m.message for m in system.outbox.drain() if isinstance(m.message, RegistrationCompleted)]
    refused = users.CompanyRegistrationRefused(
        company_id=completed[0].company_id, registration_id=completed[0].registration_id, customer_number="10001",
        reason="email_taken", refused_at=datetime.now(UTC),
    )  # fmt: skip
    await system.inbox.deliver(published(USERS_COMPANIES, str(refused.company_id), refused, next(_ids), "users"))
    status = await system.status(rid)
    assert (status["status"], status["reason"]) == ("rejected", "email_taken")
    again, token = await system.verified(email=body()["email"])
    assert (await system.confirm(again, token)).status_code == 200
    assert (await system.status(again))["status"] == "completed"
