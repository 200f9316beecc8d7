"""Absences of approvers and their substitutes (issue 17 item 1; ADR 0020).

An approver (or whoever manages the company's users, for them) records an absence: a period and a substitute who
may approve. While it is in force, the orders routed to the absent approver are also offered to the substitute
(:func:`approval.domain.routing.deciders`); it is in force from ``starts_at`` (inclusive) to ``ends_at``
(exclusive) or until it is withdrawn, judged at the moment of each request — no timer turns it on or off.

One :class:`Absences` aggregate per company holds all of the company's absences: "who substitutes whom now" is one
read, and every recording and withdrawal is an event with who did it and when (the audit).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from approval.domain.members import APPROVE_ORDERS, CompanyView, Member
from approval.domain.model import InvalidOrder, OrderNotFound, WrongState

_NS = uuid5(NAMESPACE_URL, "urn:kundencenter:approval:absences")

MANAGE_USERS = "manage_users"

AbsenceState = Literal["upcoming", "in_force", "ended", "withdrawn"]

LONGEST = timedelta(days=366)
"""The longest absence one recording may cover (a longer one is recorded again when it is known to go on)."""


class InvalidAbsence(InvalidOrder):
    code = "invalid_absence"


class InvalidPeriod(InvalidAbsence):
    code = "invalid_period"


class PeriodTooLong(InvalidAbsence):
    code = "period_too_long"


class PeriodOver(InvalidAbsence):
    code = "period_over"


class NotAnApprover(InvalidAbsence):
    """The person named absent decides no orders: there is nothing to substitute."""

    code = "not_an_approver"


class InvalidSubstitute(InvalidAbsence):
    code = "invalid_substitute"


class AbsenceNotFound(OrderNotFound):
    """No such absence in the caller's company, or one they may not see (never told apart)."""


class AbsenceOver(WrongState):
    """The absence was withdrawn or has ended: there is nothing left to withdraw."""


def may_approve(member: Member, company: CompanyView) -> bool:
    """Whether ``member`` may decide orders at all: a named approver, a holder of the approve permission, or the main
    contact (who decides where no approver is named) — and active."""
    if not member.active or member.company_id != company.id:
        return False
    named = member.id in company.approver_ids or member.id == company.main_contact_id or member.is_main_contact
    return named or member.can(APPROVE_ORDERS)


def may_manage_absences(member: Member) -> bool:
    """Whether ``member`` may record and withdraw absences of the company's approvers (as they may name approvers)."""
    return member.active and (member.is_main_contact or member.can(MANAGE_USERS))


def check_period(starts_at: datetime, ends_at: datetime, now: datetime) -> None:
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise InvalidPeriod("The period's times need a time zone (ISO 8601 with an offset).")
    if ends_at <= starts_at:
        raise InvalidPeriod("The absence must end after it starts.")
    if ends_at - starts_at > LONGEST:
        raise PeriodTooLong(f"An absence can cover at most {LONGEST.days} days.")
    if ends_at <= now:
        raise PeriodOver("The period is over already.")


@dataclass(frozen=True)
class Absence:
    id: UUID
    approver_id: UUID
    substitute_id: UUID
    starts_at: datetime
    ends_at: datetime
    recorded_by: UUID
    recorded_at: datetime
    withdrawn_by: UUID | None = None
    withdrawn_at: datetime | None = None

    @property
    def ended_at(self) -> datetime:
        """When it stops being in force: the end of the period, or the withdrawal if that came first."""
        if self.withdrawn_at is not None and self.withdrawn_at < self.ends_at:
            return self.withdrawn_at
        return self.ends_at

    def in_force(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ended_at

    def state(self, at: datetime) -> AbsenceState:
        """``upcoming``, ``in_force``, ``ended`` or ``withdrawn`` (withdrawn before its end)."""
        if self.withdrawn_at is not None and self.withdrawn_at < self.ends_at and self.withdrawn_at <= at:
            return "withdrawn"
        if at < self.starts_at:
            return "upcoming"
        return "in_force" if at < self.ends_at else "ended"

    def concerns(self, member_id: UUID) -> bool:
        return member_id in (self.approver_id, self.substitute_id)


class Absences(Aggregate):
    """The absences of one company's approvers. Its id follows from the company's."""

    @staticmethod
    def create_id(company_id: UUID) -> UUID:
        return uuid5(_NS, str(company_id))

    class Opened(Aggregate.Created):
        company_id: UUID

    @classmethod
    def open(cls, company_id: UUID) -> Absences:
        return cls._create(cls.Opened, id=cls.create_id(company_id), company_id=company_id)

    def __init__(self, company_id: UUID) -> None:
        self.company_id = company_id
        self.absences: dict[UUID, Absence] = {}

    # ---- commands -----------------------------------------------------------------------------------------

    def record(
        self,
        absence_id: UUID,
        approver_id: UUID,
        substitute_id: UUID,
        starts_at: datetime,
        ends_at: datetime,
        by: UUID,
        at: datetime,
    ) -> Absence:
        """Record an absence (the people are checked by the use case; the period here)."""
        check_period(starts_at, ends_at, at)
        if substitute_id == approver_id:
            raise InvalidSubstitute("Nobody substitutes for themselves.")
        if absence_id in self.absences:
            raise InvalidAbsence("This absence is recorded already.")
        self._recorded(
            absence_id=absence_id, approver_id=approver_id, substitute_id=substitute_id, starts_at=starts_at,
            ends_at=ends_at, by=by, at=at,
        )  # fmt: skip
        return self.absences[absence_id]

    class Recorded(Aggregate.Event):
        absence_id: UUID
        approver_id: UUID
        substitute_id: UUID
        starts_at: datetime
        ends_at: datetime
        by: UUID
        at: datetime

    @event(Recorded)
    def _recorded(
        self,
        absence_id: UUID,
        approver_id: UUID,
        substitute_id: UUID,
        starts_at: datetime,
        ends_at: datetime,
        by: UUID,
        at: datetime,
    ) -> None:
        self.absences[absence_id] = Absence(absence_id, approver_id, substitute_id, starts_at, ends_at, by, at)

    def withdraw(self, absence_id: UUID, by: UUID, at: datetime) -> Absence:
        """End an absence now (the approver is back early) or call off one that has not begun."""
        absence = self.get(absence_id)
        if absence.withdrawn_at is not None:
            raise AbsenceOver("The absence was withdrawn already.")
        if absence.ends_at <= at:
            raise AbsenceOver("The absence has ended already.")
        self._withdrawn(absence_id=absence_id, by=by, at=at)
        return self.absences[absence_id]

    class Withdrawn(Aggregate.Event):
        absence_id: UUID
        by: UUID
        at: datetime

    @event(Withdrawn)
    def _withdrawn(self, absence_id: UUID, by: UUID, at: datetime) -> None:
        self.absences[absence_id] = replace(self.absences[absence_id], withdrawn_by=by, withdrawn_at=at)

    # ---- queries ------------------------------------------------------------------------------------------

    def get(self, absence_id: UUID) -> Absence:
        found = self.absences.get(absence_id)
        if found is None:
            raise AbsenceNotFound("Not found.")
        return found

    def in_force(self, at: datetime) -> list[Absence]:
        """The absences in force at ``at``, oldest recording first."""
        return [a for a in self.absences.values() if a.in_force(at)]

    def acting_for(self, substitute_id: UUID, at: datetime) -> list[UUID]:
        """The approvers whom ``substitute_id`` substitutes at ``at``."""
        return list(dict.fromkeys(a.approver_id for a in self.in_force(at) if a.substitute_id == substitute_id))


def check_people(approver: Member, substitute: Member, company: CompanyView) -> None:
    """The absent person decides orders, and so does their substitute, who is someone else (both are known to be of
    the company; who may record the absence is the use case's first question)."""
    if not may_approve(approver, company):
        raise NotAnApprover("This person decides no orders: there is nobody to substitute.")
    if substitute.id == approver.id:
        raise InvalidSubstitute("Nobody substitutes for themselves.")
    if not may_approve(substitute, company):
        raise InvalidSubstitute("The substitute must be an active user who may approve orders.")


def may_see(member: Member, absence: Absence) -> bool:
    return absence.concerns(member.id) or may_manage_absences(member)


def visible(member: Member, absences: Iterable[Absence]) -> list[Absence]:
    return [a for a in absences if may_see(member, a)]
