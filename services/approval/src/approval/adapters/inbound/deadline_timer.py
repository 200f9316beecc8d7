"""The timer of the deadlines of waiting orders (issue 17 item 2; ADR 0033): every ``deadline_interval_s``, on the
replica that leads the service (its outbox relay holds the relay's lock; one at a time), it asks the read model
which pending orders have a deadline step due and has each order take it (``Orders.take_deadline``).

Durable without state of its own: what is due follows from the event log (the read model's waits and the
companies' deadlines, both projected from it), and what was taken is recorded on the order in the same save as its
effect. A crash at any moment — before, during or after a save — leaves either the step taken (the order says so:
it is not taken again) or not taken (the next leader's next round takes it). Two leaders for a moment (a failover)
ask the same order; its version check lets one save win."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

import structlog
from prometheus_client import Counter

from kc_runtime.periodic import Periodic

if TYPE_CHECKING:
    from approval.adapters.outbound.read_model import OrderSummaries
    from approval.application.orders import Orders
    from kc_runtime.eventstore import WorkerPool

DEADLINES_TAKEN = Counter(
    "kc_approval_deadlines_taken", "Deadline steps taken on waiting orders (ADR 0033)", ["kc_service", "step"]
)

log = structlog.get_logger(__name__)


class DeadlineTimer(Periodic):
    name = "deadline timer"

    def __init__(
        self,
        service: str,
        orders: Orders,
        summaries: OrderSummaries,
        blocking: WorkerPool,
        interval_s: float,
        *,
        leads: Callable[[], bool],
        clock: Callable[[], datetime] | None = None,
        batch: int = 200,
    ) -> None:
        super().__init__(interval_s)
        self.service = service
        self.orders = orders
        self.summaries = summaries
        self.blocking = blocking
        self.leads = leads
        self.clock = clock or (lambda: orders.clock())
        self.batch = batch

    async def tick(self) -> dict[str, int]:
        """One round: the steps taken, by name (nothing when this replica does not lead)."""
        taken: dict[str, int] = {}
        if not self.leads():
            return taken
        for order_id in await self.summaries.due_for_deadlines(self.clock(), self.batch):
            step = await self.blocking.run(self.orders.take_deadline, order_id)
            if step is None:
                continue
            taken[step] = taken.get(step, 0) + 1
            DEADLINES_TAKEN.labels(self.service, step).inc()
            log.info("deadline taken", order_id=str(order_id), step=step)
        return taken
