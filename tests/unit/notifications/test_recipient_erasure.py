"""The Recipient aggregate's erasure (ADR 0035): plain domain objects, no store."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from notifications.domain.recipients import Recipient

AT = datetime(2026, 12, 7, 9, 14, tzinfo=UTC)


def recipient() -> Recipient:
    return Recipient.known(uuid4(), "erika@example.com", "Erika", "Muster", "en", active=False)


def test_an_erased_recipient_keeps_only_its_id():
    r = recipient()
    r.erase(AT)
    assert r.erased and not r.active
    assert (r.email, r.first_name, r.last_name, r.language, r.name) == ("", "", "", "", "")
    assert isinstance(r.collect_events()[-1], Recipient.Erased)


def test_erasing_an_erased_recipient_records_nothing():
    r = recipient()
    r.erase(AT)
    r.collect_events()
    r.erase(AT)
    assert r.collect_events() == []


def test_a_recipient_known_before_erasure_existed_reads_as_not_erased():
    r = recipient()
    r.__dict__.pop("erased", None)  # state made by a release without the attribute (a snapshot, a copy)
    assert r.erased is False
