"""Lockout counters: sliding windows of registration attempts per customer number at a client address, per client
address, and per customer number (customer-wide, higher and slower; see ADR 0005, "Lockout").

Attempts count while they wait for the ERP's answer (a burst of guesses is held back before any answer
arrives) and when the ERP could not verify them; an attempt the ERP verified stops counting. When the failures
within the window reach the limit, the counter locks for a while (``LockedOut``, an event support can see).
The events of the customer-number counter are also the index of that customer's attempts.

A counter of a client address (alone or with a customer number) has a keyed hash of its key as id and keeps no
address (:meth:`AttemptCounter.blind`, ADR 0035 decision 4, ADR 0040): an address is an applicant's personal data,
and a ``uuid5`` of an IPv4 address is undone by trying them all. Counters made before keep their ``uuid5`` id and the
address in their first event (until the copy-and-switch runbook).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from registration.domain.model import RegistrationError

_NS = uuid5(NAMESPACE_URL, "urn:kundencenter:registration:lockout")


class CounterKind(StrEnum):
    CUSTOMER_NUMBER = "customer_number"
    """Customer-wide: a higher, slower limit; once reached only a fresh client address gets an attempt."""
    CLIENT_ADDRESS = "client_address"
    """One client address, whatever customer numbers it tries."""
    CUSTOMER_AT_ADDRESS = "customer_at_address"
    """One customer number from one client address: the guesser is locked, not the customer."""


ADDRESS_KINDS = frozenset({CounterKind.CLIENT_ADDRESS, CounterKind.CUSTOMER_AT_ADDRESS})
"""The counters whose key holds a client address: blind (see the module's docstring)."""


def customer_at_address(customer_number: str, client_address: str) -> str:
    return f"{customer_number}@{client_address}"


class TooManyAttempts(RegistrationError):
    code = "too_many_attempts"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int
    window_s: int
    lockout_s: int

    @property
    def window(self) -> timedelta:
        return timedelta(seconds=self.window_s)


def _seconds(delta: timedelta) -> int:
    return max(1, math.ceil(delta.total_seconds()))


class AttemptCounter(Aggregate):
    """Attempts of one customer number or one client address within a sliding window."""

    INDEX = "registration/attempt-counter"
    """the blind index's namespace of the counters of client addresses"""

    @staticmethod
    def create_id(kind: str, key: str) -> UUID:
        """The id of a customer-number counter; of a client address's counter made before the blind index."""
        return uuid5(_NS, f"{kind}/{key}")

    @classmethod
    def blind(cls, counter_id: UUID, kind: str) -> AttemptCounter:
        """A new counter whose id is the blind index of its key (``counter_id``): the key is not stored."""
        return cls._create(cls.Opened, id=counter_id, kind=kind, key="")

    class Opened(Aggregate.Created):
        kind: str
        key: str

    @event(Opened)
    def __init__(self, kind: str, key: str) -> None:
        self.kind = CounterKind(kind)
        self.key = key
        self.pending: dict[str, datetime] = {}
        """Attempts waiting for the ERP's answer: registration id → submitted at."""
        self.failures: dict[str, datetime] = {}
        """Attempts the ERP could not verify: registration id → when."""
        self.locked_until: datetime | None = None
        self.lockouts = 0

    # ---- queries ----------------------------------------------------------------------------------------

    def counted(self, now: datetime, policy: LockoutPolicy) -> list[datetime]:
        since = now - policy.window
        return sorted(at for at in (*self.pending.values(), *self.failures.values()) if at > since)

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until

    def is_clean(self, now: datetime, policy: LockoutPolicy) -> bool:
        """Nothing against it: not locked, no attempt pending or failed within the window."""
        return not self.is_locked(now) and not self.counted(now, policy)

    def check(self, now: datetime, policy: LockoutPolicy) -> None:
        """Raise :class:`TooManyAttempts` when a new attempt must wait (with the seconds to wait)."""
        if self.locked_until is not None and now < self.locked_until:
            raise TooManyAttempts("Too many failed attempts; locked for a while.", _seconds(self.locked_until - now))
        counted = self.counted(now, policy)
        if len(counted) >= policy.max_failures:
            raise TooManyAttempts("Too many attempts within a short time.", _seconds(counted[0] + policy.window - now))

    # ---- commands ---------------------------------------------------------------------------------------

    def record_attempt(self, registration_id: UUID, at: datetime, policy: LockoutPolicy) -> None:
        self._attempt_recorded(registration_id=registration_id, at=at, window_s=policy.window_s)

    class AttemptRecorded(Aggregate.Event):
        registration_id: UUID
        at: datetime
        window_s: int

    @event(AttemptRecorded)
    def _attempt_recorded(self, registration_id: UUID, at: datetime, window_s: int) -> None:
        self._prune(at - timedelta(seconds=window_s))
        self.pending[str(registration_id)] = at

    def record_refused(self, registration_id: UUID, at: datetime) -> None:
        """An attempt refused at the door (locked or rate-limited): logged, but it does not count."""
        self._attempt_refused(registration_id=registration_id, at=at)

    class AttemptRefused(Aggregate.Event):
        registration_id: UUID
        at: datetime

    @event(AttemptRefused)
    def _attempt_refused(self, registration_id: UUID, at: datetime) -> None:
        pass

    def record_failure(self, registration_id: UUID, at: datetime, policy: LockoutPolicy) -> None:
        """The ERP could not verify the attempt; lock when the failures within the window reach the limit."""
        self._failure_recorded(registration_id=registration_id, at=at, window_s=policy.window_s)
        since = at - policy.window
        failures = sum(1 for t in self.failures.values() if t > since)
        if failures >= policy.max_failures:
            self._locked_out(until=at + timedelta(seconds=policy.lockout_s), failures=failures, at=at)

    class FailureRecorded(Aggregate.Event):
        registration_id: UUID
        at: datetime
        window_s: int

    @event(FailureRecorded)
    def _failure_recorded(self, registration_id: UUID, at: datetime, window_s: int) -> None:
        self._prune(at - timedelta(seconds=window_s))
        self.pending.pop(str(registration_id), None)
        self.failures[str(registration_id)] = at

    class LockedOut(Aggregate.Event):
        until: datetime
        failures: int
        at: datetime

    @event(LockedOut)
    def _locked_out(self, until: datetime, failures: int, at: datetime) -> None:
        self.locked_until = until
        self.lockouts += 1
        # The lock replaces the failures that caused it: after it, a fresh window starts.
        self.failures.clear()

    def record_resolved(self, registration_id: UUID, at: datetime) -> None:
        """The attempt got an answer that is no failed guess (verified, not allowed, ERP unavailable)."""
        if str(registration_id) in self.pending:
            self._attempt_resolved(registration_id=registration_id, at=at)

    class AttemptResolved(Aggregate.Event):
        registration_id: UUID
        at: datetime

    @event(AttemptResolved)
    def _attempt_resolved(self, registration_id: UUID, at: datetime) -> None:
        self.pending.pop(str(registration_id), None)

    def _prune(self, since: datetime) -> None:
        # Keeps the state (and the snapshots) small; uses the event's own time, so replays prune alike.
        self.pending = {k: t for k, t in self.pending.items() if t > since}
        self.failures = {k: t for k, t in self.failures.items() if t > since}
