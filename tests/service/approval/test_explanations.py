"""Why an order went where it went (issue 18 item 2, ADR 0028), on the in-memory store: each step reconstructed
from the order's events and from the company's approvers, members and absences as they were then — a budget, an
approver list or a price changed later leaves the explanation as it was; who may read it."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from approval.application.explanations import Explanation, Explanations, Step
from approval.application.orders import Orders
from approval.domain.budget import Budget, PeriodBudget
from approval.domain.credit import CreditFigures
from approval.domain.model import NotAllowed, Order, OrderLine, OrderNotFound
from approval.domain.tiers import Tier
from tests.service.approval.test_orders_application import BUDGET, order
from tests.support.approval import Company
from tests.unit.approval.test_order import content

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


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
    """A buyer (10 pieces, 100 EUR per order), Anna the named approver, Sam who may approve but is not named."""
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    anna = company.member("anna", ["approve_orders", "view_company_orders"])
    sam = company.member("sam", ["approve_orders", "view_company_orders"])
    company.approvers(anna)
    return buyer, anna, sam


def explain(orders: Orders, member, order_id) -> Explanation:
    return Explanations(orders).explain(member, order_id)


def step(x: Explanation, kind: str) -> Step:
    (found,) = [s for s in x.steps if s.kind == kind]
    return found


def away(orders: Orders, who, substitute, start: timedelta = timedelta(0), hours: float = 8):
    begin = orders.clock() + start
    return orders.record_absence(who, substitute.id, begin, begin + timedelta(hours=hours))


# ---- what applied at submission ---------------------------------------------------------------------------------


def test_an_order_over_budget_is_explained_by_its_budget_prices_verdict_and_approver(orders, team):
    buyer, anna, _ = team
    held = orders.submit(buyer, order(20))
    x = explain(orders, buyer, held.id)
    assert [s.kind for s in x.steps] == ["submitted", "approval_requested"]
    submitted = step(x, "submitted")
    assert (submitted.by, submitted.round, submitted.at) == (buyer.id, 1, NOW)
    (line,) = submitted.content.lines
    assert (line.sku, line.quantity, line.unit_price, line.list_unit_price) == ("A-1", 20, Decimal("10.00"),
                                                                                Decimal("10.00"))  # fmt: skip
    assert line.price_changed_at is not None  # the ERP's price record used
    j = submitted.judgement
    assert (j.budget, j.budget_source, j.outcome) == (BUDGET, "recorded", "held_for_approval")
    assert [(e.limit, e.allowed, e.actual) for e in j.exceeded] == [
        ("max_quantity", Decimal(10), Decimal(20)), ("max_value", Decimal("100.00"), Decimal("200.00")),
    ]  # fmt: skip
    routed = step(x, "approval_requested")
    r = routed.routing
    assert (r.approvers, r.rule, r.named, r.main_contact, r.buyer_left_out, r.policy) == (
        (anna.id,), "approvers_named", (anna.id,), orders.company(buyer.company_id).main_contact_id, False,
        "one_approval",
    )  # fmt: skip
    (could,) = routed.waiting.could_decide
    assert (could.person, could.capacity, could.since, could.until) == (anna.id, "approver", NOW, None)
    assert routed.waiting.until is None  # still waiting
    assert x.names[anna.id] == "Anna Muster"


def test_an_order_within_budget_is_explained_as_released_at_once(orders, team):
    buyer, _, _ = team
    done = orders.submit(buyer, order(5))
    x = explain(orders, buyer, done.id)
    assert [s.kind for s in x.steps] == ["submitted", "released"]
    j = step(x, "submitted").judgement
    assert (j.exceeded, j.outcome) == ((), "released")
    assert step(x, "released").by is None  # nobody approved: within budget


def test_a_budget_changed_after_submission_leaves_the_explanation_with_the_budget_of_then(orders, team):
    buyer, _, _ = team
    held = orders.submit(buyer, order(20))
    orders.save(*orders.member_changed(buyer.id, budget=Budget(max_quantity=500)))
    j = step(explain(orders, buyer, held.id), "submitted").judgement
    assert (j.budget, j.budget_source) == (BUDGET, "recorded")
    assert [e.limit for e in j.exceeded] == ["max_quantity", "max_value"]


def test_approvers_named_after_submission_leave_the_reason_it_went_to_whom(orders, company, team):
    buyer, anna, sam = team
    held = orders.submit(buyer, order(20))
    company.approvers(sam)  # named later (not rerouted here): the explanation keeps the list of then
    r = step(explain(orders, buyer, held.id), "approval_requested").routing
    assert (r.approvers, r.named) == ((anna.id,), (anna.id,))


def test_a_price_changed_in_the_erp_after_submission_leaves_the_price_of_then(orders, company, team):
    buyer, _, _ = team
    held = orders.submit(buyer, order(20))
    company.price("A-1", "12.50")
    (line,) = step(explain(orders, buyer, held.id), "submitted").content.lines
    assert line.unit_price == Decimal("10.00")


def test_with_no_approver_named_the_main_contact_decides_as_the_fallback(orders, company):
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    held = orders.submit(buyer, order(20))
    orders.approve(company.main, held.id, "Passt")
    x = explain(orders, buyer, held.id)
    r = step(x, "approval_requested").routing
    assert (r.rule, r.approvers, r.named, r.main_contact) == ("main_contact_fallback", (company.main.id,), (),
                                                              company.main.id)  # fmt: skip
    d = step(x, "approved").decision
    assert (d.decision, d.capacity, d.on_behalf_of) == ("approved", "main_contact", None)
    assert step(x, "approved").comment == "Passt"


def test_a_buyer_named_approver_is_left_out_of_their_own_order(orders, company, team):
    buyer, anna, _ = team
    company.approvers(anna, buyer)
    held = orders.submit(buyer, order(20))
    r = step(explain(orders, buyer, held.id), "approval_requested").routing
    assert (r.approvers, r.rule, r.buyer_left_out) == ((anna.id,), "approvers_named", True)


# ---- substitutes: who could have decided, who did ------------------------------------------------------------------


def test_a_substitute_who_approves_on_the_absent_approvers_behalf_is_explained_so(orders, team):
    buyer, anna, sam = team
    absence = away(orders, anna, sam)
    held = orders.submit(buyer, order(20))
    orders.approve(sam, held.id, "In Vertretung")
    x = explain(orders, buyer, held.id)
    assert [s.kind for s in x.steps] == ["submitted", "approval_requested", "offered_to_substitute", "approved",
                                         "released"]  # fmt: skip
    (sub,) = step(x, "approval_requested").routing.substitutes
    assert (sub.substitute, sub.on_behalf_of, sub.absence_id, sub.recorded_by) == (sam.id, anna.id, absence.id,
                                                                                   anna.id)  # fmt: skip
    approved = step(x, "approved")
    assert (approved.by, approved.on_behalf_of, approved.comment) == (sam.id, anna.id, "In Vertretung")
    d = approved.decision
    assert (d.capacity, d.on_behalf_of, d.absence.absence_id) == ("substitute", anna.id, absence.id)
    assert d.could == ("approve", "approve_with_changes", "reject")
    assert {(c.person, c.capacity, c.on_behalf_of) for c in d.could_have_decided} == {
        (anna.id, "approver", None), (sam.id, "substitute", anna.id),
    }  # fmt: skip
    released = step(x, "released")
    assert released.by == sam.id
    assert (x.order.decided_by, x.order.decided_on_behalf_of) == (sam.id, anna.id)


def test_a_substitute_could_decide_only_for_the_part_of_the_wait_their_absence_was_in_force(orders, clock, team):
    buyer, anna, sam = team
    held = orders.submit(buyer, order(20))
    clock.now = NOW + 2 * HOUR
    away(orders, anna, sam, hours=3)
    clock.now = NOW + 4 * HOUR
    orders.reject(anna, held.id, "Zu viel")
    waiting = step(explain(orders, buyer, held.id), "approval_requested").waiting
    assert (waiting.since, waiting.until, waiting.ended_by) == (NOW, NOW + 4 * HOUR, "rejected")
    assert {(c.person, c.capacity, c.on_behalf_of, c.since, c.until) for c in waiting.could_decide} == {
        (anna.id, "approver", None, NOW, NOW + 4 * HOUR),
        (sam.id, "substitute", anna.id, NOW + 2 * HOUR, NOW + 4 * HOUR),
    }  # fmt: skip


def test_an_absence_recorded_after_the_decision_was_no_substitution_then(orders, clock, team):
    """Recorded later with a start in the past: the system did not know it when the order was decided."""
    buyer, anna, sam = team
    held = orders.submit(buyer, order(20))
    clock.now = NOW + HOUR
    orders.approve(anna, held.id)
    clock.now = NOW + 2 * HOUR
    orders.record_absence(anna, sam.id, NOW - HOUR, NOW + 5 * HOUR)
    x = explain(orders, buyer, held.id)
    assert [(c.person, c.capacity) for c in step(x, "approval_requested").waiting.could_decide] == [
        (anna.id, "approver")
    ]
    d = step(x, "approved").decision
    assert (d.capacity, [c.person for c in d.could_have_decided]) == ("approver", [anna.id])


# ---- later steps ----------------------------------------------------------------------------------------------


def test_a_rejected_order_sent_back_is_judged_again_in_a_second_round(orders, team):
    buyer, anna, _ = team
    held = orders.submit(buyer, order(20))
    orders.reject(anna, held.id, "Zu viel")
    orders.resubmit(buyer, held.id, "Jetzt 8", order(8))
    x = explain(orders, buyer, held.id)
    assert [(s.kind, s.round) for s in x.steps] == [
        ("submitted", 1), ("approval_requested", 1), ("rejected", 1), ("resubmitted", 2), ("released", 2),
    ]  # fmt: skip
    resubmitted = step(x, "resubmitted")
    assert (resubmitted.comment, resubmitted.judgement.outcome, resubmitted.judgement.exceeded) == (
        "Jetzt 8", "released", (),
    )  # fmt: skip
    assert [(c.field, c.before, c.after) for c in resubmitted.changes] == [("line:A-1:quantity", "20", "8")]
    assert step(x, "approval_requested").waiting.ended_by == "rejected"


def test_an_approval_with_changes_shows_the_modification_and_the_lines_released(orders, team):
    buyer, anna, _ = team
    held = orders.submit(buyer, order(20))
    orders.approve(anna, held.id, "Nur 12", order(12))
    x = explain(orders, buyer, held.id)
    modified = step(x, "modified")
    assert (modified.by, [(c.field, c.after) for c in modified.changes]) == (anna.id, [("line:A-1:quantity", "12")])
    assert step(x, "released").content.total_quantity == 12


def test_a_re_evaluation_shows_the_budgets_before_and_after_and_who_asked(orders, company, team):
    buyer, _, _ = team
    held = orders.submit(buyer, order(20))
    orders.save(*orders.member_changed(buyer.id, budget=Budget(max_quantity=50, max_value=Decimal("500"),
                                                               currency="EUR")))  # fmt: skip
    orders.re_evaluate(company.main, [held.id])
    x = explain(orders, buyer, held.id)
    assert [s.kind for s in x.steps][-2:] == ["re_evaluated", "released"]
    j = step(x, "re_evaluated").judgement
    assert (step(x, "re_evaluated").by, j.budget_before, j.outcome, j.exceeded) == (company.main.id, BUDGET,
                                                                                    "released", ())  # fmt: skip
    assert [e.limit for e in j.exceeded_before] == ["max_quantity", "max_value"]
    assert step(x, "submitted").judgement.budget == BUDGET  # the submission's verdict stays as it was


def test_the_erps_answer_ends_the_explanation(orders, team):
    buyer, _, _ = team
    done = orders.submit(buyer, order(5))
    orders.save(*orders.erp_transmitted(done.id))
    orders.save(*orders.erp_confirmed(done.id, "SO-4711"))
    x = explain(orders, buyer, done.id)
    assert [s.kind for s in x.steps][-2:] == ["transmitted", "confirmed_by_erp"]
    assert step(x, "confirmed_by_erp").erp_order_number == "SO-4711"


def test_the_period_budget_figures_judged_on_are_shown(orders, company):
    monthly = Budget(max_quantity=8, period=PeriodBudget("month", Decimal("100.00"), "EUR", 25))
    buyer = company.member("buyer", ["place_orders"], monthly)
    orders.submit(buyer, order(5))  # 50 EUR reserved
    held = orders.submit(buyer, order(6))  # 60 EUR does not fit into the 50 left
    j = step(explain(orders, buyer, held.id), "submitted").judgement
    assert (j.period_budget_source, j.period_budget.reserved_value, j.period_budget.available_value) == (
        "recorded", Decimal("50.00"), Decimal("50.00"),
    )  # fmt: skip
    assert [e.limit for e in j.exceeded] == ["period_value"]


def test_under_approval_tiers_the_climb_is_explained_with_the_policy_version_it_was_judged_on(orders, company, team):
    buyer, anna, sam = team
    tiers = [Tier(Decimal("150"), (anna.id,)), Tier(Decimal("500"), (sam.id,))]
    orders.define_approval_policy(company.main, tiers, "EUR")
    held = orders.submit(buyer, order(30))  # 300 EUR: above Anna's tier
    orders.approve(anna, held.id, "Von mir aus ja")
    orders.define_approval_policy(company.main, [], "EUR")  # the policy is reset later: the explanation keeps it
    orders.approve(sam, held.id)
    x = explain(orders, buyer, held.id)
    assert [s.kind for s in x.steps] == ["submitted", "approval_requested", "escalated", "approved", "released"]
    first = step(x, "approval_requested")
    assert (first.routing.policy, first.routing.rule, first.routing.approvers) == ("tiers", "tier", (anna.id,))
    assert (first.routing.tier.tier, first.routing.tier.limit, first.routing.tier.policy_version) == (
        1, Decimal("150"), 1,
    )  # fmt: skip
    assert (first.routing.tier_definition, first.routing.escalation) == (tiers[0], "climb")
    assert first.waiting.ended_by == "escalated"
    climbed = step(x, "escalated")
    assert (climbed.by, climbed.comment, climbed.decision.decision, climbed.decision.capacity) == (
        anna.id, "Von mir aus ja", "escalated", "approver",
    )  # fmt: skip
    assert (climbed.routing.approvers, climbed.routing.tier.tier) == ((sam.id,), 2)
    assert [c.person for c in climbed.waiting.could_decide] == [sam.id]
    assert step(x, "approved").decision.could_have_decided[0].person == sam.id


def test_an_order_within_budget_that_waits_for_credit_is_explained_with_the_credit_figures(orders, company):
    figures = CreditFigures("EUR", Decimal("100"), Decimal("30"), Decimal("20"), False, NOW)
    orders.save(*orders.credit.figures_changed(company.id, figures))
    buyer = company.buyer()  # no budget: within budget, but not within credit
    held = orders.submit(buyer, order(6))
    x = explain(orders, buyer, held.id)
    assert [s.kind for s in x.steps] == ["submitted", "credit_held"]
    assert step(x, "submitted").judgement.outcome == "held_for_credit"
    hold = step(x, "credit_held").detail["hold"]
    assert (hold.reason, hold.amount, hold.stand.available) == ("credit_limit", Decimal("60.00"), Decimal("50"))


# ---- orders stored before their events pinned the basis --------------------------------------------------------


def test_an_older_order_without_a_pinned_budget_is_explained_by_the_buyers_budget_of_then(orders, company, team):
    buyer, anna, _ = team
    lines = OrderLine("A-1", "Schraube", 20, Decimal("10.00"))
    old = Order(company_id=buyer.company_id, buyer_id=buyer.id, content=content(lines), submitted_at=NOW)
    old.hold_for_approval((), (anna.id,), NOW)
    orders.save(old)
    orders.save(*orders.member_changed(buyer.id, budget=Budget(max_quantity=99)))  # changed since
    j = step(explain(orders, buyer, old.id), "submitted").judgement
    assert (j.budget, j.budget_source) == (BUDGET, "members_view")


# ---- who reads it --------------------------------------------------------------------------------------------------


@pytest.fixture
def decided(orders, company, team):
    buyer, anna, _ = team
    held = orders.submit(buyer, order(20))
    orders.approve(anna, held.id)
    return held


def test_the_buyer_the_decider_the_controller_and_the_main_contact_read_it(orders, company, team, decided):
    buyer, anna, _ = team
    controller = company.member("controller", ["view_reports"])
    for reader in (buyer, anna, controller, company.main):
        assert explain(orders, reader, decided.id).order.id == decided.id


def test_a_substitute_offered_the_order_reads_it_after_the_absence(orders, clock, team):
    buyer, anna, sam = team
    away(orders, anna, sam, hours=1)
    held = orders.submit(buyer, order(20))
    clock.now = NOW + 2 * HOUR  # the absence is over: still offered it once
    assert explain(orders, sam, held.id).order.id == held.id


def test_an_unrelated_buyer_of_the_same_company_does_not_find_it(orders, company, decided):
    other = company.member("other", ["place_orders"], BUDGET)
    with pytest.raises(OrderNotFound):
        explain(orders, other, decided.id)


def test_a_colleague_who_sees_the_order_but_never_decided_it_is_refused(orders, team, decided):
    _, _, sam = team  # may approve and see the company's orders, but it never went to him
    with pytest.raises(NotAllowed):
        explain(orders, sam, decided.id)


def test_another_companys_main_contact_finds_it_exactly_as_a_missing_order(orders, decided):
    stranger = Company(orders).main
    with pytest.raises(OrderNotFound) as theirs:
        explain(orders, stranger, decided.id)
    with pytest.raises(OrderNotFound) as missing:
        explain(orders, stranger, Order.create_id(stranger.company_id, stranger.id))
    assert str(theirs.value) == str(missing.value)
