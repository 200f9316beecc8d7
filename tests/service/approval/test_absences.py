"""Absences and substitutes (issue 17 item 1, ADR 0020) on the in-memory store: while an approver is away, the orders
routed to them are also offered to their substitute, who decides them on the approver's behalf — judged at the
moment of each request, never their own orders."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from approval.application.orders import Orders
from approval.domain.absences import Absences
from approval.domain.model import NotAllowed, OrderNotFound, OrderStatus, SelfApproval, WrongState
from tests.service.approval.test_orders_application import BUDGET, order
from tests.support.approval import Company
from tests.support.users import signed_in

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def orders(clock) -> Orders:
    app = Orders(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    app.clock = clock
    return app


@pytest.fixture
def team(company):
    """A buyer, the named approver Anna, and Sam, who may approve but is not named (so decides nothing of his own)."""
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    anna = company.member("anna", ["approve_orders"])
    sam = company.member("sam", ["approve_orders"])
    company.approvers(anna)
    return buyer, anna, sam


def away(orders: Orders, who, substitute, hours: float = 8, start: timedelta = timedelta(0), approver=None):
    """``who`` records ``approver``'s (default: their own) absence from now + ``start`` for ``hours``."""
    begin = orders.clock() + start
    return orders.record_absence(
        who, substitute.id, begin, begin + timedelta(hours=hours), approver.id if approver else None
    )


def offers(orders: Orders, order_id) -> list:
    return [e for e in orders.events.get(order_id) if type(e).__name__ == "OfferedToSubstitute"]


# ---- who decides ------------------------------------------------------------------------------------------------


def test_during_the_absence_a_new_order_is_offered_to_the_substitute(orders, team):
    buyer, anna, sam = team
    away(orders, anna, sam)
    held = orders.submit(buyer, order(20))
    assert held.approvers == (anna.id,)  # routed as always
    assert orders.deciders(held, NOW) == {anna.id: None, sam.id: anna.id}
    (offer,) = offers(orders, held.id)
    assert (offer.substitute_id, offer.on_behalf_of, offer.until) == (sam.id, anna.id, NOW + 8 * HOUR)


def test_the_substitute_approves_on_the_absent_approvers_behalf(orders, team):
    buyer, anna, sam = team
    away(orders, anna, sam)
    held = orders.submit(buyer, order(20))
    done = orders.approve(sam, held.id, "Für Anna freigegeben")
    assert (done.status, done.decided_by, done.decided_on_behalf_of) == (OrderStatus.RELEASED, sam.id, anna.id)
    assert (done.conversation[-1].author_id, done.conversation[-1].on_behalf_of) == (sam.id, anna.id)
    (approved,) = [e for e in orders.events.get(held.id) if type(e).__name__ == "Approved"]
    assert (approved.approver_id, approved.on_behalf_of) == (sam.id, anna.id)


def test_the_substitute_rejects_on_the_absent_approvers_behalf(orders, team):
    buyer, anna, sam = team
    away(orders, anna, sam)
    held = orders.submit(buyer, order(20))
    done = orders.reject(sam, held.id, "Zu viel")
    assert (done.status, done.decided_by, done.decided_on_behalf_of) == (OrderStatus.REJECTED, sam.id, anna.id)


def test_an_order_already_waiting_is_offered_when_the_absence_is_recorded(orders, team):
    buyer, anna, sam = team
    held = orders.submit(buyer, order(20))
    assert offers(orders, held.id) == []
    orders.record_absence(anna, sam.id, NOW, NOW + DAY, waiting=[held.id])
    (offer,) = offers(orders, held.id)
    assert offer.substitute_id == sam.id
    assert orders.approve(sam, held.id).decided_on_behalf_of == anna.id


def test_a_waiting_order_is_the_substitutes_even_without_being_named_to_the_recording(orders, team):
    """The read model may lag behind a submission: the order is offered (inbox, decision) all the same, only its
    mail is missing."""
    buyer, anna, sam = team
    held = orders.submit(buyer, order(20))
    away(orders, anna, sam)
    assert offers(orders, held.id) == []
    assert orders.approve(sam, held.id).decided_on_behalf_of == anna.id


def test_the_absent_approver_still_decides(orders, team):
    buyer, anna, sam = team
    away(orders, anna, sam)
    held = orders.submit(buyer, order(20))
    done = orders.approve(anna, held.id)
    assert (done.decided_by, done.decided_on_behalf_of) == (anna.id, None)


def test_before_the_absence_begins_the_substitute_decides_nothing(orders, team):
    buyer, anna, sam = team
    away(orders, anna, sam, start=DAY)
    held = orders.submit(buyer, order(20))
    assert offers(orders, held.id) == []
    with pytest.raises(OrderNotFound):
        orders.approve(sam, held.id)


def test_when_the_absence_ends_the_order_is_no_longer_offered(orders, clock, team):
    buyer, anna, sam = team
    away(orders, anna, sam, hours=2)
    held = orders.submit(buyer, order(20))
    assert orders.acting_for(sam) == [anna.id]
    clock.now = NOW + 2 * HOUR  # the end is exclusive
    assert orders.acting_for(sam) == []
    with pytest.raises(OrderNotFound):  # Sam (no view of the company's orders) no longer sees it
        orders.approve(sam, held.id)
    with pytest.raises(OrderNotFound):
        orders.reject(sam, held.id, "zu spät")
    assert orders.approve(anna, held.id).decided_by == anna.id


def test_after_the_end_a_substitute_who_sees_all_orders_is_refused_as_not_allowed(orders, clock, company, team):
    buyer, anna, _ = team
    viewer = company.member("viewer", ["approve_orders", "view_company_orders"])
    away(orders, anna, viewer, hours=1)
    held = orders.submit(buyer, order(20))
    clock.now = NOW + 3 * HOUR
    with pytest.raises(NotAllowed):
        orders.approve(viewer, held.id)


def test_a_withdrawn_absence_offers_nothing_more(orders, clock, team):
    buyer, anna, sam = team
    absence = away(orders, anna, sam)
    held = orders.submit(buyer, order(20))
    clock.now = NOW + HOUR
    withdrawn = orders.withdraw_absence(anna, absence.id)
    assert (withdrawn.withdrawn_by, withdrawn.withdrawn_at, withdrawn.state(clock.now)) == (anna.id, clock.now,
                                                                                            "withdrawn")  # fmt: skip
    assert orders.acting_for(sam) == []
    with pytest.raises(OrderNotFound):
        orders.approve(sam, held.id)


def test_a_substitute_who_may_no_longer_approve_decides_nothing(orders, team):
    buyer, anna, sam = team
    away(orders, anna, sam)
    held = orders.submit(buyer, order(20))
    orders.save(*orders.member_changed(sam.id, permissions=["place_orders"]))
    sam = orders.caller(signed_in(sam.email))
    assert orders.acting_for(sam) == []
    with pytest.raises(OrderNotFound):
        orders.approve(sam, held.id)


def test_substitution_does_not_chain(orders, company, team):
    buyer, anna, sam = team
    third = company.member("third", ["approve_orders"])
    away(orders, anna, sam)
    away(orders, sam, third)
    held = orders.submit(buyer, order(20))
    assert orders.deciders(held, NOW) == {anna.id: None, sam.id: anna.id}
    with pytest.raises(OrderNotFound):
        orders.approve(third, held.id)


def test_an_order_routed_anew_to_an_absent_approver_is_offered_to_their_substitute(orders, company, team):
    buyer, _, sam = team
    ben = company.member("ben", ["approve_orders"])
    away(orders, ben, sam)
    held = orders.submit(buyer, order(20))  # for Anna only
    assert offers(orders, held.id) == []
    orders.save(*orders.approvers_changed(company.id, (ben.id,), [held.id]))
    (offer,) = offers(orders, held.id)
    assert (offer.substitute_id, offer.on_behalf_of) == (sam.id, ben.id)


# ---- four eyes --------------------------------------------------------------------------------------------------


def test_a_substitute_never_decides_their_own_order(orders, company):
    anna = company.member("anna", ["approve_orders"])
    sam = company.member("sam", ["place_orders", "approve_orders"], BUDGET)
    company.approvers(anna)
    away(orders, anna, sam)
    own = orders.submit(sam, order(20))
    assert own.approvers == (anna.id,)
    assert orders.deciders(own, NOW) == {anna.id: None}
    assert offers(orders, own.id) == []
    with pytest.raises(SelfApproval):
        orders.approve(sam, own.id)
    with pytest.raises(SelfApproval):
        orders.reject(sam, own.id, "nein")
    assert orders.approve(anna, own.id).decided_by == anna.id  # someone else: the absent approver


def test_a_decision_of_a_substitute_is_once_like_any_other(orders, team):
    buyer, anna, sam = team
    away(orders, anna, sam)
    held = orders.submit(buyer, order(20))
    orders.approve(sam, held.id)
    with pytest.raises(WrongState):
        orders.approve(anna, held.id)
    with pytest.raises(WrongState):
        orders.reject(sam, held.id, "doch nicht")


def test_a_bulk_decision_by_the_substitute_reports_on_whose_behalf(orders, team):
    buyer, anna, sam = team
    away(orders, anna, sam)
    held = [orders.submit(buyer, order(20)) for _ in range(2)]
    results = orders.decide(sam, "approve", [o.id for o in held], "ok")
    assert [(r.error, r.order.decided_on_behalf_of) for r in results] == [(None, anna.id)] * 2


# ---- who records whose absence ------------------------------------------------------------------------------------


def test_the_main_contact_records_an_approvers_absence(orders, company, team):
    _, anna, sam = team
    absence = away(orders, company.main, sam, approver=anna)
    assert (absence.approver_id, absence.substitute_id, absence.recorded_by) == (anna.id, sam.id, company.main.id)


def test_who_manages_users_records_an_approvers_absence(orders, company, team):
    _, anna, sam = team
    admin = company.member("admin", ["manage_users"])
    assert away(orders, admin, sam, approver=anna).recorded_by == admin.id


def test_an_approver_cannot_record_a_colleagues_absence(orders, company, team):
    _, anna, sam = team
    with pytest.raises(NotAllowed):
        away(orders, sam, sam, approver=anna)


def test_a_buyer_cannot_record_an_absence_naming_themselves_substitute(orders, company, team):
    buyer, anna, _ = team
    with pytest.raises(NotAllowed):
        away(orders, buyer, buyer)  # their own: they decide nothing
    with pytest.raises(NotAllowed):
        away(orders, buyer, buyer, approver=anna)  # an approver's: not theirs to record
    assert orders.absences(company.main, include_past=True) == []


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("substitute_is_the_absent_person", "invalid_substitute"),
        ("substitute_may_not_approve", "invalid_substitute"),
        ("substitute_inactive", "invalid_substitute"),
        ("absent_person_decides_nothing", "not_an_approver"),
    ],
)
def test_the_people_must_fit(orders, company, team, case, code):
    buyer, anna, sam = team
    approver, substitute = anna, sam
    if case == "substitute_is_the_absent_person":
        substitute = anna
    elif case == "substitute_may_not_approve":
        substitute = buyer
    elif case == "substitute_inactive":
        orders.save(*orders.member_changed(sam.id, active=False))
    elif case == "absent_person_decides_nothing":
        approver = buyer
    with pytest.raises(Exception) as refused:
        away(orders, company.main, substitute, approver=approver)
    assert getattr(refused.value, "code", None) == code


@pytest.mark.parametrize(
    ("start", "hours", "code"),
    [
        (timedelta(0), 0, "invalid_period"),
        (timedelta(0), -1, "invalid_period"),
        (timedelta(0), 367 * 24, "period_too_long"),
        (-3 * DAY, 24, "period_over"),
    ],
)
def test_the_period_must_be_sound(orders, team, start, hours, code):
    _, anna, sam = team
    with pytest.raises(Exception) as refused:
        away(orders, anna, sam, hours=hours, start=start)
    assert refused.value.code == code


def test_an_absence_begun_already_may_be_recorded(orders, team):
    buyer, anna, sam = team
    away(orders, anna, sam, hours=24, start=-2 * HOUR)  # ill since this morning
    held = orders.submit(buyer, order(20))
    assert orders.deciders(held, NOW)[sam.id] == anna.id


def test_another_companys_people_are_not_found(orders, company, team):
    _, anna, sam = team
    stranger = Company(orders)
    with pytest.raises(OrderNotFound):
        away(orders, company.main, stranger.main, approver=anna)
    with pytest.raises(OrderNotFound):
        away(orders, company.main, sam, approver=stranger.main)
    with pytest.raises(OrderNotFound):
        orders.record_absence(company.main, uuid4(), NOW, NOW + DAY, anna.id)


# ---- seeing and withdrawing -----------------------------------------------------------------------------------


def test_who_sees_an_absence(orders, company, team):
    buyer, anna, sam = team
    onlooker = company.member("onlooker", ["approve_orders", "view_company_orders"])
    absence = away(orders, anna, sam)
    for member in (anna, sam, company.main):
        assert orders.absence(member, absence.id) == absence
        assert orders.absences(member) == [absence]
    for member in (buyer, onlooker):
        with pytest.raises(OrderNotFound):
            orders.absence(member, absence.id)
        assert orders.absences(member) == []


def test_another_companys_absence_is_not_found(orders, company, team):
    _, anna, sam = team
    absence = away(orders, anna, sam)
    stranger = Company(orders).main
    for attempt in (orders.absence, orders.withdraw_absence):
        with pytest.raises(OrderNotFound):
            attempt(stranger, absence.id)
    assert orders.absence(anna, absence.id).withdrawn_at is None


def test_the_substitute_cannot_withdraw_the_absence(orders, team):
    _, anna, sam = team
    absence = away(orders, anna, sam)
    with pytest.raises(NotAllowed):
        orders.withdraw_absence(sam, absence.id)


def test_an_absence_is_withdrawn_once_and_not_after_its_end(orders, clock, company, team):
    _, anna, sam = team
    first, second = away(orders, anna, sam, hours=1), away(orders, anna, sam, hours=2)
    orders.withdraw_absence(company.main, first.id)
    with pytest.raises(WrongState):
        orders.withdraw_absence(anna, first.id)
    clock.now = NOW + 3 * HOUR
    with pytest.raises(WrongState):
        orders.withdraw_absence(anna, second.id)


def test_past_absences_are_listed_on_request_with_their_audit(orders, clock, company, team):
    _, anna, sam = team
    ended = away(orders, company.main, sam, hours=1, approver=anna)
    later = away(orders, anna, sam, hours=1, start=DAY)
    clock.now = NOW + 2 * HOUR
    assert orders.absences(anna) == [later]
    listed = orders.absences(anna, include_past=True)
    assert [a.id for a in listed] == [ended.id, later.id]
    assert [a.state(clock.now) for a in listed] == ["ended", "upcoming"]
    assert (listed[0].recorded_by, listed[0].recorded_at) == (company.main.id, NOW)


def test_every_recording_and_withdrawal_is_an_event_with_who_and_when(orders, clock, company, team):
    _, anna, sam = team
    absence = away(orders, anna, sam)
    clock.now = NOW + HOUR
    orders.withdraw_absence(company.main, absence.id)
    recorded, withdrawn = list(orders.events.get(Absences.create_id(company.id)))[1:]
    assert (type(recorded).__name__, recorded.by, recorded.at, recorded.substitute_id) == ("Recorded", anna.id, NOW,
                                                                                          sam.id)  # fmt: skip
    assert (type(withdrawn).__name__, withdrawn.by, withdrawn.at) == ("Withdrawn", company.main.id, NOW + HOUR)
