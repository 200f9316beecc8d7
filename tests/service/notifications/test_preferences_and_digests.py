"""Preferences through the application, the dispatcher's choice per mail, and the digest's assembly (ADR 0027):
in-memory event store, the real templates, the consumer's handlers."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest

from contracts.topics import USERS_USERS
from contracts.users import v1 as users
from notifications.adapters.outbound.digests import render_digest
from notifications.adapters.outbound.templates import Templates
from notifications.application.mails import (
    CallerInactive,
    EmailNotVerified,
    IdentityMismatch,
    MailRequest,
    Mails,
    UnknownCaller,
)
from notifications.domain.digests import DigestStatus
from notifications.domain.model import MailStatus
from notifications.domain.preferences import ActionMailCannotBeOff, Delivery
from tests.service.notifications.test_mail_rules import handle

BERLIN = ZoneInfo("Europe/Berlin")
MORNING = datetime(2026, 12, 6, 5, 0, tzinfo=UTC)  # 06:00 in Berlin: before the 07:00 digest
ISSUER = "https://idp.example"
TOTAL = {"amount": "1234.5", "currency": "EUR"}


@pytest.fixture
def mails() -> Mails:
    return Mails(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def user(mails: Mails, language: str = "en", email: str | None = None, active: bool = True) -> UUID:
    user_id = uuid4()
    created = users.UserCreated(
        user_id=user_id, company_id=uuid4(), email=email or f"{user_id.hex[:8]}@example.com", first_name="Bea",
        last_name="Buyer", language=language, status="active" if active else "inactive", role_ids=["buyer"],
        permissions=["place_orders"], budget=users.Budget(), is_main_contact=False, created_at=MORNING,
    )  # fmt: skip
    mails.save(*handle(mails, created, USERS_USERS))
    return user_id


def queue(mails: Mails, to: UUID, kind: str = "order_approved", **data):
    order_id = str(uuid4())
    facts = {"order_id": order_id, "order_path": f"/orders/{order_id}", "total": TOTAL, "comment": "Passt",
             "modifications": [], **data}  # fmt: skip
    (mail,) = mails.queue(str(uuid4()), [MailRequest(kind, facts, to_user_id=to)])
    mails.save(mail)
    return mail


def token(email: str | None = None, subject: str | None = None, verified: bool = True) -> SimpleNamespace:
    return SimpleNamespace(issuer=ISSUER, subject=subject or uuid4().hex, email=email, email_verified=verified)


def test_a_users_choices_are_stored_and_read_back(mails):
    buyer = user(mails)
    mails.choose(buyer, {"order_approved": "digest", "order_rejected": "none"}, by=buyer)
    stored = mails.preferences(buyer)
    assert stored is not None
    assert (stored.delivery("order_approved"), stored.delivery("order_rejected")) == (Delivery.DIGEST, Delivery.NONE)
    assert stored.delivery("approval_requested") is Delivery.IMMEDIATELY


def test_nothing_is_stored_for_a_refused_choice(mails):
    approver = user(mails)
    with pytest.raises(ActionMailCannotBeOff):
        mails.choose(approver, {"order_approved": "digest", "approval_requested": "none"}, by=approver)
    assert mails.preferences(approver) is None


def test_a_mail_is_delivered_as_its_recipient_chose_for_its_kind(mails):
    buyer = user(mails)
    mails.choose(buyer, {"order_approved": "digest", "order_rejected": "none"}, by=buyer)
    assert mails.delivery_of(queue(mails, buyer, "order_approved")) is Delivery.DIGEST
    assert mails.delivery_of(queue(mails, buyer, "order_rejected")) is Delivery.NONE
    assert mails.delivery_of(queue(mails, buyer, "order_released_on_re_evaluation")) is Delivery.IMMEDIATELY
    assert mails.delivery_of(queue(mails, user(mails), "order_approved")) is Delivery.IMMEDIATELY  # someone else


def test_a_substitutes_offer_follows_the_substitute_offer_choice_not_the_approval_requests(mails):
    substitute = user(mails)
    mails.choose(substitute, {"substitute_offer": "digest"}, by=substitute)
    offer = queue(mails, substitute, "approval_requested", on_behalf_of=str(uuid4()), until="2026-12-24T17:00:00+00:00")
    own = queue(mails, substitute, "approval_requested")
    assert (mails.delivery_of(offer), mails.delivery_of(own)) == (Delivery.DIGEST, Delivery.IMMEDIATELY)


def test_a_mail_to_an_address_is_always_sent_at_once(mails):
    (mail,) = mails.queue("e", [MailRequest("registration_confirmation", {}, to_email="a@example.com", language="de")])
    assert mails.delivery_of(mail) is Delivery.IMMEDIATELY


def test_a_suppressed_mail_is_recorded_and_never_queued_again(mails):
    buyer = user(mails)
    mail = queue(mails, buyer, "order_rejected")
    mails.suppress(mail.id)
    stored = mails.find(mail.id)
    assert stored.status is MailStatus.SUPPRESSED
    assert [type(e).__name__ for e in mails.repository.get(mail.id).collect_events()] == []  # all saved


def test_mails_deferred_on_one_morning_go_into_one_digest_and_each_is_recorded_deferred(mails):
    buyer = user(mails)
    first, second = queue(mails, buyer), queue(mails, buyer, "order_rejected", comment="Zu viel")
    a = mails.defer(first.id, 7, BERLIN, now=MORNING)
    b = mails.defer(second.id, 7, BERLIN, now=MORNING)
    assert a is not None and b is not None and a.id == b.id and a.day == "2026-12-06"
    assert mails.digest(a.id).mail_ids == [first.id, second.id]
    assert {mails.find(m.id).status for m in (first, second)} == {MailStatus.DEFERRED}
    assert mails.defer(first.id, 7, BERLIN, now=MORNING) is None  # deferred once, however often it is handled


def test_a_mail_deferred_after_the_digest_was_claimed_waits_for_the_next_days(mails):
    buyer = user(mails)
    first = queue(mails, buyer)
    digest = mails.defer(first.id, 7, BERLIN, now=MORNING)
    assert mails.claim_digest(digest.id) is not None
    late = mails.defer(queue(mails, buyer).id, 7, BERLIN, now=MORNING)
    assert late.day == "2026-12-07" and late.id != digest.id


def test_a_digest_is_claimed_by_one_sender_and_not_again_once_sent(mails):
    buyer = user(mails)
    digest = mails.defer(queue(mails, buyer).id, 7, BERLIN, now=MORNING)
    claimed = mails.claim_digest(digest.id)
    assert claimed is not None and claimed.status is DigestStatus.CLAIMED
    mails.mark_digest_sent(digest.id, "bea@example.com", "subject")
    assert mails.claim_digest(digest.id) is None
    assert mails.digest(digest.id).status is DigestStatus.SENT


def test_the_digest_holds_every_mail_whole_in_the_recipients_language(mails):
    buyer = user(mails, language="de")
    approved = queue(mails, buyer, "order_approved", comment="Nur 9 Stück",
                     modifications=[{"field": "line:A-100:quantity", "before": "12", "after": "9"}])  # fmt: skip
    rejected = queue(mails, buyer, "order_rejected", comment="Zu teuer")
    for mail in (approved, rejected):
        digest = mails.defer(mail.id, 7, BERLIN, now=MORNING)
    to, rendered = render_digest(mails, Templates(), "https://shop.example/kundencenter", mails.digest(digest.id))

    assert to == mails.recipient(buyer).email
    assert rendered.subject == "Ihre Zusammenfassung vom 6. Dezember 2026: 2 Nachrichten"
    for part in (rendered.text, rendered.html):
        assert "1.234,50\xa0€" in part and "wurde freigegeben und an uns übermittelt" in part
        assert "Menge A-100: 12 → 9" in part and "Nur 9 Stück" in part and "Zu teuer" in part
        for mail in (approved, rejected):
            assert f"https://shop.example/kundencenter{mail.data['order_path']}" in part
    assert rendered.text.index("Nur 9 Stück") < rendered.text.index("Zu teuer")  # in the order they came


def test_the_digest_escapes_in_html_what_people_typed_once(mails):
    buyer = user(mails, language="en")
    digest = mails.defer(queue(mails, buyer, "order_rejected", comment="<b>no</b>").id, 7, BERLIN, now=MORNING)
    _, rendered = render_digest(mails, Templates(), "https://x", mails.digest(digest.id))
    assert rendered.subject == "Your digest of 6 December 2026: 1 message"
    assert "&lt;b&gt;no&lt;/b&gt;" in rendered.html and "<b>no</b>" not in rendered.html
    assert "&amp;lt;" not in rendered.html


# ---- who is calling: the token's binding, or the verified address before it ----------------------------------


def test_a_user_not_signed_in_yet_is_found_by_the_tokens_verified_address_only(mails):
    buyer = user(mails, email="bea@example.com")
    assert mails.caller(token(email="Bea@Example.com")).id == buyer
    with pytest.raises(EmailNotVerified):
        mails.caller(token(email="bea@example.com", verified=False))
    with pytest.raises(UnknownCaller):
        mails.caller(token(email="nobody@example.com"))


def test_once_bound_only_the_bound_account_is_the_user(mails):
    buyer = user(mails, email="bea@example.com")
    mails.save(*mails.recipient_signed_in(buyer, ISSUER, "sub-bea"))
    assert mails.caller(token(email="other@example.com", subject="sub-bea")).id == buyer
    with pytest.raises(IdentityMismatch):
        mails.caller(token(email="bea@example.com", subject="sub-mallory"))


def test_a_changed_address_no_longer_finds_the_user(mails):
    buyer = user(mails, email="old@example.com")
    changed = users.UserEmailChanged(user_id=buyer, company_id=uuid4(), email="new@example.com",
                                     previous_email="old@example.com")  # fmt: skip
    mails.save(*handle(mails, changed, USERS_USERS))
    assert mails.caller(token(email="new@example.com")).id == buyer
    with pytest.raises(UnknownCaller):
        mails.caller(token(email="old@example.com"))


def test_a_deactivated_user_is_refused(mails):
    buyer = user(mails, email="gone@example.com")
    mails.save(*handle(mails, users.UserDeactivated(user_id=buyer, company_id=uuid4()), USERS_USERS))
    with pytest.raises(CallerInactive):
        mails.caller(token(email="gone@example.com"))
