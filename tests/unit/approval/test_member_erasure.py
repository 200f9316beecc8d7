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


def test_an_erased_member_is_never_active_again():
    m = member()
    m.erase(AT)
    m.update(active=True, permissions=["approve_orders"])
    assert not m.active and m.permissions == frozenset({"approve_orders"})


def test_a_person_erased_before_they_were_known_is_kept_as_an_erased_member_without_names():
    user_id, company_id = uuid4(), uuid4()
    m = Member.erased_before_known(user_id, company_id, AT)
    assert (m.id, m.company_id, m.erased_at) == (user_id, company_id, AT)
    assert m.erased and not m.active and m.permissions == frozenset()
    assert (m.email, m.first_name, m.last_name, m.name) == ("", "", "", "")
    m.update(first_name="Erika", last_name="Muster", email="erika@example.com", active=True)
    assert (m.email, m.name, m.active) == ("", "", False)


def test_a_message_names_an_erased_member_as_an_erased_user():
    m = member()
    assert m.label == "Erika Muster"
    m.erase(AT)
    assert m.label == "An erased user"
    assert f"{m.label} may not approve orders." == "An erased user may not approve orders."


def test_a_message_names_a_member_without_a_name_by_their_id_never_by_an_empty_name():
    m = Member.join(uuid4(), uuid4(), "x@example.com", "", "", "de")
    assert m.label == f"User {m.id}"


def test_a_member_whose_names_no_longer_open_is_named_by_id_never_none():
    """Sealed names open as None once the person's key is gone (ADR 0035), possibly before approval is told of the
    erasure: the member's name is blank then, and a message names them by id."""
    member = Member.join(uuid4(), uuid4(), None, None, None, "de")  # type: ignore[arg-type]
    assert member.name == ""
    assert member.label == f"User {member.id}"
