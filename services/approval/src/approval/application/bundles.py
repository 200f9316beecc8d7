"""Use cases of bundles — several waiting orders approved together and sent to the ERP as one (issue 17 item 6;
ADR 0034). A part of :class:`approval.application.orders.Orders` (its base class).

A bundle is all or nothing: each member is approved exactly as :meth:`Orders.approve` would approve it (routed to
the caller or the absent approver they substitute, never their own order, waiting, priced again at this moment),
and when one of them cannot be — or would not be released by the approval (it climbs to a higher tier, or waits for
the company's credit), or differs from the others in what a sales order has once — nothing is stored and the answer
names that order. The members, their budget ledgers, the company's credit and the bundle are saved in one
transaction; the version check makes a single decision made at the same moment win or lose as a whole.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID, uuid4

from approval.domain.bundles import (
    BundleMember,
    BundleRefused,
    OrderBundle,
    bundle_lines,
    check_bundle,
    check_bundle_size,
)
from approval.domain.ledger import BudgetLedger
from approval.domain.members import Member
from approval.domain.model import OrderError, OrderNotFound, OrderStatus
from approval.domain.pricing import OrderRequest

if TYPE_CHECKING:
    from approval.application.credit import Credits
    from approval.domain.members import CompanyView
    from approval.domain.model import Order, OrderContent
    from approval.domain.tiers import Step

T = TypeVar("T")


def _naming(error: OrderError, order_id: UUID) -> OrderError:
    """The member's error as its single decision would have answered it, naming the order first in ``details``."""
    error.about_order = order_id
    return error


class BundleUseCases:
    """The attributes below are :class:`Orders`'."""

    clock: Callable[[], datetime]
    credit: Credits

    if TYPE_CHECKING:  # provided by Orders

        def save(self, *objs: Any, **kwargs: Any) -> list[Any]: ...

        def _find(self, aggregate_id: UUID) -> Any: ...

        def _find_growing(self, aggregate_id: UUID) -> Any: ...

        def _company_to_read(self, company_id: UUID) -> CompanyView: ...

        def _visible_order(self, member: Member, order_id: UUID) -> Order: ...

        def _decides_for(self, member: Member, order: Order, at: datetime) -> UUID | None: ...

        def _tier_escalation(self, order: Order, approver: Member, priced: OrderContent) -> Step | None: ...

        def _on_ledger(self, attempt: Callable[[list[BudgetLedger]], T]) -> T: ...

        def _ledger_of(self, order: Order, ledgers: list[BudgetLedger]) -> BudgetLedger | None: ...

        def price(self, company: CompanyView, request: OrderRequest, at: datetime) -> OrderContent: ...

    def bundle(self, approver: Member, order_ids: Sequence[UUID], comment: str | None = None) -> OrderBundle:
        """Approve ``order_ids`` (in this order) together and send them to the ERP as one sales order."""
        check_bundle_size(order_ids)

        def attempt(ledgers: list[BudgetLedger]) -> OrderBundle:
            now = self.clock()
            bundle_id = uuid4()
            members: list[Order] = []
            for order_id in order_ids:
                try:
                    order = self._visible_order(approver, order_id)
                    on_behalf_of = self._decides_for(approver, order, now)
                    priced = self.price(self._company_to_read(order.company_id), OrderRequest.of(order.content), now)
                    if self._tier_escalation(order, approver, priced) is not None:
                        raise BundleRefused(
                            f"Order {order_id} is over your approval limit: it climbs to the next tier when you "
                            "approve it, so it cannot go out in a bundle now.",
                            order_id, "higher_tier",
                        )  # fmt: skip
                    order.approve(approver.id, now, comment, priced, on_behalf_of, bundle_id=bundle_id)
                    if order.status is OrderStatus.CREDIT_HOLD:
                        raise BundleRefused(
                            f"Order {order_id} would wait for the company's credit at the ERP: the bundle cannot "
                            "go out now.",
                            order_id, "credit_hold",
                        )  # fmt: skip
                except BundleRefused:
                    raise
                except OrderError as error:
                    raise _naming(error, order_id) from None
                ledger = self._ledger_of(order, ledgers)
                if ledger is not None:  # as an approval: the released amount, fitting or not
                    c = order.content
                    ledger.grant(order.id, c.total_value, c.total_quantity, c.currency, order.budget.period,
                                 approver.id, now)  # fmt: skip
                members.append(order)
            check_bundle([(o.id, o.content) for o in members])
            first = members[0].content
            bundle = OrderBundle.open(
                bundle_id,
                company_id=approver.company_id,
                bundled_by=approver.id,
                members=tuple(
                    BundleMember(o.id, o.buyer_id, o.content.reference, o.content.total_value) for o in members
                ),
                lines=bundle_lines([(o.id, o.buyer_id, o.content) for o in members]),
                currency=first.currency,
                delivery_address=first.delivery_address,
                billing_address=first.billing_address,
                payment_method=first.payment_method,
                shipping_method=first.shipping_method,
                comment=(comment or "").strip() or None,
                released_at=now,
            )
            self.save(*members, *ledgers, bundle)
            return bundle

        return self._on_ledger(attempt)

    def bundle_of(self, member: Member, bundle_id: UUID) -> tuple[OrderBundle, list[Order]]:
        """The bundle and those of its members the caller may see; a bundle of another company, or with no member
        the caller may see, answers like one that does not exist."""
        found = self._find(bundle_id)
        if not isinstance(found, OrderBundle) or found.company_id != member.company_id:
            raise OrderNotFound("Not found.")
        visible: list[Order] = []
        for order_id in found.order_ids:
            try:
                visible.append(self._visible_order(member, order_id))
            except OrderNotFound:
                continue
        if not visible and member.id != found.bundled_by:
            raise OrderNotFound("Not found.")
        return found, visible
