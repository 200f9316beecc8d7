"""Four eyes on every tier, over random policies and random people trying to approve (ADR 0025): whoever tries, an
order is only ever decided by one of its current tier's approvers, never by the buyer, never twice by one person; it
climbs strictly upwards, is released only within the limit of the tier that releases it (or by the main contact),
and its current approvers can always take it to a release."""

from decimal import Decimal

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from approval.application.orders import Orders
from approval.domain.model import NotAllowed, OrderNotFound, OrderStatus
from approval.domain.tiers import Tier
from tests.service.approval.test_orders_application import order
from tests.service.approval.test_tiers import BUDGET
from tests.support.approval import Company

PEOPLE = ("buyer", "p1", "p2", "p3", "p4")

tiers = st.lists(
    st.tuples(st.integers(min_value=1, max_value=25), st.sets(st.sampled_from(PEOPLE), min_size=1)),
    min_size=1,
    max_size=4,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    policy=tiers,
    quantity=st.integers(min_value=10, max_value=120),
    tries=st.lists(st.sampled_from((*PEOPLE, "main")), max_size=12),
    direct=st.booleans(),
)
def test_whoever_tries_the_order_climbs_by_four_eyes_only(policy, quantity, tries, direct):
    orders = Orders(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    company = Company(orders)
    people = {"buyer": company.member("buyer", ["place_orders", "approve_orders"], BUDGET)}
    people |= {p: company.member(p, ["approve_orders"]) for p in PEOPLE[1:]}
    people["main"] = company.main
    limit, defined = Decimal(0), []
    for step, names in policy:
        limit += step * 10
        defined.append(Tier(limit, tuple(people[n].id for n in sorted(names))))
    orders.define_approval_policy(company.main, defined, "EUR", "direct" if direct else "climb")
    buyer = people["buyer"]
    held = orders.submit(buyer, order(quantity))  # 10 EUR a piece: always over the 50 EUR budget
    value = held.content.total_value
    assert buyer.id not in held.approvers
    deciders: list = []

    def attempt(who) -> None:
        before = orders.get_order(company.main, held.id)
        try:
            after = orders.approve(who, held.id)
        except (NotAllowed, OrderNotFound):  # 403, or 404 to who is not involved and sees no company orders
            assert who.id not in before.approvers or who.id == buyer.id or who.id in deciders
            assert orders.get_order(company.main, held.id).version == before.version  # nothing stored
            return
        assert who.id in before.approvers and who.id != buyer.id and who.id not in deciders
        deciders.append(who.id)
        if after.status is OrderStatus.RELEASED:
            assert who.id == company.main.id or value <= before.position.limit
        else:
            assert after.position.tier > before.position.tier
            assert value > before.position.limit and who.id != company.main.id
            assert buyer.id not in after.approvers and not set(deciders) & set(after.approvers)

    for name in tries:
        if orders.get_order(company.main, held.id).status is OrderStatus.RELEASED:
            break
        attempt(people[name])
    for _ in range(len(defined) + 1):  # the current approvers can always take it to a release
        now = orders.get_order(company.main, held.id)
        if now.status is OrderStatus.RELEASED:
            break
        assert now.approvers, "an order over budget with nobody to decide it"
        attempt(next(p for p in people.values() if p.id == now.approvers[0]))
    assert orders.get_order(company.main, held.id).status is OrderStatus.RELEASED
    assert len(deciders) == len(set(deciders))
    event(f"decided by {len(deciders)} people")
