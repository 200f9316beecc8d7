"""The rules of a user's mail preferences and of the digest's day and hour (ADR 0027), as plain objects."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest

from notifications.domain.digests import Digest, DigestClosed, DigestStatus, digest_day, due_at
from notifications.domain.preferences import (
    CATALOGUE,
    ActionMailCannotBeOff,
    Delivery,
    PreferenceError,
    Preferences,
    UnknownKind,
    preference_kind,
)

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
ACTION = sorted(k.name for k in CATALOGUE.values() if k.action_needed)
INFORMATIONAL = sorted(k.name for k in CATALOGUE.values() if not k.action_needed)


def prefs() -> Preferences:
    return Preferences.start(uuid4())


def test_every_kind_is_delivered_immediately_until_the_user_chooses():
    p = prefs()
    assert {p.delivery(kind) for kind in CATALOGUE} == {Delivery.IMMEDIATELY}


def test_the_catalogue_says_which_mails_need_action():
    assert ACTION == ["approval_reassigned", "approval_requested", "order_credit_hold_figures", "substitute_offer"]
    assert INFORMATIONAL == [
        "order_approved", "order_credit_hold", "order_expired", "order_rejected", "order_released_on_re_evaluation",
    ]  # fmt: skip


@pytest.mark.parametrize("kind", INFORMATIONAL)
def test_an_informational_mail_may_come_in_the_digest_or_not_at_all(kind):
    p = prefs()
    assert p.choose({kind: "none"}, by=p.user_id, at=NOW)
    assert p.delivery(kind) is Delivery.NONE
    assert p.choose({kind: "digest"}, by=p.user_id, at=NOW)
    assert p.delivery(kind) is Delivery.DIGEST


@pytest.mark.parametrize("kind", ACTION)
def test_a_mail_that_needs_action_cannot_be_switched_off_but_may_go_to_the_digest(kind):
    p = prefs()
    with pytest.raises(ActionMailCannotBeOff):
        p.choose({kind: "none"}, by=p.user_id, at=NOW)
    assert p.delivery(kind) is Delivery.IMMEDIATELY
    assert p.choose({kind: "digest"}, by=p.user_id, at=NOW)
    assert p.delivery(kind) is Delivery.DIGEST


def test_an_unknown_kind_is_refused_and_nothing_of_the_request_is_applied():
    p = prefs()
    with pytest.raises(UnknownKind) as refused:
        p.choose({"order_approved": "digest", "newsletter": "none"}, by=p.user_id, at=NOW)
    assert refused.value.code == "unknown_kind"
    assert refused.value.details == [{"field": "preferences.newsletter", "problem": "unknown kind of mail"}]
    assert p.delivery("order_approved") is Delivery.IMMEDIATELY


def test_a_delivery_that_does_not_exist_is_refused():
    p = prefs()
    with pytest.raises(PreferenceError):
        p.choose({"order_approved": "weekly"}, by=p.user_id, at=NOW)


def test_kinds_not_named_keep_their_choice_and_each_change_records_who_and_when():
    p = prefs()
    p.choose({"order_approved": "digest"}, by=p.user_id, at=NOW)
    later = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    p.choose({"order_rejected": "none"}, by=p.user_id, at=later)
    assert (p.delivery("order_approved"), p.delivery("order_rejected")) == (Delivery.DIGEST, Delivery.NONE)
    assert (p.changed_by, p.changed_at) == (p.user_id, later)
    chosen = [e for e in p.collect_events() if isinstance(e, Preferences.Chose)]
    assert [(e.choices, e.at) for e in chosen] == [
        ({"order_approved": "digest"}, NOW),
        ({"order_rejected": "none"}, later),
    ]


def test_choosing_what_is_already_chosen_records_nothing():
    p = prefs()
    assert not p.choose({"order_approved": "immediately"}, by=p.user_id, at=NOW)
    assert [type(e) for e in p.collect_events()] == [Preferences.Started]


def test_an_approval_request_to_a_substitute_is_a_substitutes_offer():
    assert preference_kind("approval_requested", {"on_behalf_of": str(uuid4())}) == "substitute_offer"
    assert preference_kind("approval_requested", {}) == "approval_requested"
    assert preference_kind("order_approved", {"on_behalf_of": "x"}) == "order_approved"


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 12, 6, 5, 59, tzinfo=UTC), date(2026, 12, 6)),  # 06:59 in Berlin (CET): today's, due at 07:00
        (datetime(2026, 12, 6, 6, 0, tzinfo=UTC), date(2026, 12, 7)),  # 07:00 in Berlin: tomorrow's
        (datetime(2026, 12, 6, 23, 30, tzinfo=UTC), date(2026, 12, 7)),  # 00:30 on the 7th in Berlin: the 7th's
        (datetime(2026, 7, 1, 4, 59, tzinfo=UTC), date(2026, 7, 1)),  # summer time: 06:59 CEST
        (datetime(2026, 7, 1, 5, 0, tzinfo=UTC), date(2026, 7, 2)),  # 07:00 CEST
    ],
)
def test_the_digest_day_is_the_next_one_whose_hour_has_not_come_in_berlin(now, expected):
    assert digest_day(now, 7, BERLIN) == expected


def test_a_digest_is_due_at_its_hour_in_local_time_winter_and_summer():
    assert due_at(date(2026, 12, 7), 7, BERLIN) == datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
    assert due_at(date(2026, 7, 2), 7, BERLIN) == datetime(2026, 7, 2, 5, 0, tzinfo=UTC)


def test_an_hour_the_clocks_skip_is_read_with_the_offset_before_the_change():
    # 29 March 2026: 02:00 CET becomes 03:00 CEST; 02:00 (fold=0, +01:00) is 01:00 UTC
    assert due_at(date(2026, 3, 29), 2, BERLIN) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


def test_a_digest_is_one_per_user_and_day():
    user = uuid4()
    assert Digest.create_id(user, date(2026, 12, 7)) == Digest.create_id(user, date(2026, 12, 7))
    assert Digest.create_id(user, date(2026, 12, 7)) != Digest.create_id(user, date(2026, 12, 8))
    assert Digest.create_id(user, date(2026, 12, 7)) != Digest.create_id(uuid4(), date(2026, 12, 7))


def test_a_digest_takes_each_mail_once_and_none_once_claimed_or_sent():
    digest = Digest.open(uuid4(), date(2026, 12, 7), due_at(date(2026, 12, 7), 7, BERLIN))
    mail = uuid4()
    digest.add(mail)
    digest.add(mail)
    assert digest.mail_ids == [mail]
    digest.claim(NOW)
    with pytest.raises(DigestClosed):
        digest.add(uuid4())
    digest.mark_sent("a@example.com", "s", NOW)
    assert digest.status is DigestStatus.SENT
    with pytest.raises(DigestClosed):
        digest.claim(NOW)


def test_a_digest_whose_sender_died_after_the_claim_is_claimed_again_with_the_same_message_id():
    digest = Digest.open(uuid4(), date(2026, 12, 7), NOW)
    digest.add(uuid4())
    digest.claim(NOW)
    first = digest.message_id
    digest.claim(NOW)
    assert (digest.status, digest.attempts, digest.message_id) == (DigestStatus.CLAIMED, 2, first)


ADDRESS_MAILS = {"registration_confirmation", "registration_completed", "email_change_confirmation"}
"""Mails to an address, not a user: always at once, not in the catalogue (ADR 0027)."""


def test_every_mail_to_a_user_has_a_kind_in_the_catalogue():
    """A mail added later without a catalogue entry would be sent at once whatever the user chose: add its entry."""
    from notifications.adapters.outbound.templates import TEMPLATES

    kinds = {p.name.split(".")[0] for p in (TEMPLATES / "de").glob("*.subject.j2")} - {"digest"}
    assert kinds - ADDRESS_MAILS - set(CATALOGUE) == set()
    assert set(CATALOGUE) - {"substitute_offer"} <= kinds  # every kind but the substitute's is a template
