"""Use cases of erp-sync for registrations: verify customers with the ERP (retrying while it is silent) and tell
it about activated customer centers. They work on the service's one event store (the ``Exchanges`` app)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

from erp_sync.application.exchanges import DueView, ExchangeNotFound, Exchanges
from erp_sync.domain.verification import CustomerCenterActivation, CustomerVerificationExchange, RetryPolicy


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Verifications:
    def __init__(
        self,
        exchanges: Exchanges,
        policy: RetryPolicy | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.exchanges = exchanges
        self.policy = policy or RetryPolicy()
        self.clock = clock

    # ---- consumer handlers (return what to save with the tracking record) ------------------------------

    def request(self, registration_id: UUID, customer_number: str, invoice_number: str) -> list[Any]:
        """Ask the ERP to verify a registration attempt; nothing if asked already (idempotent)."""
        if self.find(registration_id) is not None:
            return []
        now = self.clock()
        return [
            CustomerVerificationExchange(
                registration_id=registration_id,
                customer_number=customer_number,
                invoice_number=invoice_number,
                requested_at=now,
                next_attempt_at=now + self.policy.delay(1),
            )
        ]

    def answer(
        self,
        registration_id: UUID,
        outcome: str,
        customer: dict[str, Any] | None,
        contacts: list[dict[str, Any]],
        answered_at: datetime,
    ) -> list[Any]:
        """The ERP answered; an answer to an unknown or answered question changes nothing."""
        exchange = self.find(registration_id)
        if exchange is None:
            return []
        exchange.answer(outcome, customer, contacts, answered_at)
        return [exchange]

    def activate(
        self,
        company_id: UUID,
        customer_number: str,
        registration_id: UUID,
        main_contact: dict[str, str],
        activated_at: datetime,
    ) -> list[Any]:
        """Tell the ERP that the customer center of this customer is active; once per company."""
        if self.activation(company_id) is not None:
            return []
        return [
            CustomerCenterActivation(
                company_id=company_id,
                customer_number=customer_number,
                registration_id=registration_id,
                main_contact=main_contact,
                activated_at=activated_at,
            )
        ]

    # ---- the retry schedule -----------------------------------------------------------------------------

    def retry(self, registration_id: UUID) -> bool:
        """Ask again (or give up) if the question is due; False if nothing was due or another process won."""
        exchange = self.find(registration_id)
        if exchange is None:
            return False
        before = exchange.version
        exchange.retry(self.clock(), self.policy)
        if exchange.version == before:
            return False
        try:
            self.exchanges.save(exchange)
        except IntegrityError:
            return False  # answered or retried concurrently; the schedule sees it on its next refresh
        return True

    # ---- queries ----------------------------------------------------------------------------------------

    def find(self, registration_id: UUID) -> CustomerVerificationExchange | None:
        return self.exchanges.find(
            CustomerVerificationExchange.create_id(registration_id), CustomerVerificationExchange
        )

    def verification(self, registration_id: UUID) -> CustomerVerificationExchange:
        found = self.find(registration_id)
        if found is None:
            raise ExchangeNotFound("No verification for this registration.")
        return found

    def activation(self, company_id: UUID) -> CustomerCenterActivation | None:
        try:
            return self.exchanges.repository.get(CustomerCenterActivation.create_id(company_id))
        except AggregateNotFoundError:
            return None


class PendingVerifications(DueView):
    """Which verifications wait for the ERP, and when each is due again."""

    TOPICS = tuple(
        get_topic(cls)
        for cls in (
            CustomerVerificationExchange.Requested,
            CustomerVerificationExchange.Rerequested,
            CustomerVerificationExchange.Answered,
            CustomerVerificationExchange.Abandoned,
        )
    )

    def _apply(self, e: Any) -> None:
        registration_id = UUID(str(e.registration_id))
        if isinstance(e, CustomerVerificationExchange.Requested | CustomerVerificationExchange.Rerequested):
            self.due[registration_id] = e.next_attempt_at
        else:
            self.due.pop(registration_id, None)

    def due_now(self, now: datetime) -> list[UUID]:
        return [rid for rid, at in sorted(self.due.items(), key=lambda kv: kv[1]) if at <= now]
