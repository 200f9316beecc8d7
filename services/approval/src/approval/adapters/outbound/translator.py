"""Domain events of the Order aggregate → contract messages on the orders topic (APPROVAL_ORDERS).

Runs in a worker thread of the relay: where the wire message needs what the event does not carry (the
buyer, the totals), it reads the order as it was at that event's version. The words people wrote open as None once
their author is erased (ADR 0035): optional fields of the messages go out null, a rejection's required comment empty.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from approval.domain.bundles import OrderBundle
from approval.domain.model import Address, Change, Order, OrderContent
from contracts.approval import v1 as wire
from contracts.base import Money
from contracts.common import Address as WireAddress
from contracts.common import LineOrigin
from contracts.common import OrderLine as WireLine
from contracts.topics import APPROVAL_ORDERS
from kc_runtime.relay import Outgoing


def _address(a: Address) -> WireAddress:
    return WireAddress(
        name=a.name, street=a.street, postal_code=a.postal_code, city=a.city, country=a.country, additional=a.additional
    )


def _lines(c: OrderContent) -> list[WireLine]:
    return [
        WireLine(
            sku=ln.sku,
            description=ln.description,
            quantity=ln.quantity,
            unit_price=Money(amount=ln.unit_price, currency=c.currency),
            line_total=Money(amount=ln.line_total, currency=c.currency),
        )
        for ln in c.lines
    ]


def _changes(changes: Sequence[Change]) -> list[wire.OrderChange]:
    return [wire.OrderChange(field=c.field, before=c.before, after=c.after) for c in changes]


def _total(c: OrderContent) -> Money:
    return Money(amount=c.total_value, currency=c.currency)


def _credit_held(event: Order.CreditHeld, order: Order) -> wire.OrderCreditHeld:
    """The order waits for the company's credit (ADR 0026): the figures go to the main contact's mail only."""
    h, stand = event.hold, event.hold.stand
    f = stand.figures
    figures = wire.CreditFigures(
        currency=f.currency, credit_limit=f.credit_limit, open_receivables=f.open_receivables,
        open_orders=f.open_orders, released_unconfirmed=stand.released_unconfirmed, available=stand.available,
        credit_blocked=f.credit_blocked, as_of=f.as_of,
    )  # fmt: skip
    return wire.OrderCreditHeld(
        order_id=order.id, company_id=order.company_id, buyer_id=order.buyer_id, main_contact_id=h.main_contact_id,
        approved_by=event.approved_by, reason=h.reason,
        total=Money(amount=h.amount, currency=h.currency), figures=figures, held_at=event.at,
    )  # fmt: skip


def _deadline(event: Any, order: Order) -> Any:
    """A deadline step (ADR 0033). An escalation asks the approvers it adds exactly as the first were asked — the same
    message, so the same mail; one that adds nobody (the main contact decides already) sends nothing."""
    common: dict[str, Any] = {"order_id": order.id, "company_id": order.company_id, "buyer_id": order.buyer_id}
    since = order.waiting_since or order.submitted_at
    if isinstance(event, Order.Expired):
        return wire.OrderExpired(**common, total=_total(order.content), waiting_since=since, expired_at=event.at)
    exceeded = [wire.ExceededLimit(**vars(x)) for x in order.exceeded]
    facts: dict[str, Any] = {"exceeded_limits": exceeded, "total": _total(order.content), "total_quantity": order.content.total_quantity,
             "reference": order.content.reference, "round": order.round, "version": event.originator_version}  # fmt: skip
    if isinstance(event, Order.Reminded):
        return wire.OrderApprovalReminded(
            **common, approver_ids=list(event.reminded), waiting_since=since, reminded_at=event.at, **facts
        )
    added = [a for a in event.approvers if a not in event.before]
    if not added:
        return None
    return wire.OrderApprovalRequested(**common, approver_ids=added, requested_at=event.at, **facts)


def _bundle_released(event: OrderBundle.Released) -> wire.OrderReleased:
    """A bundle goes to the ERP as one order (ADR 0034): the approver who bundled it orders it, and every line names
    the order and line it came from."""
    cur = event.currency
    references = {m.order_id: m.reference for m in event.members}
    lines = [
        WireLine(
            sku=ln.sku, description=ln.description, quantity=ln.quantity,
            unit_price=Money(amount=ln.unit_price, currency=cur), line_total=Money(amount=ln.line_total, currency=cur),
            origin=LineOrigin(order_id=ln.order_id, line_no=ln.line_no, buyer_id=ln.buyer_id,
                              reference=references.get(ln.order_id)),
        )
        for ln in event.lines
    ]  # fmt: skip
    total = sum((ln.line_total for ln in event.lines), Decimal("0"))
    return wire.OrderReleased(
        order_id=event.originator_id, company_id=event.company_id, buyer_id=event.bundled_by, lines=lines,
        total=Money(amount=total, currency=cur), total_quantity=sum(ln.quantity for ln in event.lines),
        delivery_address=_address(event.delivery_address), billing_address=_address(event.billing_address),
        payment_method=event.payment_method, shipping_method=event.shipping_method, buyer_comment=event.comment,
        reference=None, approved_by=event.bundled_by, released_at=event.released_at,
        bundled_orders=[m.order_id for m in event.members],
    )  # fmt: skip


def _words(comment: str | None) -> str:
    """A rejection's comment, which the message requires: empty once its author was erased (ADR 0035: sealed with a
    key that no longer exists, it opens as None — a replay still says that the order was rejected, and by whom)."""
    return comment if comment is not None else ""


def make_translator(load: Callable[[Any, int], Order]) -> Callable[[Any], Sequence[Outgoing]]:
    """``load(order_id, version)``: the order as it was after that version."""

    def out(order_id: Any, message: Any) -> list[Outgoing]:
        return [Outgoing(topic=APPROVAL_ORDERS, key=str(order_id), message=message)]

    def translate(event: Any) -> Sequence[Outgoing]:
        oid = event.originator_id
        if isinstance(event, OrderBundle.Released):
            return out(oid, _bundle_released(event))
        if isinstance(event, Order.Released):
            if event.bundle_id is not None:
                return []  # it goes to the ERP in its bundle's message (ADR 0034)
            c: OrderContent = event.content
            return out(
                oid,
                wire.OrderReleased(
                    order_id=oid, company_id=event.company_id, buyer_id=event.buyer_id, lines=_lines(c),
                    total=_total(c), total_quantity=c.total_quantity, delivery_address=_address(c.delivery_address),
                    billing_address=_address(c.billing_address), payment_method=c.payment_method,
                    shipping_method=c.shipping_method, buyer_comment=c.buyer_comment, reference=c.reference,
                    approved_by=event.approved_by, released_at=event.released_at,
                    modifications=_changes(event.modifications),
                ),
            )  # fmt: skip
        if isinstance(event, Order.ReEvaluated):
            order = load(oid, event.originator_version)
            return out(
                oid,
                wire.OrderReEvaluated(
                    order_id=oid, company_id=order.company_id, buyer_id=order.buyer_id, requested_by=event.by,
                    outcome="updated" if event.exceeded else "released",
                    exceeded_limits=[wire.ExceededLimit(**vars(x)) for x in event.exceeded],
                    total=_total(order.content), re_evaluated_at=event.at,
                ),
            )  # fmt: skip
        if isinstance(event, Order.Escalated):
            # Approved at a tier below the order's value (ADR 0025): the next tier's approvers are asked exactly as
            # the first were — the same message, so the same mail.
            order = load(oid, event.originator_version)
            return out(
                oid,
                wire.OrderApprovalRequested(
                    order_id=oid, company_id=order.company_id, buyer_id=order.buyer_id,
                    approver_ids=list(event.approvers),
                    exceeded_limits=[wire.ExceededLimit(**vars(x)) for x in order.exceeded],
                    total=_total(order.content), total_quantity=order.content.total_quantity,
                    reference=order.content.reference, round=order.round, requested_at=event.at,
                    version=event.originator_version,
                ),
            )  # fmt: skip
        if isinstance(event, Order.CreditHeld):
            return out(oid, _credit_held(event, load(oid, event.originator_version)))
        if isinstance(event, Order.Reminded | Order.EscalatedOnDeadline | Order.Expired):
            step = _deadline(event, load(oid, event.originator_version))
            return out(oid, step) if step is not None else []
        # The order's other events send nothing; so do other aggregates' events of the same names (e.g.
        # MemberEmail.Reassigned), which are not Order's classes.
        if not isinstance(
            event,
            Order.ApprovalRequested | Order.Reassigned | Order.OfferedToSubstitute | Order.Approved | Order.Rejected
            | Order.Cancelled,
        ):  # fmt: skip
            return []
        order = load(oid, event.originator_version)
        common = {"order_id": oid, "company_id": order.company_id, "buyer_id": order.buyer_id}
        if isinstance(event, Order.ApprovalRequested):
            message: Any = wire.OrderApprovalRequested(
                **common, approver_ids=list(event.approvers),
                exceeded_limits=[wire.ExceededLimit(**vars(x)) for x in event.exceeded],
                total=_total(order.content), total_quantity=order.content.total_quantity,
                reference=order.content.reference, round=order.round, requested_at=event.at,
                version=event.originator_version,
            )  # fmt: skip
        elif isinstance(event, Order.Reassigned):
            message = wire.OrderApproversReassigned(
                **common, approver_ids=list(event.approvers), reassigned_at=event.at
            )
        elif isinstance(event, Order.OfferedToSubstitute):
            message = wire.OrderOfferedToSubstitute(
                **common, substitute_id=event.substitute_id, on_behalf_of=event.on_behalf_of, until=event.until,
                exceeded_limits=[wire.ExceededLimit(**vars(x)) for x in order.exceeded],
                total=_total(order.content), total_quantity=order.content.total_quantity,
                reference=order.content.reference, round=order.round, offered_at=event.at,
                version=event.originator_version,
            )  # fmt: skip
        elif isinstance(event, Order.Approved):
            message = wire.OrderApproved(
                **common, approver_id=event.approver_id, on_behalf_of=event.on_behalf_of,
                comment=event.comment,
                modifications=_changes(order.modifications), total=_total(order.content), approved_at=event.at,
                bundle_id=event.bundle_id,
            )  # fmt: skip
        elif isinstance(event, Order.Rejected):
            message = wire.OrderRejected(
                **common, approver_id=event.approver_id, on_behalf_of=event.on_behalf_of,
                comment=_words(event.comment), total=_total(order.content), rejected_at=event.at,
            )  # fmt: skip
        else:  # Order.Cancelled
            message = wire.OrderCancelled(**common, comment=event.comment, cancelled_at=event.at)
        return out(oid, message)

    return translate
