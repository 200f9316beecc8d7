"""Exchanges with the ERP for registrations: customer verifications (request/reply, retried while unanswered)
and customer-center activations (fire and forget, once per customer)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, get_args
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from erp_sync.domain.model import Delivery, DeliveryStatus

_NS = uuid5(NAMESPACE_URL, "urn:kundencenter:erp-sync")

Outcome = Literal["verified", "unknown_customer", "invoice_mismatch", "not_allowed"]
"""The ERP's answer to a verification (the contract's outcomes)."""
OUTCOMES = frozenset(get_args(Outcome))


class CustomerVerificationExchange(Delivery, Aggregate):
    """The ERP's verification of one registration attempt. One per attempt: its id derives from it.

    A :class:`Delivery` of the question: asked again (``Rerequested``) with the policy's backoff while the ERP stays
    silent, abandoned (``Abandoned``) after the policy's window, acknowledged by the ERP's answer (``Answered``).
    There is no operator's retry: an abandoned verification has told registration ``erp_unavailable``, and the
    applicant registers again."""

    @staticmethod
    def create_id(registration_id: UUID) -> UUID:
        return uuid5(_NS, f"customer-verification/{registration_id}")

    class Requested(Aggregate.Created):
        registration_id: UUID
        customer_number: str
        invoice_number: str
        requested_at: datetime
        next_attempt_at: datetime | None = None
        """Written by the first version (when it was due again); read by nobody since the delivery decides from
        ``requested_at`` and the policy. Kept so that the events stored with it load."""

    @event(Requested)
    def __init__(
        self,
        registration_id: UUID,
        customer_number: str,
        invoice_number: str,
        requested_at: datetime,
        next_attempt_at: datetime | None = None,
    ) -> None:
        self.registration_id = registration_id
        self.customer_number = customer_number
        self.invoice_number = invoice_number
        self.requested_at = requested_at
        self._deliver_from(requested_at)
        self.outcome: Outcome | None = None
        self.answered_at: datetime | None = None

    @property
    def idempotency_key(self) -> str:
        return f"customer-verification/{self.registration_id}"

    # ---- the ERP's silence ----------------------------------------------------------------------------------

    def retry(self, now: datetime) -> bool:
        """No operator's retry for a verification: once abandoned, registration was told ``erp_unavailable``."""
        return False

    def _send_again(self, attempt: int, at: datetime, by_operator: bool) -> None:
        self._rerequested(
            registration_id=self.registration_id,
            customer_number=self.customer_number,
            invoice_number=self.invoice_number,
            attempt=attempt,
            at=at,
        )

    def _give_up(self, at: datetime) -> None:
        self._abandoned(
            registration_id=self.registration_id, customer_number=self.customer_number, attempts=self.attempts, at=at
        )

    class Rerequested(Aggregate.Event):
        registration_id: UUID
        customer_number: str
        invoice_number: str
        attempt: int
        at: datetime
        next_attempt_at: datetime | None = None
        """As ``Requested.next_attempt_at``: the first version's, read by nobody, kept so that stored events load."""

    @event(Rerequested)
    def _rerequested(
        self,
        registration_id: UUID,
        customer_number: str,
        invoice_number: str,
        attempt: int,
        at: datetime,
        next_attempt_at: datetime | None = None,
    ) -> None:
        self._sent_again(attempt, at, by_operator=False)

    class Abandoned(Aggregate.Event):
        registration_id: UUID
        customer_number: str
        attempts: int
        at: datetime

    @event(Abandoned)
    def _abandoned(self, registration_id: UUID, customer_number: str, attempts: int, at: datetime) -> None:
        self._gave_up(at)

    # ---- the ERP's answer -----------------------------------------------------------------------------------

    def answer(
        self, outcome: Outcome, customer: dict[str, Any] | None, contacts: list[dict[str, Any]], answered_at: datetime
    ) -> None:
        """The ERP's answer; only the first counts (later copies answer the same question again), and none after
        the verification was abandoned."""
        if self.status is not DeliveryStatus.REQUESTED:
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
        outcome: Outcome
        customer: dict[str, Any] | None
        """The ERP's master data of the customer: present when ``outcome`` is ``verified`` (:meth:`answer`)."""
        contacts: list[dict[str, Any]]
        answered_at: datetime

    @event(Answered)
    def _answered(
        self,
        registration_id: UUID,
        customer_number: str,
        outcome: Outcome,
        customer: dict[str, Any] | None,
        contacts: list[dict[str, Any]],
        answered_at: datetime,
    ) -> None:
        self.status = DeliveryStatus.ACKNOWLEDGED
        self.outcome = outcome
        self.answered_at = answered_at


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
