"""A member erased by users (ADR 0035): names and e-mail blank for good, the rest of their state still kept."""

from datetime import UTC, datetime
from uuid import uuid4

from approval.domain.members import Member

AT = datetime(2026, 12, 7, 9, 14, tzinfo=UTC)


def member() -> Member:
    m = Member.join(uuid4(), uuid4(), "erika@example.com", "Erika", "Muster", "de")
    m.update(permissions=["place_orders"])
    return m


def test_an_erased_member_has_no_names_or_email_and_is_inactive():
    m = member()
    m.erase(AT)
    assert m.erased and m.erased_at == AT and not m.active
    assert (m.email, m.first_name, m.last_name, m.name) == ("", "", "", "")
    assert m.permissions == frozenset({"place_orders"})


def test_erasing_twice_records_one_event():
    m = member()
    m.erase(AT)
    m.erase(AT)
    assert [type(e) for e in m.collect_events()].count(Member.Erased) == 1


def test_a_change_of_names_or_email_after_the_erasure_is_not_kept_the_rest_is():
    m = member()
    m.erase(AT)
    m.update(first_name="Erika", last_name="Muster", email="erika@example.com", permissions=["approve_orders"])
    assert (m.email, m.first_name, m.last_name) == ("", "", "")
    assert m.permissions == frozenset({"approve_orders"})


def test_a_change_of_only_names_after_the_erasure_records_nothing():
    m = member()
    m.erase(AT)
    m.collect_events()
    m.update(first_name="Erika")
    assert m.collect_events() == []


def test_a_member_replayed_from_its_events_stays_erased():
    m = member()
    m.erase(AT)
    copy = None
    for e in m.collect_events():
        copy = e.mutate(copy)
    assert copy is not None and copy.erased and copy.name == ""
