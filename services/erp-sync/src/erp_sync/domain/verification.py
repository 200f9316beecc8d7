"""Exchanges with the ERP for registrations: customer verifications (request/reply, retried while unanswered)
and customer-center activations (fire and forget, once per customer)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

_NS = uuid5(NAMESPACE_URL, "urn:kundencenter:erp-sync")

OUTCOMES = frozenset({"verified", "unknown_customer", "invoice_mismatch", "not_allowed"})


class VerificationStatus(StrEnum):
    REQUESTED = "requested"
    ANSWERED = "answered"
    ABANDONED = "abandoned"


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff of the questions the ERP leaves unanswered: ``initial_s``, doubling up to ``max_s``; after
    ``give_up_after_s`` the verification is abandoned (the registration is told the ERP was unavailable)."""

    initial_s: float = 5.0
    max_s: float = 300.0
    give_up_after_s: float = 24 * 3600.0

    def delay(self, attempt: int) -> timedelta:
        """The wait after the ``attempt``-th question."""
        return timedelta(seconds=min(self.initial_s * 2 ** max(0, attempt - 1), self.max_s))


class CustomerVerificationExchange(Aggregate):
    """The ERP's verification of one registration attempt. One per attempt: its id derives from it."""

    @staticmethod
    def create_id(registration_id: UUID) -> UUID:
        return uuid5(_NS, f"customer-verification/{registration_id}")

    class Requested(Aggregate.Created):
        registration_id: UUID
        customer_number: str
        invoice_number: str
        requested_at: datetime
        next_attempt_at: datetime

    @event(Requested)
    def __init__(
        self,
        registration_id: UUID,
        customer_number: str,
        invoice_number: str,
        requested_at: datetime,
        next_attempt_at: datetime,
    ) -> None:
        self.registration_id = registration_id
        self.customer_number = customer_number
        self.invoice_number = invoice_number
        self.requested_at = requested_at
        self.next_attempt_at: datetime | None = next_attempt_at
        self.attempts = 1
        self.status = VerificationStatus.REQUESTED
        self.outcome: str | None = None
        self.answered_at: datetime | None = None

    @property
    def idempotency_key(self) -> str:
        return f"customer-verification/{self.registration_id}"

    def is_due(self, now: datetime) -> bool:
        return (
            self.status == VerificationStatus.REQUESTED
            and self.next_attempt_at is not None
            and now >= self.next_attempt_at
        )

    def retry(self, now: datetime, policy: RetryPolicy) -> None:
        """Ask again (same idempotency key), or give up when the ERP stayed silent for too long."""
        if not self.is_due(now):
            return
        if now - self.requested_at >= timedelta(seconds=policy.give_up_after_s):
            self._abandoned(
                registration_id=self.registration_id,
                customer_number=self.customer_number,
                attempts=self.attempts,
                at=now,
            )
            return
        attempt = self.attempts + 1
        self._rerequested(
            registration_id=self.registration_id,
            customer_number=self.customer_number,
            invoice_number=self.invoice_number,
            attempt=attempt,
            at=now,
            next_attempt_at=now + policy.delay(attempt),
        )

    class Rerequested(Aggregate.Event):
        registration_id: UUID
        customer_number: str
        invoice_number: str
        attempt: int
        at: datetime
        next_attempt_at: datetime

    @event(Rerequested)
    def _rerequested(
        self,
        registration_id: UUID,
        customer_number: str,
        invoice_number: str,
        attempt: int,
        at: datetime,
        next_attempt_at: datetime,
    ) -> None:
        self.attempts = attempt
        self.next_attempt_at = next_attempt_at

    class Abandoned(Aggregate.Event):
        registration_id: UUID
        customer_number: str
        attempts: int
        at: datetime

    @event(Abandoned)
    def _abandoned(self, registration_id: UUID, customer_number: str, attempts: int, at: datetime) -> None:
        self.status = VerificationStatus.ABANDONED
        self.next_attempt_at = None

    def answer(
        self, outcome: str, customer: dict[str, Any] | None, contacts: list[dict[str, Any]], answered_at: datetime
    ) -> None:
        """The ERP's answer; only the first counts (later copies answer the same question again)."""
        if self.status != VerificationStatus.REQUESTED:
            return
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown verification outcome {outcome!r}")
        if outcome == "verified" and customer is None:
            raise ValueError("a verified customer comes with its master data")
        self._answered(
            registration_id=self.registration_id,
            customer_number=self.customer_number,
            outcome=outcome,
            customer=customer if outcome == "verified" else None,
            contacts=contacts if outcome == "verified" else [],
            answered_at=answered_at,
        )

    class Answered(Aggregate.Event):
        registration_id: UUID
        customer_number: str
        outcome: str
        customer: dict[str, Any] | None
        contacts: list[dict[str, Any]]
        answered_at: datetime

    @event(Answered)
    def _answered(
        self,
        registration_id: UUID,
        customer_number: str,
        outcome: str,
        customer: dict[str, Any] | None,
        contacts: list[dict[str, Any]],
        answered_at: datetime,
    ) -> None:
        self.status = VerificationStatus.ANSWERED
        self.outcome = outcome
        self.answered_at = answered_at
        self.next_attempt_at = None


class CustomerCenterActivation(Aggregate):
    """Telling the ERP that a customer's customer center is active. One per company."""

    @staticmethod
    def create_id(company_id: UUID) -> UUID:
        return uuid5(_NS, f"customer-center-activation/{company_id}")

    class Requested(Aggregate.Created):
        company_id: UUID
        customer_number: str
        registration_id: UUID
        main_contact: dict[str, str]
        activated_at: datetime

    @event(Requested)
    def __init__(
        self,
        company_id: UUID,
        customer_number: str,
        registration_id: UUID,
        main_contact: dict[str, str],
        activated_at: datetime,
    ) -> None:
        self.company_id = company_id
        self.customer_number = customer_number
        self.registration_id = registration_id
        self.main_contact = main_contact
        self.activated_at = activated_at

    @property
    def idempotency_key(self) -> str:
        return f"customer-center-activation/{self.customer_number}"
