"""Approval tiers and approver limits (issue 16 item 3; ADR 0025).

The main contact defines the company's approval policy: tiers in order, each with its approvers (named people, or
everyone holding a role) and an upper value limit. An order held for approval waits at one tier at a time
(:class:`Step`): the tier's approvers decide it; an approval at a tier whose limit covers the order's value releases
it, an approval below lifts the order to the next tier up — climbing tier by tier up to the main contact, who decides
without limit. Without a policy (or after it was reset) the company keeps today's simple case: its approver list, else
the main contact (:func:`approval.domain.routing.route`).

Four eyes on every tier: the buyer never decides their own order, and nobody approves one order twice on its way up
(whoever approved at a lower tier is left out of the tiers above; a tier left with nobody is passed over).

One :class:`ApprovalPolicy` aggregate per company; its version is the policy's version, which each order routed by it
pins (``Order.policy_version``), so an order climbs the tiers it was judged on even when the policy changes meanwhile.
Nothing here reads clocks or ids: callers pass them in (events are replayed).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from approval.domain.model import InvalidOrder, TierPosition

_NS = uuid5(NAMESPACE_URL, "urn:kundencenter:approval:approval-policies")

TIERS_MAX = 10
"""At most this many tiers (above them, the main contact)."""
TIER_APPROVERS_MAX = 50

Escalation = Literal["climb", "direct"]
"""``climb``: an order starts at the first tier and climbs tier by tier until a tier's limit covers it; ``direct``: it
goes straight to the lowest tier whose limit covers it (the main contact above the last)."""


class InvalidPolicy(InvalidOrder):
    code = "invalid_policy"


class LimitsNotAscending(InvalidPolicy):
    code = "limits_not_ascending"


class NoTierApprovers(InvalidPolicy):
    code = "no_tier_approvers"


class PolicyCurrencyMismatch(InvalidPolicy):
    code = "currency_mismatch"


class NotAnApprover(InvalidPolicy):
    """A person named in a tier may not approve orders (inactive, or neither the approve permission, a named approver
    nor the main contact)."""

    code = "not_an_approver"


@dataclass(frozen=True)
class Tier:
    """One tier: who decides here — the people named and whoever holds ``role_id`` — and up to which order value
    (inclusive) their approval releases an order."""

    max_value: Decimal
    approver_ids: tuple[UUID, ...] = ()
    role_id: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "approver_ids", tuple(self.approver_ids))  # (stored as a JSON list)
        object.__setattr__(self, "max_value", Decimal(self.max_value))


def check_tiers(tiers: Sequence[Tier], currency: str, company_currency: str | None) -> None:
    """Limits positive and strictly ascending, each tier with someone to decide, in the company's currency."""
    if len(tiers) > TIERS_MAX:
        raise InvalidPolicy(f"At most {TIERS_MAX} tiers.")
    if company_currency is not None and currency != company_currency:
        raise PolicyCurrencyMismatch(f"The limits must be in the company's currency ({company_currency}).")
    previous: Decimal | None = None
    for n, tier in enumerate(tiers, start=1):
        if tier.max_value <= 0:
            raise InvalidPolicy(f"Tier {n}: the limit must be positive.")
        if previous is not None and tier.max_value <= previous:
            raise LimitsNotAscending(f"Tier {n}: each tier's limit must be higher than the one below.")
        previous = tier.max_value
        if not tier.approver_ids and not tier.role_id:
            raise NoTierApprovers(f"Tier {n}: name its approvers (people or a role).")
        if len(tier.approver_ids) > TIER_APPROVERS_MAX:
            raise InvalidPolicy(f"Tier {n}: at most {TIER_APPROVERS_MAX} people.")
        if len(set(tier.approver_ids)) != len(tier.approver_ids):
            raise InvalidPolicy(f"Tier {n}: each person may be named once.")


@dataclass(frozen=True)
class Revision:
    """One definition of the policy: who defined it when (the audit)."""

    version: int
    tiers: tuple[Tier, ...]
    currency: str | None
    escalation: str
    by: UUID
    at: datetime


class ApprovalPolicy(Aggregate):
    """The approval policy of one company. Its id follows from the company's; its version is the policy's version."""

    @staticmethod
    def create_id(company_id: UUID) -> UUID:
        return uuid5(_NS, str(company_id))

    class Defined(Aggregate.Created):
        company_id: UUID
        tiers: tuple[Tier, ...]
        currency: str | None
        escalation: str
        by: UUID
        at: datetime

    @classmethod
    def define_first(
        cls,
        company_id: UUID,
        tiers: Sequence[Tier],
        currency: str | None,
        escalation: str,
        by: UUID,
        at: datetime,
    ) -> ApprovalPolicy:
        return cls._create(
            cls.Defined, id=cls.create_id(company_id), company_id=company_id, tiers=tuple(tiers), currency=currency,
            escalation=escalation, by=by, at=at,
        )  # fmt: skip

    def __init__(
        self, company_id: UUID, tiers: tuple[Tier, ...], currency: str | None, escalation: str, by: UUID, at: datetime
    ) -> None:
        self.company_id = company_id
        self.revisions: list[Revision] = []
        self._apply(tuple(tiers), currency, escalation, by, at)

    def redefine(self, tiers: Sequence[Tier], currency: str | None, escalation: str, by: UUID, at: datetime) -> None:
        """A new version of the policy (no tiers: back to the company's approver list, else the main contact)."""
        self._redefined(tiers=tuple(tiers), currency=currency, escalation=escalation, by=by, at=at)

    class Redefined(Aggregate.Event):
        tiers: tuple[Tier, ...]
        currency: str | None
        escalation: str
        by: UUID
        at: datetime

    @event(Redefined)
    def _redefined(
        self, tiers: tuple[Tier, ...], currency: str | None, escalation: str, by: UUID, at: datetime
    ) -> None:
        self._apply(tuple(tiers), currency, escalation, by, at)

    def _apply(self, tiers: tuple[Tier, ...], currency: str | None, escalation: str, by: UUID, at: datetime) -> None:
        self.tiers = tuple(t if isinstance(t, Tier) else Tier(**t) for t in tiers)
        self.currency = currency
        self.escalation = escalation
        self.defined_by = by
        self.defined_at = at
        # the version this event gives the aggregate (applied before the library counts it up)
        self.revisions.append(Revision(len(self.revisions) + 1, self.tiers, currency, escalation, by, at))

    @property
    def tiered(self) -> bool:
        """False: the default policy (the approver list, else the main contact)."""
        return bool(self.tiers)


class RoleHolders(Aggregate):
    """Who holds which role in one company, as the users service said (approval's view knows permissions, not roles;
    a tier may name a role). Its id follows from the company's."""

    _ROLES = uuid5(NAMESPACE_URL, "urn:kundencenter:approval:role-holders")

    @staticmethod
    def create_id(company_id: UUID) -> UUID:
        return uuid5(RoleHolders._ROLES, str(company_id))

    class Opened(Aggregate.Created):
        company_id: UUID

    @classmethod
    def open(cls, company_id: UUID) -> RoleHolders:
        return cls._create(cls.Opened, id=cls.create_id(company_id), company_id=company_id)

    def __init__(self, company_id: UUID) -> None:
        self.company_id = company_id
        self.roles: dict[UUID, tuple[str, ...]] = {}

    def hold(self, user_id: UUID, role_ids: tuple[str, ...]) -> bool:
        """The user's roles now; False: as known already."""
        if self.roles.get(user_id, ()) == tuple(role_ids) and (user_id in self.roles or not role_ids):
            return False
        self._held(user_id=user_id, role_ids=tuple(role_ids))
        return True

    class Held(Aggregate.Event):
        user_id: UUID
        role_ids: tuple[str, ...]

    @event(Held)
    def _held(self, user_id: UUID, role_ids: tuple[str, ...]) -> None:
        self.roles[user_id] = tuple(role_ids)

    def holders(self, role_id: str) -> tuple[UUID, ...]:
        return tuple(u for u, roles in self.roles.items() if role_id in roles)


# ---- routing through the tiers (pure) -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """Where a held order waits under a tiered policy: ``tier`` (1-based; one above the last tier: the main contact),
    the value up to which an approval here releases it (``limit``; None: without limit — the main contact), the
    approvers, and the policy's version."""

    tier: int
    limit: Decimal | None
    approvers: tuple[UUID, ...]
    policy_version: int
    currency: str | None = None

    @property
    def final(self) -> bool:
        return self.limit is None

    @property
    def position(self) -> TierPosition:
        """What the order records of it."""
        return TierPosition(self.tier, self.limit, self.currency, self.policy_version)


class People:
    """What routing needs to know about the company's people, as callables (the use case reads the members)."""

    def __init__(
        self,
        main_contact_id: UUID | None,
        may_approve: Callable[[UUID], bool],
        holders: Callable[[str], Sequence[UUID]] = lambda role: (),
    ) -> None:
        self.main_contact_id = main_contact_id
        self.may_approve = may_approve
        self.holders = holders

    def of(self, tier: Tier) -> tuple[UUID, ...]:
        """The tier's approvers: the people named, then the role's holders — each once, if they may approve now."""
        found = [*tier.approver_ids, *(self.holders(tier.role_id) if tier.role_id else ())]
        return tuple(p for p in dict.fromkeys(found) if self.may_approve(p))


def covers(limit: Decimal | None, policy_currency: str | None, value: Decimal, currency: str) -> bool:
    """Whether an approval under ``limit`` releases an order of ``value`` (an order in another currency than the
    policy's is covered by no limit: it climbs to the main contact)."""
    if limit is None:
        return True
    if policy_currency is not None and policy_currency != currency:
        return False
    return value <= limit


def first_step(policy: ApprovalPolicy, value: Decimal, currency: str, buyer_id: UUID, people: People) -> Step:
    """Where an order held for approval starts: the first tier (``climb``), or the lowest tier whose limit covers it
    (``direct``) — passing over tiers with nobody to decide it."""
    start = 1
    if policy.escalation == "direct":
        start = next(
            (n for n, t in enumerate(policy.tiers, start=1) if covers(t.max_value, policy.currency, value, currency)),
            len(policy.tiers) + 1,
        )
    return _step_from(policy, start, buyer_id, people, frozenset())


def step_after(
    policy: ApprovalPolicy, tier: int, buyer_id: UUID, people: People, approved_by: Collection[UUID]
) -> Step:
    """The next tier up from ``tier`` that has someone to decide, leaving out who approved already (nobody approves
    one order twice); above the last tier, the main contact."""
    return _step_from(policy, tier + 1, buyer_id, people, frozenset(approved_by))


def step_at(policy: ApprovalPolicy, tier: int, buyer_id: UUID, people: People, approved_by: Collection[UUID]) -> Step:
    """Who decides at ``tier`` now — passing over to the tiers above when nobody there may decide any more (left, no
    longer allowed to approve, or approved below)."""
    if tier > len(policy.tiers):
        return final_step(policy, buyer_id, people, approved_by)
    return _step_from(policy, tier, buyer_id, people, frozenset(approved_by))


def _step_from(policy: ApprovalPolicy, start: int, buyer_id: UUID, people: People, left_out: frozenset[UUID]) -> Step:
    for n in range(start, len(policy.tiers) + 1):
        tier = policy.tiers[n - 1]
        approvers = tuple(p for p in people.of(tier) if p != buyer_id and p not in left_out)
        if approvers:
            return Step(n, tier.max_value, approvers, policy.version, policy.currency)
    return final_step(policy, buyer_id, people, left_out)


def final_step(policy: ApprovalPolicy, buyer_id: UUID, people: People, left_out: Collection[UUID] = ()) -> Step:
    """The main contact, without limit (nobody, when the main contact is the buyer: held until that changes)."""
    main = people.main_contact_id
    approvers = (main,) if main is not None and main != buyer_id and main not in left_out else ()
    return Step(len(policy.tiers) + 1, None, approvers, policy.version, policy.currency)
