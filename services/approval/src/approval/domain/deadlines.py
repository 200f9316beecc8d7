"""Deadlines of orders waiting for approval (issue 17 item 2; ADR 0033).

Per company, the main contact sets up to three durations, counted from when an order began waiting at its current
step (held for approval, or lifted to a tier by an approval below):

- ``remind_after``: its approvers are reminded (once per wait);
- ``escalate_after``: it is escalated — under approval tiers to the next tier up, else to the main contact, who is
  added to its approvers;
- ``expire_after``: it expires; the buyer is told and may send it again (as after a rejection).

Durations are calendar time, not business hours: a deadline of 24 hours set on Friday noon fires on Saturday noon.
A company that wants working days sets longer durations (ADR 0033 says why). The order records each step it took
(:attr:`Order.deadline_stage`), so a step fires once however often the timer service asks; when several are due at
once (the service was down), only the furthest is taken.

Nothing here reads clocks: callers pass the time in (events are replayed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from approval.domain.model import InvalidOrder

_NS = uuid5(NAMESPACE_URL, "urn:kundencenter:approval:deadlines")

REMIND, ESCALATE, EXPIRE = 1, 2, 3
"""The steps, in order; an order's ``deadline_stage`` is the last it took (0: none)."""
STEP_NAMES = {REMIND: "remind", ESCALATE: "escalate", EXPIRE: "expire"}

LONGEST = timedelta(days=365)


class InvalidDeadlines(InvalidOrder):
    code = "invalid_deadlines"


@dataclass(frozen=True)
class Deadlines:
    """The durations in seconds (None: that step is not taken)."""

    remind_after_s: int | None = None
    escalate_after_s: int | None = None
    expire_after_s: int | None = None

    @classmethod
    def of(
        cls, remind_after: timedelta | None, escalate_after: timedelta | None, expire_after: timedelta | None
    ) -> Deadlines:
        def seconds(d: timedelta | None) -> int | None:
            return None if d is None else int(d.total_seconds())

        return cls(seconds(remind_after), seconds(escalate_after), seconds(expire_after))

    def steps(self) -> list[tuple[int, int]]:
        """(step, seconds) of the steps set, in order."""
        return [
            (step, s)
            for step, s in (
                (REMIND, self.remind_after_s),
                (ESCALATE, self.escalate_after_s),
                (EXPIRE, self.expire_after_s),
            )
            if s is not None
        ]

    def check(self, shortest: timedelta) -> None:
        """Each set duration between ``shortest`` (the service's setting) and a year; later steps later."""
        steps = self.steps()
        for step, s in steps:
            if not shortest.total_seconds() <= s <= LONGEST.total_seconds():
                raise InvalidDeadlines(f"{STEP_NAMES[step]}_after must be between {shortest} and {LONGEST.days} days.")
        if any(a >= b for (_, a), (_, b) in pairwise(steps)):
            raise InvalidDeadlines("Each deadline must come after the one before: remind, then escalate, then expire.")

    def due(self, waiting_since: datetime, stage: int, now: datetime) -> int | None:
        """The furthest step whose time has come and that the order has not taken yet (None: nothing due)."""
        for step, s in reversed(self.steps()):
            if step > stage and waiting_since + timedelta(seconds=s) <= now:
                return step
        return None

    def next_due(self, waiting_since: datetime, stage: int) -> tuple[int, datetime] | None:
        """The next step the order will take, and when."""
        for step, s in self.steps():
            if step > stage:
                return step, waiting_since + timedelta(seconds=s)
        return None

    @property
    def any(self) -> bool:
        return bool(self.steps())


class CompanyDeadlines(Aggregate):
    """A company's deadlines; its main contact changes them."""

    @staticmethod
    def create_id(company_id: UUID) -> UUID:
        return uuid5(_NS, f"deadlines/{company_id}")

    class Opened(Aggregate.Created):
        company_id: UUID

    @classmethod
    def open(cls, company_id: UUID) -> CompanyDeadlines:
        return cls._create(cls.Opened, id=cls.create_id(company_id), company_id=company_id)

    @event(Opened)
    def __init__(self, company_id: UUID) -> None:
        self.company_id = company_id
        self.deadlines = Deadlines()
        self.changed_by: UUID | None = None
        self.changed_at: datetime | None = None

    def change(self, deadlines: Deadlines, by: UUID, at: datetime, shortest: timedelta) -> bool:
        """Set the deadlines (False: they were so already)."""
        deadlines.check(shortest)
        if deadlines == self.deadlines:
            return False
        self._changed(company_id=self.company_id, deadlines=deadlines, by=by, at=at)
        return True

    class Changed(Aggregate.Event):
        company_id: UUID
        deadlines: Deadlines
        by: UUID
        at: datetime

    @event(Changed)
    def _changed(self, company_id: UUID, deadlines: Deadlines, by: UUID, at: datetime) -> None:
        self.deadlines = deadlines
        self.changed_by = by
        self.changed_at = at
