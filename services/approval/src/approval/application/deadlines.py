"""Use cases of the company's deadlines for waiting orders — remind, escalate, expire (issue 17 item 2; ADR 0033).
A part of :class:`approval.application.orders.Orders` (its base class).

The main contact sets the deadlines; the timer service (:mod:`approval.adapters.inbound.deadline_timer`, on the
leading replica) asks :meth:`DeadlineUseCases.take_deadline` for each order the read model shows due. The order
decides: a step is taken once per wait (its ``deadline_stage``), on the order as stored now, with the save's version
check against a decision made at the same moment — so asking twice, from two replicas, or after a crash between the
save and the read model's update, takes nothing twice."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from approval.domain.deadlines import ESCALATE, EXPIRE, REMIND, STEP_NAMES, CompanyDeadlines, Deadlines
from approval.domain.members import CompanyView, Member
from approval.domain.model import NotAllowed, Order, OrderStatus
from approval.domain.tiers import step_after
from kc_runtime.faults import failpoint

if TYPE_CHECKING:
    from approval.domain.ledger import BudgetLedger
    from approval.domain.tiers import ApprovalPolicy, People

SHORTEST_DEADLINE = timedelta(hours=1)
"""The shortest deadline a company may set, unless the service is configured otherwise (the local stack and the
tests: seconds)."""


class DeadlineUseCases:
    """The attributes below are :class:`Orders`'."""

    _cached: Any
    clock: Callable[[], datetime]
    shortest_deadline: timedelta = SHORTEST_DEADLINE

    if TYPE_CHECKING:  # provided by Orders

        def save(self, *objs: Any, **kwargs: Any) -> list[Any]: ...

        def _find(self, aggregate_id: UUID) -> Any: ...

        def _find_growing(self, aggregate_id: UUID) -> Any: ...

        def _company_to_read(self, company_id: UUID) -> CompanyView: ...

        def _pinned_policy(self, company_id: UUID, version: int) -> ApprovalPolicy | None: ...

        def _people(self, company: CompanyView) -> People: ...

        def _offer_to_substitutes(self, order: Order, now: datetime) -> Any: ...

    def deadlines(self, member: Member) -> CompanyDeadlines | None:
        """The caller's company's deadlines (None: never set). The main contact's."""
        if not (member.active and member.is_main_contact):
            raise NotAllowed("Only the main contact sees and sets the company's deadlines.")
        return self._deadlines_of(member.company_id)

    def set_deadlines(self, member: Member, deadlines: Deadlines) -> CompanyDeadlines:
        """Set the company's deadlines (the main contact). Orders waiting already are judged on them from now on,
        counted from when each began to wait."""
        if not (member.active and member.is_main_contact):
            raise NotAllowed("Only the main contact sees and sets the company's deadlines.")
        found = self._find(CompanyDeadlines.create_id(member.company_id))
        kept = found if isinstance(found, CompanyDeadlines) else CompanyDeadlines.open(member.company_id)
        if kept.change(deadlines, member.id, self.clock(), self.shortest_deadline) or kept.version == 1:
            self.save(kept)
        return kept

    def _deadlines_of(self, company_id: UUID) -> CompanyDeadlines | None:
        did = CompanyDeadlines.create_id(company_id)
        found = self._cached.get([did]).get(did)
        return found if isinstance(found, CompanyDeadlines) else None

    # ---- the timer ------------------------------------------------------------------------------------------

    def take_deadline(self, order_id: UUID) -> str | None:
        """Take the deadline step due for the order now, if any: ``remind``, ``escalate`` or ``expire`` (None:
        nothing due — decided meanwhile, taken already, or the deadlines changed). A concurrent change of the order
        wins: nothing is taken, and the next round asks again."""
        order = self._find(order_id)
        if not isinstance(order, Order) or order.status is not OrderStatus.PENDING_APPROVAL:
            return None
        kept = self._deadlines_of(order.company_id)
        if kept is None:
            return None
        now = self.clock()
        since = order.waiting_since or order.submitted_at
        step = kept.deadlines.due(since, order.deadline_stage, now)
        if step is None:
            return None
        ledger: BudgetLedger | None = None
        if step == REMIND:
            order.remind(now)
        elif step == ESCALATE:
            self._escalate(order, now)
        elif step == EXPIRE:
            order.expire(now, int((now - since).total_seconds()))
            if order.ledger_id is not None:
                found = self._find_growing(order.ledger_id)
                if found is not None and order.id in found.entries:
                    ledger = found
                    ledger.release(order.id, now)
        failpoint("deadline.before_save")
        try:
            self.save(*[o for o in (order, ledger) if o is not None])
        except IntegrityError:
            return None  # decided (or its ledger changed) at this very moment: asked again next round
        failpoint("deadline.after_save")
        return STEP_NAMES[step]

    def _escalate(self, order: Order, now: datetime) -> None:
        """Under tiers: to the next tier up with someone to decide (above the last: the main contact); else the
        approvers so far and the main contact."""
        company = self._company_to_read(order.company_id)
        position = order.position
        if position is not None:
            policy = self._pinned_policy(order.company_id, position.policy_version)
            if policy is not None and position.limit is not None:
                approved = {a.approver_id for a in order.tier_approvals}
                step = step_after(policy, position.tier, order.buyer_id, self._people(company), approved)
                if step.approvers:
                    order.escalate_on_deadline(now, step.approvers, step.position)
                    self._offer_to_substitutes(order, now)
                    return
        main = company.main_contact_id
        more = (main,) if main is not None and main != order.buyer_id and main not in order.approvers else ()
        order.escalate_on_deadline(now, (*order.approvers, *more))
        self._offer_to_substitutes(order, now)
