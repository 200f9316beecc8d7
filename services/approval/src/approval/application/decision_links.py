"""One-click decisions from the approval-request mail (issue 17 item 4, ADR 0031).

A link (:mod:`kc_runtime.decision_links`) names one approver, one order at the version its request was made at, and
one decision. Reading it (``preview``) changes nothing — mail scanners that follow links decide nothing; using it
(``use``) decides exactly as the approver's own approve or reject would, with every check of those (the approver
active and still allowed to decide this order, never their own, four eyes on every tier, priced again now).

The link holds only while the order is as the mail showed it: once anything but a comment, an offer to a
substitute or a change of the other approvers happened to it since, the link answers 409
``decision_link_outdated`` with the order's status — and that is what makes a link single-use, since its own
decision is such a change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from approval.application.orders import CallerInactive, UnknownCaller
from approval.domain.members import Member
from approval.domain.model import InvalidOrder, Order, OrderError
from kc_runtime.decision_links import DecisionLink, verify

if TYPE_CHECKING:
    from approval.application.orders import Orders

# What may happen to an order after its request without making the mail's link outdated: the conversation goes
# on, a substitute is offered the order, other approvers come or go (whether this approver still decides is checked
# when the link is used, as for any decision).
_STILL_AS_MAILED = (Order.Commented, Order.OfferedToSubstitute, Order.Reassigned)


class LinkOutdated(OrderError):
    """The order changed (or was decided) since the mail was sent."""

    code = "decision_link_outdated"

    def __init__(self, message: str, status: str) -> None:
        super().__init__(message)
        self.status = status

    def own_details(self) -> list[Any]:
        return [{"status": self.status}]


class DecisionLinks:
    def __init__(self, orders: Orders, secret: str) -> None:
        self.orders = orders
        self.secret = secret

    def link(self, token: str) -> DecisionLink:
        """The link the token stands for (signature and expiry checked; nothing read yet)."""
        return verify(self.secret, token, now=self.orders.clock())

    def known_approver(self, link: DecisionLink) -> Member | None:
        """The member the link was made for, as approval knows them now (active or not; None: not known)."""
        found = self.orders._cached.get([link.approver_id]).get(link.approver_id)
        return found if isinstance(found, Member) else None

    def approver(self, link: DecisionLink) -> Member:
        """The active member the link was made for."""
        found = self.known_approver(link)
        if found is None:
            raise UnknownCaller("This account is not known to the customer center.")
        if not found.active:
            raise CallerInactive("This account has been deactivated.")
        return found

    def preview(self, link: DecisionLink) -> tuple[Member, Order]:
        """The order the link decides, as the approver may see it, if it is still as the mail showed it."""
        member = self.approver(link)
        order = self.orders.get_order(member, link.order_id)
        history = self.orders.timeline(order)  # the events just loaded, inside a request's one read
        since = [e for e in history if e.originator_version > link.version and not isinstance(e, _STILL_AS_MAILED)]
        if since:
            raise LinkOutdated(
                "The order was changed or decided since this mail was sent: open it in the shop.", order.status.value
            )
        return member, order

    def use(self, link: DecisionLink, comment: str | None) -> Order:
        """Decide as the link says, as the approver themselves would."""
        member, order = self.preview(link)
        if link.action == "approve":
            return self.orders.approve(member, order.id, comment)
        if not (comment or "").strip():
            raise InvalidOrder("A rejection needs a comment for the buyer.")
        return self.orders.reject(member, order.id, comment or "")
