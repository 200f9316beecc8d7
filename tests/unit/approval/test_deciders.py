"""Who may decide an order while approvers are away (ADR 0020): the one rule that routing's offers, the decisions'
permission, visibility and the inbox follow — as a pure function of the routed approvers, the buyer and the
absences in force."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from approval.domain.absences import Absence
from approval.domain.routing import deciders

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
ANNA, BEN, SAM, TOM, BUYER = (uuid4() for _ in range(5))


def away(approver, substitute, hours: float = 8, start: timedelta = timedelta(0), withdrawn: datetime | None = None):
    begin = NOW + start
    return Absence(uuid4(), approver, substitute, begin, begin + timedelta(hours=hours), approver, NOW,
                   approver if withdrawn else None, withdrawn)  # fmt: skip


def in_force(*absences: Absence) -> list[Absence]:
    return [a for a in absences if a.in_force(NOW)]


def test_without_absences_the_routed_approvers_decide_in_their_own_right():
    assert deciders((ANNA, BEN), BUYER, []) == {ANNA: None, BEN: None}


def test_the_substitute_of_an_absent_approver_decides_on_their_behalf_and_the_approver_still_decides():
    assert deciders((ANNA,), BUYER, [away(ANNA, SAM)]) == {ANNA: None, SAM: ANNA}


def test_an_absence_of_someone_not_routed_adds_nobody():
    assert deciders((ANNA,), BUYER, [away(BEN, SAM)]) == {ANNA: None}


def test_the_buyer_never_decides_not_even_as_substitute():
    assert deciders((ANNA,), SAM, [away(ANNA, SAM)]) == {ANNA: None}
    assert deciders((ANNA, SAM), SAM, []) == {ANNA: None}


def test_a_substitute_who_is_routed_anyway_decides_in_their_own_right():
    assert deciders((ANNA, SAM), BUYER, [away(ANNA, SAM)]) == {ANNA: None, SAM: None}


def test_one_substitute_for_two_absent_approvers_decides_for_the_first_in_routing_order():
    assert deciders((BEN, ANNA), BUYER, [away(ANNA, SAM), away(BEN, SAM)])[SAM] == BEN


def test_two_substitutes_for_one_approver_both_decide():
    assert deciders((ANNA,), BUYER, [away(ANNA, SAM), away(ANNA, TOM)]) == {ANNA: None, SAM: ANNA, TOM: ANNA}


def test_substitution_does_not_chain():
    assert deciders((ANNA,), BUYER, [away(ANNA, SAM), away(SAM, TOM)]) == {ANNA: None, SAM: ANNA}


def test_in_force_from_the_start_inclusive_to_the_end_exclusive_or_the_withdrawal():
    later, ended, withdrawn = (
        away(ANNA, SAM, start=timedelta(minutes=1)),
        away(ANNA, SAM, hours=1, start=-timedelta(hours=1)),
        away(ANNA, SAM, start=-timedelta(hours=1), withdrawn=NOW),
    )
    starting_now = away(ANNA, TOM)
    assert in_force(later, ended, withdrawn, starting_now) == [starting_now]
    assert [a.state(NOW) for a in (later, ended, withdrawn, starting_now)] == [
        "upcoming", "ended", "withdrawn", "in_force",
    ]  # fmt: skip
