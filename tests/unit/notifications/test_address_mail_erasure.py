"""A mail to an address that concerns a user (ADR 0035): it names the user, so that it is dropped with their other
mails when they are erased. Plain domain objects and the mail rules, no store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from contracts.users import v1 as users
from notifications.adapters.inbound.kafka import email_change_confirmation
from notifications.domain.model import Mail

AT = datetime(2026, 12, 7, 9, 14, tzinfo=UTC)


def test_the_confirmation_of_an_email_change_goes_to_the_new_address_and_names_the_user():
    user_id = uuid4()
    requested = users.UserEmailChangeRequested(
        change_id=uuid4(), user_id=user_id, company_id=uuid4(), email="new@example.com",
        previous_email="old@example.com", first_name="Erika", last_name="Muster", language="en", token="tok",
        confirm_path="/confirm/x", expires_at=AT + timedelta(days=1),
    )  # fmt: skip

    (request,) = email_change_confirmation(requested)

    assert (request.to_email, request.to_user_id, request.about_user_id) == ("new@example.com", None, user_id)


def test_a_mail_concerns_its_recipient_or_the_user_a_mail_to_an_address_is_about():
    user_id, about = uuid4(), uuid4()
    to_user = Mail(cause="c", recipient_key=str(user_id), kind="order_rejected", data={}, queued_at=AT,
                   to_user_id=user_id)  # fmt: skip
    to_address = Mail(cause="c", recipient_key="new@example.com", kind="email_change_confirmation", data={},
                      queued_at=AT, to_email="new@example.com", about_user_id=about)  # fmt: skip
    to_nobody = Mail(cause="c", recipient_key="a@example.com", kind="registration_confirmation", data={},
                     queued_at=AT, to_email="a@example.com")  # fmt: skip

    assert (to_user.person_id, to_address.person_id, to_nobody.person_id) == (user_id, about, None)


def test_a_mail_queued_before_it_could_name_a_user_concerns_nobody():
    mail = Mail(cause="c", recipient_key="a@example.com", kind="email_change_confirmation", data={}, queued_at=AT,
                to_email="a@example.com")  # fmt: skip
    (queued,) = mail.collect_events()
    vars(queued).pop("about_user_id", None)  # as stored by a release without the field

    replayed = queued.mutate(None)

    assert replayed is not None and replayed.person_id is None
