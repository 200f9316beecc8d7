"""One-click decisions through approval's application (ADR 0031): a link decides exactly as its approver would, once;
reading it changes nothing; it holds only while the order is as the mail showed it, and never for anyone else."""

from datetime import UTC, datetime, timedelta

import pytest

from approval.application.decision_links import DecisionLinks, LinkOutdated
from approval.application.orders import CallerInactive, Orders
from approval.domain.model import InvalidOrder, NotAllowed, Order, OrderNotFound, OrderStatus
from kc_runtime.decision_links import DecisionLink, LinkExpired, LinkInvalid, sign
from tests.service.approval.test_orders_application import BUDGET, order
from tests.support.approval import Company

SECRET = "a-test-secret-of-at-least-thirty-two-bytes!"


def asked(orders: Orders, company: Company):
    """An order over the buyer's budget waiting for the company's approver, and the version its request was made at
    (what the mail's links carry)."""
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    approver = company.member("approver", ["approve_orders"])
    company.approvers(approver)
    held = orders.submit(buyer, order(20))
    assert held.status is OrderStatus.PENDING_APPROVAL
    (request,) = [e for e in orders.events.get(held.id) if isinstance(e, Order.ApprovalRequested)]
    return buyer, approver, held, request.originator_version


def token(approver_id, order_id, version, action="approve", expires_in=timedelta(days=7)) -> str:
    link = DecisionLink(approver_id, order_id, version, action, datetime.now(UTC) + expires_in)
    return sign(SECRET, link)


def test_reading_a_link_changes_nothing_and_using_it_decides_once(orders, company):
    links = DecisionLinks(orders, SECRET)
    _, approver, held, version = asked(orders, company)
    link = links.link(token(approver.id, held.id, version))
    for _ in range(3):  # a mail scanner opening the link, the approver opening it twice
        member, shown = links.preview(link)
        assert (member.id, shown.id, shown.status) == (approver.id, held.id, OrderStatus.PENDING_APPROVAL)
    assert orders.get_order(company.main, held.id).version == held.version
    done = links.use(link, "passt")
    assert done.status is OrderStatus.RELEASED and done.decided_by == approver.id
    with pytest.raises(LinkOutdated) as outdated:
        links.use(link, None)
    assert outdated.value.details == [{"status": "released"}]
    assert orders.get_order(company.main, held.id).version == done.version  # nothing stored the second time


def test_a_reject_link_needs_a_comment_and_then_rejects(orders, company):
    links = DecisionLinks(orders, SECRET)
    _, approver, held, version = asked(orders, company)
    link = links.link(token(approver.id, held.id, version, "reject"))
    with pytest.raises(InvalidOrder):
        links.use(link, "  ")
    assert links.use(link, "zu teuer").status is OrderStatus.REJECTED


def test_a_comment_in_the_conversation_leaves_the_link_valid_a_decision_in_the_shop_does_not(orders, company):
    links = DecisionLinks(orders, SECRET)
    buyer, approver, held, version = asked(orders, company)
    orders.comment(buyer, held.id, "Bitte schnell, Baustelle wartet")
    link = links.link(token(approver.id, held.id, version))
    links.preview(link)
    orders.approve(approver, held.id, "erledigt")  # decided in the shop meanwhile
    with pytest.raises(LinkOutdated):
        links.preview(link)


def test_a_link_for_someone_who_may_not_decide_is_refused_like_their_own_request(orders, company):
    links = DecisionLinks(orders, SECRET)
    buyer, _, held, version = asked(orders, company)
    colleague = company.member("colleague", ["place_orders"])
    # the buyer's own order (403); a colleague who is no approver does not even see it (404, as in the shop)
    for who, refused in ((buyer, NotAllowed), (colleague, OrderNotFound)):
        with pytest.raises(refused):
            links.use(links.link(token(who.id, held.id, version)), None)
    assert orders.get_order(company.main, held.id).status is OrderStatus.PENDING_APPROVAL


def test_a_deactivated_approvers_link_is_refused(orders, company):
    links = DecisionLinks(orders, SECRET)
    _, approver, held, version = asked(orders, company)
    orders.save(*orders.member_changed(approver.id, active=False))
    with pytest.raises(CallerInactive):
        links.use(links.link(token(approver.id, held.id, version)), None)


def test_a_link_for_an_older_version_is_outdated(orders, company):
    links = DecisionLinks(orders, SECRET)
    _, approver, held, version = asked(orders, company)
    with pytest.raises(LinkOutdated):
        links.use(links.link(token(approver.id, held.id, version - 1)), None)


def test_expired_and_foreign_links_are_refused_before_anything_is_read(orders, company):
    links = DecisionLinks(orders, SECRET)
    _, approver, held, version = asked(orders, company)
    with pytest.raises(LinkExpired):
        links.link(token(approver.id, held.id, version, expires_in=timedelta(seconds=-1)))
    with pytest.raises(LinkInvalid):
        DecisionLinks(orders, SECRET + "-other").link(token(approver.id, held.id, version))
