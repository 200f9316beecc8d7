"""Use cases of the company's approval policy — tiers and approver limits (issue 16 item 3; ADR 0025) — and the
routing questions that the order use cases ask of it. A part of :class:`approval.application.orders.Orders`
(its base class), kept apart so that the order use cases only ask: where does this order start, and does this
approval release it or lift it one tier up?"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from approval.domain.absences import MANAGE_USERS, may_approve
from approval.domain.members import CompanyView, Member
from approval.domain.model import NotAllowed, Order, OrderContent, TierPosition
from approval.domain.routing import route
from approval.domain.tiers import (
    ApprovalPolicy,
    NotAnApprover,
    People,
    RoleHolders,
    Step,
    Tier,
    check_tiers,
    covers,
    first_step,
    step_after,
    step_at,
)


def may_define_policy(member: Member) -> bool:
    """The main contact, and who manages users (the permission that names the company's approvers)."""
    return member.active and (member.is_main_contact or member.can(MANAGE_USERS))


class PolicyUseCases:
    """The approval policy's use cases; the attributes below are :class:`Orders`'."""

    _cached: Any
    clock: Callable[[], datetime]
    repository: Any

    if TYPE_CHECKING:  # provided by Orders (a stub here would come before them in the method resolution order)

        def save(self, *objs: Any, **kwargs: Any) -> list[Any]: ...

        def _find(self, aggregate_id: UUID) -> Any: ...

        def _company_to_read(self, company_id: UUID) -> CompanyView: ...

        def _colleague(self, member: Member, user_id: UUID) -> Member: ...

    # ---- the policy itself ----------------------------------------------------------------------------------

    def approval_policy(self, member: Member) -> ApprovalPolicy | None:
        """The caller's company's policy (None: never defined — the default). Seen by who may define it and by who
        may approve orders."""
        company = self._company_to_read(member.company_id)
        if not (may_define_policy(member) or may_approve(member, company)):
            raise NotAllowed("Only the main contact, who manages users and approvers see the approval policy.")
        return self._policy(member.company_id)

    def define_approval_policy(
        self, member: Member, tiers: Sequence[Tier], currency: str | None, escalation: str = "climb"
    ) -> ApprovalPolicy:
        """A new version of the company's approval policy, defined by the main contact or who manages users: tiers in
        ascending limits, each with people (users of the company who may approve) and/or a role; no tiers — the
        default (the approver list, else the main contact). Orders already waiting keep the version they were judged
        on until a re-evaluation (ADR 0024)."""
        if not may_define_policy(member):
            raise NotAllowed("Only the main contact or who manages users defines the approval policy.")
        company = self._company_to_read(member.company_id)
        people = [self._colleague(member, p) for t in tiers for p in t.approver_ids]  # another company's: not found
        currency = currency or company.currency
        if tiers:
            check_tiers(tiers, currency or "", company.currency)
        for person in people:
            if not may_approve(person, company):
                raise NotAnApprover(f"{person.label} may not approve orders.")
        now = self.clock()
        policy = self._find(ApprovalPolicy.create_id(member.company_id))
        if isinstance(policy, ApprovalPolicy):
            policy.redefine(tiers, currency, escalation, member.id, now)
        else:
            policy = ApprovalPolicy.define_first(member.company_id, tiers, currency, escalation, member.id, now)
        self.save(policy)
        return policy

    def _policy(self, company_id: UUID) -> ApprovalPolicy | None:
        """The company's policy as it is now, shared with other requests (read it, never change it)."""
        pid = ApprovalPolicy.create_id(company_id)
        found = self._cached.get([pid]).get(pid)
        return found if isinstance(found, ApprovalPolicy) else None

    def _pinned_policy(self, company_id: UUID, version: int) -> ApprovalPolicy | None:
        """The company's policy in the version an order was judged on."""
        current = self._policy(company_id)
        if current is not None and current.version == version:
            return current
        try:
            found = self.repository.get(ApprovalPolicy.create_id(company_id), version=version)
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, ApprovalPolicy) else None

    # ---- routing by the policy ------------------------------------------------------------------------------

    def _people(self, company: CompanyView) -> People:
        def allowed(user_id: UUID) -> bool:
            found = self._cached.get([user_id]).get(user_id)
            return isinstance(found, Member) and may_approve(found, company)

        roles = self._cached.get([RoleHolders.create_id(company.id)]).get(RoleHolders.create_id(company.id))

        def holders(role_id: str) -> Sequence[UUID]:
            return roles.holders(role_id) if isinstance(roles, RoleHolders) else ()

        return People(company.main_contact_id, allowed, holders)

    def _first_step(self, company: CompanyView, buyer_id: UUID, content: OrderContent) -> Step | None:
        """Where an order held for approval starts under the company's tiered policy (None: no tiers — routed by the
        approver list)."""
        policy = self._policy(company.id)
        if policy is None or not policy.tiered:
            return None
        return first_step(policy, content.total_value, content.currency, buyer_id, self._people(company))

    def _tier_escalation(self, order: Order, approver: Member, priced: OrderContent) -> Step | None:
        """What an approval by ``approver`` at the order's tier does: None — it releases the order (no tiers, the
        tier's limit covers the order as priced now, or the main contact decides: without limit); a step — the order
        climbs there, and whoever approved it so far is left out of the tiers above."""
        position = order.position
        if position is None or position.limit is None:
            return None
        company = self._company_to_read(order.company_id)
        if approver.is_main_contact or approver.id == company.main_contact_id:
            return None
        if covers(position.limit, position.currency, priced.total_value, priced.currency):
            return None
        people = self._people(company)
        approved = {a.approver_id for a in order.tier_approvals} | {approver.id}
        policy = self._pinned_policy(order.company_id, position.policy_version)
        if policy is None:  # (cannot happen: the version was stored) — the main contact decides
            main = company.main_contact_id
            approvers = (main,) if main is not None and main not in (order.buyer_id, *approved) else ()
            return Step(position.tier + 1, None, approvers, position.policy_version, position.currency)
        return step_after(policy, position.tier, order.buyer_id, people, approved)

    def _rerouted(self, order: Order, company: CompanyView) -> tuple[tuple[UUID, ...], TierPosition | bool]:
        """Who decides a pending order after the approver list or the main contact changed: by the list (ADR 0006);
        at a tier, the people its policy version names there who may decide now (at the top: who the main contact is
        now) — passed over to the next tier up when nobody there may any more. The position: False, unchanged."""
        if order.position is None:
            return route(order.buyer_id, company.approver_ids, company.main_contact_id), False
        step = self._current_step(order, company)
        if step is None:
            return order.approvers, False
        return step.approvers, (step.position if step.position != order.position else False)

    def _current_step(self, order: Order, company: CompanyView) -> Step | None:
        """The order's tier on its policy version, with who may decide there now (None: not routed by tiers)."""
        position = order.position
        if position is None:
            return None
        policy = self._pinned_policy(order.company_id, position.policy_version)
        if policy is None:
            return None
        approved = {a.approver_id for a in order.tier_approvals}
        return step_at(policy, position.tier, order.buyer_id, self._people(company), approved)

    def _re_routed(
        self, order: Order, company: CompanyView, exceeded: bool
    ) -> tuple[tuple[UUID, ...], TierPosition | bool | None, bool]:
        """Who decides a pending order judged again (ADR 0024), at which tier, and whether it starts again: on the
        policy's version it was judged on, it stays at its tier (False) with who may decide there now (passed over
        when nobody may any more); on another version, it starts again at the first step of today's policy (or is
        routed by the approver list when the policy has no tiers now: None)."""
        if not exceeded:
            return (), False, True
        policy = self._policy(company.id)
        position = order.position
        if policy is None or not policy.tiered:
            approvers = route(order.buyer_id, company.approver_ids, company.main_contact_id)
            return approvers, (False if position is None else None), True
        if position is not None and position.policy_version == policy.version:
            approvers, moved = self._rerouted(order, company)
            return approvers, moved, False
        c = order.content
        step = first_step(policy, c.total_value, c.currency, order.buyer_id, self._people(company))
        return step.approvers, step.position, True

    def _policy_ids(self, company_id: UUID) -> list[UUID]:
        """The ids a submission reads for routing (their versions asked for with the rest)."""
        return [ApprovalPolicy.create_id(company_id), RoleHolders.create_id(company_id)]

    # ---- who holds which role (for tiers that name a role) ----------------------------------------------------

    def _roles_changed(self, member: Member) -> list[Any]:
        """Keep the company's role holders after ``member`` joined or their roles changed."""
        roles = getattr(member, "role_ids", None)
        if roles is None:
            return []
        rid = RoleHolders.create_id(member.company_id)
        found = self._find(rid)
        holders = found if isinstance(found, RoleHolders) else RoleHolders.open(member.company_id)
        if holders.hold(member.id, tuple(roles)):
            return [holders]
        return []
