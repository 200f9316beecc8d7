"""Deliveries to the ERP that wait for its answer: sent again with backoff while it stays silent, failed (and
dead-lettered) when it stays silent for too long, retried by an operator afterwards."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from erp_sync.application.exchanges import Exchanges
from erp_sync.domain.model import ContactExchange, RetryPolicy, SalesOrderExchange
from erp_sync.domain.verification import CustomerVerificationExchange

Exchange = SalesOrderExchange | ContactExchange


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Deliveries:
    def __init__(
        self, exchanges: Exchanges, policy: RetryPolicy | None = None, clock: Callable[[], datetime] = _utcnow
    ) -> None:
        self.exchanges = exchanges
        self.policy = policy or RetryPolicy(initial_s=300.0, max_s=3600.0, give_up_after_s=72 * 3600.0)
        self.clock = clock

    def resend_if_due(self, exchange_id: UUID) -> bool:
        """Send again (or give up) if the answer is overdue; False if nothing was due or another process won."""
        exchange = self.exchanges.find(exchange_id)
        if not isinstance(exchange, SalesOrderExchange | ContactExchange):
            return False
        return resend_if_due(self.exchanges, exchange, self.clock(), self.policy)

    def for_key(self, idempotency_key: str) -> Exchange | None:
        """The exchange an outbound message's idempotency key belongs to (sales orders and contacts)."""
        kind, _, rest = idempotency_key.partition("/")
        try:
            if kind == "sales-order":
                return self.exchanges.find_sales_order(UUID(rest))
            if kind == "contact":
                found = self.exchanges.find(ContactExchange.create_id(UUID(rest.partition("/")[0])))
                return found if isinstance(found, ContactExchange) else None
        except ValueError:
            return None
        return None


def resend_if_due(
    exchanges: Exchanges, delivery: Exchange | CustomerVerificationExchange, now: datetime, policy: RetryPolicy
) -> bool:
    """Have ``delivery`` send its message again (or give up) if its answer is overdue, and save it; False if
    nothing was due or another process won."""
    before = delivery.version
    delivery.resend_if_due(now, policy)
    if delivery.version == before:
        return False
    try:
        exchanges.save(delivery)
    except IntegrityError:
        return False  # answered concurrently; the due projection follows the answer
    return True
