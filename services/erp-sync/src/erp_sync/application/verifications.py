"""Use cases of erp-sync for registrations: verify customers with the ERP (retrying while it is silent) and tell
it about activated customer centers. They work on the service's one event store (the ``Exchanges`` app)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from erp_sync.application.deliveries import resend_if_due
from erp_sync.application.exchanges import ExchangeNotFound, Exchanges
from erp_sync.domain.model import RetryPolicy
from erp_sync.domain.verification import CustomerCenterActivation, CustomerVerificationExchange, Outcome


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
        return [
            CustomerVerificationExchange(
                registration_id=registration_id,
                customer_number=customer_number,
                invoice_number=invoice_number,
                requested_at=self.clock(),
            )
        ]

    def answer(
        self,
        registration_id: UUID,
        outcome: Outcome,
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

    def resend_if_due(self, exchange_id: UUID) -> bool:
        """Ask again (or give up) if the question of exchange ``exchange_id`` (as the retry schedule's due
        projection names it) is due; False if nothing was due or another process won. There is no operator's retry."""
        exchange = self.exchanges.find(exchange_id, CustomerVerificationExchange)
        if exchange is None:
            return False
        return resend_if_due(self.exchanges, exchange, self.clock(), self.policy)

    def due_at(self, exchange: CustomerVerificationExchange) -> datetime | None:
        """When the question is asked again (None: answered or abandoned)."""
        return exchange.due_at(self.policy)

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
