"""Approval tiers and approver limits (issue 16 item 3, ADR 0025) on the in-memory store: an order held for approval
waits at one tier at a time; an approval within the tier's limit releases it, one below lifts it to the next tier up,
up to the main contact, who decides without limit. Four eyes on every tier."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from approval.application.orders import Orders
from approval.domain.budget import Budget
from approval.domain.model import AlreadyApproved, NotAllowed, OrderNotFound, OrderStatus, SelfApproval
from approval.domain.tiers import (
    InvalidPolicy,
    LimitsNotAscending,
    NotAnApprover,
    NoTierApprovers,
    PolicyCurrencyMismatch,
    Tier,
)
from tests.service.approval.test_orders_application import order
from tests.support.approval import Company

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
BUDGET = Budget(max_value=Decimal("50.00"), currency="EUR")
"""Every order over 50 EUR waits for approval; A-1 costs 10 EUR: order(10) is 100 EUR."""


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def orders() -> Orders:
    app = Orders(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    app.clock = Clock()
    return app


@pytest.fixture
def team(company):
    """Buyer Bea; Anna (tier 1, up to 150 EUR); Bert (tier 2, up to 500 EUR); Clara, a named approver of the
    company's list (the default policy)."""
    bea = company.member("bea", ["place_orders"], BUDGET)
    anna = company.member("anna", ["approve_orders"])
    bert = company.member("bert", ["approve_orders"])
    clara = company.member("clara", ["approve_orders"])
    company.approvers(clara)
    return bea, anna, bert, clara


def two_tiers(orders, company, anna, bert, **kw):
    return orders.define_approval_policy(
        company.main, [Tier(Decimal("150"), (anna.id,)), Tier(Decimal("500"), (bert.id,))], "EUR", **kw
    )


def events(orders, order_id, name):
    return [e for e in orders.events.get(order_id) if type(e).__name__ == name]


# ---- the default ---------------------------------------------------------------------------------------------------


def test_without_a_policy_the_approver_list_decides_as_before(orders, team):
    bea, _anna, _bert, clara = team
    held = orders.submit(bea, order(60))
    assert (held.approvers, held.position) == ((clara.id,), None)
    assert orders.approve(clara, held.id).status is OrderStatus.RELEASED


def test_a_policy_without_tiers_is_the_default_again(orders, company, team):
    bea, anna, bert, clara = team
    two_tiers(orders, company, anna, bert)
    policy = orders.define_approval_policy(company.main, [], "EUR")
    assert (policy.version, policy.tiered) == (2, False)
    held = orders.submit(bea, order(10))
    assert (held.approvers, held.position) == ((clara.id,), None)


# ---- climbing the tiers --------------------------------------------------------------------------------------------


def test_an_order_within_the_first_tiers_limit_is_released_by_its_approver(orders, company, team):
    bea, anna, bert, _clara = team
    policy = two_tiers(orders, company, anna, bert)
    held = orders.submit(bea, order(10))
    assert held.approvers == (anna.id,)
    assert (held.position.tier, held.position.limit, held.position.policy_version) == (1, Decimal("150"), 1)
    done = orders.approve(anna, held.id)
    assert (done.status, done.approved_by) == (OrderStatus.RELEASED, anna.id)
    assert policy.version == 1


def test_an_order_above_the_first_tiers_limit_climbs_to_the_second(orders, company, team):
    bea, anna, bert, _clara = team
    two_tiers(orders, company, anna, bert)
    held = orders.submit(bea, order(30))  # 300 EUR
    assert held.approvers == (anna.id,)
    climbed = orders.approve(anna, held.id, "Von mir aus ja")
    assert climbed.status is OrderStatus.PENDING_APPROVAL
    assert (climbed.approvers, climbed.position.tier, climbed.position.limit) == ((bert.id,), 2, Decimal("500"))
    assert [(a.tier, a.approver_id) for a in climbed.tier_approvals] == [(1, anna.id)]
    assert (climbed.conversation[-1].kind, climbed.conversation[-1].author_id) == ("tier_approval", anna.id)
    (escalated,) = events(orders, held.id, "Escalated")
    assert (escalated.from_tier, escalated.position.tier, list(escalated.approvers)) == (1, 2, [bert.id])
    done = orders.approve(bert, held.id)
    assert (done.status, done.approved_by) == (OrderStatus.RELEASED, bert.id)


def test_above_the_last_tier_the_main_contact_decides_without_limit(orders, company, team):
    bea, anna, bert, _clara = team
    two_tiers(orders, company, anna, bert)
    held = orders.submit(bea, order(80))  # 800 EUR
    orders.approve(anna, held.id)
    at_top = orders.approve(bert, held.id)
    assert (at_top.approvers, at_top.position.tier, at_top.position.limit) == ((company.main.id,), 3, None)
    assert orders.approve(company.main, held.id).status is OrderStatus.RELEASED


def test_the_main_contact_named_in_a_tier_releases_whatever_the_value(orders, company, team):
    bea, _anna, _bert, _clara = team
    orders.define_approval_policy(company.main, [Tier(Decimal("150"), (company.main.id,))], "EUR")
    held = orders.submit(bea, order(80))
    assert orders.approve(company.main, held.id).status is OrderStatus.RELEASED


def test_an_approver_who_lowers_the_order_within_their_limit_releases_it(orders, company, team):
    bea, anna, bert, _clara = team
    two_tiers(orders, company, anna, bert)
    held = orders.submit(bea, order(30))
    done = orders.approve(anna, held.id, modified=order(12))  # 120 EUR
    assert (done.status, done.content.total_value) == (OrderStatus.RELEASED, Decimal("120.00"))


def test_direct_escalation_sends_the_order_to_the_lowest_tier_that_covers_it(orders, company, team):
    bea, anna, bert, _clara = team
    two_tiers(orders, company, anna, bert, escalation="direct")
    held = orders.submit(bea, order(30))
    assert (held.approvers, held.position.tier) == ((bert.id,), 2)
    assert orders.approve(bert, held.id).status is OrderStatus.RELEASED
    above = orders.submit(bea, order(80))
    assert (above.approvers, above.position.tier) == ((company.main.id,), 3)


def test_a_tier_whose_approvers_may_no_longer_approve_is_passed_over(orders, company, team):
    bea, anna, bert, _clara = team
    two_tiers(orders, company, anna, bert)
    orders.save(*orders.member_changed(anna.id, active=False))
    held = orders.submit(bea, order(10))
    assert (held.approvers, held.position.tier) == ((bert.id,), 2)


def test_the_inbox_rows_follow_the_tier(orders, company, team):
    """The read model's approvers column is the current tier's: the Escalated event names them."""
    from approval.adapters.outbound.read_model import _fold

    bea, anna, bert, _clara = team
    two_tiers(orders, company, anna, bert)
    held = orders.submit(bea, order(30))
    orders.approve(anna, held.id)
    assert _fold(list(orders.events.get(held.id))[1:])["approvers"] == [bert.id]


# ---- four eyes -----------------------------------------------------------------------------------------------------


def test_a_first_tier_approver_cannot_decide_at_the_second(orders, company, team):
    bea, anna, bert, _clara = team
    two_tiers(orders, company, anna, bert)
    held = orders.submit(bea, order(30))
    orders.approve(anna, held.id)
    with pytest.raises(NotAllowed):
        orders.approve(anna, held.id)
    with pytest.raises(NotAllowed):
        orders.reject(anna, held.id, "Doch nicht")


def test_nobody_approves_one_order_twice_to_climb_two_tiers(orders, company, team):
    bea, anna, bert, _clara = team
    orders.define_approval_policy(
        company.main, [Tier(Decimal("150"), (anna.id,)), Tier(Decimal("500"), (anna.id, bert.id))], "EUR"
    )
    held = orders.submit(bea, order(30))
    climbed = orders.approve(anna, held.id)
    assert climbed.approvers == (bert.id,)  # Anna is left out of tier 2
    with pytest.raises(NotAllowed):
        orders.approve(anna, held.id)


def test_a_tier_with_only_the_earlier_approver_is_passed_over_to_the_main_contact(orders, company, team):
    bea, anna, _bert, _clara = team
    orders.define_approval_policy(
        company.main, [Tier(Decimal("150"), (anna.id,)), Tier(Decimal("500"), (anna.id,))], "EUR"
    )
    held = orders.submit(bea, order(30))
    climbed = orders.approve(anna, held.id)
    assert (climbed.approvers, climbed.position.tier) == ((company.main.id,), 3)


def test_the_buyer_never_decides_their_own_order_on_any_tier(orders, company, team):
    _bea, _anna, bert, _clara = team
    approving_buyer = company.member("abe", ["place_orders", "approve_orders"], BUDGET)
    orders.define_approval_policy(
        company.main, [Tier(Decimal("150"), (approving_buyer.id,)), Tier(Decimal("500"), (approving_buyer.id, bert.id))],
        "EUR",
    )  # fmt: skip
    held = orders.submit(approving_buyer, order(10))
    assert (held.approvers, held.position.tier) == ((bert.id,), 2)  # tier 1 has nobody but the buyer
    with pytest.raises(SelfApproval):
        orders.approve(approving_buyer, held.id)
    done = orders.approve(bert, held.id)
    assert done.status is OrderStatus.RELEASED


def test_a_substitute_who_approved_at_a_lower_tier_does_not_decide_for_an_absent_approver_above(orders, company, team):
    bea, anna, bert, _clara = team
    two_tiers(orders, company, anna, bert)
    orders.record_absence(bert, anna.id, NOW, NOW + timedelta(days=1))
    held = orders.submit(bea, order(30))
    orders.approve(anna, held.id)
    with pytest.raises(AlreadyApproved):
        orders.approve(anna, held.id)


def test_a_substitute_decides_at_the_absent_approvers_tier(orders, company, team):
    bea, anna, bert, clara = team
    two_tiers(orders, company, anna, bert)
    orders.record_absence(bert, clara.id, NOW, NOW + timedelta(days=1))
    held = orders.submit(bea, order(30))
    orders.approve(anna, held.id)
    done = orders.approve(clara, held.id)
    assert (done.status, done.decided_by, done.decided_on_behalf_of) == (OrderStatus.RELEASED, clara.id, bert.id)


# ---- pinned, and judged again on asking ------------------------------------------------------------------------------


def test_a_waiting_order_climbs_the_tiers_of_the_version_it_was_judged_on(orders, company, team):
    bea, anna, bert, clara = team
    two_tiers(orders, company, anna, bert)
    held = orders.submit(bea, order(30))
    orders.define_approval_policy(company.main, [Tier(Decimal("150"), (anna.id,)), Tier(Decimal("500"), (clara.id,))],
                                  "EUR")  # fmt: skip
    climbed = orders.approve(anna, held.id)
    assert (climbed.approvers, climbed.position.policy_version) == ((bert.id,), 1)


def test_a_re_evaluation_routes_a_waiting_order_by_the_policy_of_today(orders, company, team):
    bea, anna, bert, clara = team
    held = orders.submit(bea, order(30))
    assert held.approvers == (clara.id,)
    two_tiers(orders, company, anna, bert)
    (result,) = orders.re_evaluate(company.main, [held.id])
    assert result.outcome == "updated"
    assert (result.before.policy_version, result.after.policy_version) == (None, 1)
    now = orders.get_order(company.main, held.id)
    assert (now.approvers, now.position.tier) == ((anna.id,), 1)
    (again,) = orders.re_evaluate(company.main, [held.id])
    assert again.outcome == "unchanged"


def test_a_re_evaluation_after_the_policy_was_reset_routes_by_the_approver_list(orders, company, team):
    bea, anna, bert, clara = team
    two_tiers(orders, company, anna, bert)
    held = orders.submit(bea, order(30))
    orders.approve(anna, held.id)
    orders.define_approval_policy(company.main, [], "EUR")
    (result,) = orders.re_evaluate(company.main, [held.id])
    assert result.outcome == "updated"
    now = orders.get_order(company.main, held.id)
    assert (now.approvers, now.position, now.tier_approvals) == ((clara.id,), None, [])


def test_a_new_approver_list_leaves_tiered_orders_where_they_are(orders, company, team):
    bea, anna, bert, _clara = team
    two_tiers(orders, company, anna, bert)
    held = orders.submit(bea, order(30))
    orders.save(*orders.approvers_changed(company.id, (bert.id,), [held.id]))
    assert orders.get_order(company.main, held.id).approvers == (anna.id,)


# ---- a role as a tier's approvers ----------------------------------------------------------------------------------


def test_a_tier_may_name_a_role_its_holders_decide(orders, company, team):
    bea, _anna, _bert, clara = team
    orders.save(*orders.member_changed(clara.id, role_ids=["einkaufsleitung"]))
    orders.define_approval_policy(company.main, [Tier(Decimal("150"), (), "einkaufsleitung")], "EUR")
    held = orders.submit(bea, order(10))
    assert held.approvers == (clara.id,)
    assert orders.approve(clara, held.id).status is OrderStatus.RELEASED


# ---- defining the policy -------------------------------------------------------------------------------------------


def test_each_definition_is_a_version_with_who_and_when(orders, company, team):
    _bea, anna, bert, _clara = team
    two_tiers(orders, company, anna, bert)
    policy = two_tiers(orders, company, anna, bert, escalation="direct")
    assert [(r.version, r.by, r.escalation) for r in policy.revisions] == [
        (1, company.main.id, "climb"), (2, company.main.id, "direct"),
    ]  # fmt: skip
    assert orders.approval_policy(anna).version == 2


def test_a_buyer_may_not_define_the_policy(orders, company, team):
    bea, anna, _bert, _clara = team
    with pytest.raises(NotAllowed):
        orders.define_approval_policy(bea, [Tier(Decimal("150"), (anna.id,))], "EUR")
    with pytest.raises(NotAllowed):
        orders.approval_policy(bea)


def test_who_manages_users_may_define_it(orders, company, team):
    _bea, anna, _bert, _clara = team
    admin = company.member("admin", ["manage_users"])
    assert orders.define_approval_policy(admin, [Tier(Decimal("150"), (anna.id,))], "EUR").version == 1


def test_another_companys_person_is_not_found(orders, company, team):
    _bea, _anna, _bert, _clara = team
    stranger = Company(orders).member("stranger", ["approve_orders"])
    with pytest.raises(OrderNotFound):
        orders.define_approval_policy(company.main, [Tier(Decimal("150"), (stranger.id,))], "EUR")


@pytest.mark.parametrize(
    ("tiers", "currency", "error"),
    [
        ([("150", "anna"), ("150", "bert")], "EUR", LimitsNotAscending),
        ([("500", "anna"), ("150", "bert")], "EUR", LimitsNotAscending),
        ([("0", "anna")], "EUR", InvalidPolicy),
        ([("150", None)], "EUR", NoTierApprovers),
        ([("150", "anna")], "CHF", PolicyCurrencyMismatch),
        ([("150", "bea")], "EUR", NotAnApprover),
    ],
)
def test_a_policy_is_refused_when(orders, company, team, tiers, currency, error):
    bea, anna, bert, _clara = team
    people = {"anna": anna, "bert": bert, "bea": bea}
    with pytest.raises(error):
        orders.define_approval_policy(
            company.main,
            [Tier(Decimal(limit), (people[who].id,) if who else ()) for limit, who in tiers],
            currency,
        )


def test_at_the_top_the_new_main_contact_decides_after_a_transfer(orders, company, team):
    bea, anna, bert, clara = team
    two_tiers(orders, company, anna, bert)
    held = orders.submit(bea, order(80))
    orders.approve(anna, held.id)
    assert orders.approve(bert, held.id).approvers == (company.main.id,)
    orders.save(*orders.main_contact_changed(company.id, clara.id, [held.id]))
    assert orders.get_order(company.main, held.id).approvers == (clara.id,)


def test_the_dry_run_of_an_order_names_the_first_tiers_approvers(orders, company, team):
    bea, anna, bert, _ = team
    two_tiers(orders, company, anna, bert)
    evaluation = orders.evaluate(bea, order(30))
    assert (evaluation.approvers, evaluation.step.tier) == ((anna.id,), 1)


def test_a_resubmitted_order_climbs_from_the_first_tier_again(orders, company, team):
    bea, anna, bert, _ = team
    two_tiers(orders, company, anna, bert)
    held = orders.submit(bea, order(30))
    orders.approve(anna, held.id)
    orders.reject(bert, held.id, "Zu viel")
    again = orders.resubmit(bea, held.id, "Weniger", order(25))
    assert (again.approvers, again.position.tier, again.tier_approvals) == ((anna.id,), 1, [])
    assert orders.approve(anna, held.id).approvers == (bert.id,)  # Anna approves this round again: a new round


def test_a_tier_left_with_nobody_who_may_decide_is_passed_over_at_the_next_reroute(orders, company, team):
    bea, anna, bert, clara = team
    two_tiers(orders, company, anna, bert)
    held = orders.submit(bea, order(30))
    orders.save(*orders.member_changed(anna.id, active=False))
    orders.save(*orders.approvers_changed(company.id, (clara.id,), [held.id]))
    now = orders.get_order(company.main, held.id)
    assert (now.approvers, now.position.tier, now.position.policy_version) == ((bert.id,), 2, 1)


def test_a_re_evaluation_on_the_same_version_keeps_the_approvals_below_and_passes_over_who_left(orders, company, team):
    bea, anna, bert, _ = team
    two_tiers(orders, company, anna, bert)
    held = orders.submit(bea, order(80))
    orders.approve(anna, held.id)
    orders.save(*orders.member_changed(bert.id, active=False))
    (result,) = orders.re_evaluate(company.main, [held.id])
    assert result.outcome == "updated"
    now = orders.get_order(company.main, held.id)
    assert (now.approvers, now.position.tier) == ((company.main.id,), 3)
    assert [a.approver_id for a in now.tier_approvals] == [anna.id]  # still counts: the same version
