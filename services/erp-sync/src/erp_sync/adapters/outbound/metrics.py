"""erp-sync's metrics of the ERP exchange for Prometheus (served on ``/metrics`` with the runtime's own).

* ``kc_erp_sync_failures_total{kind, outcome}``: what went wrong with messages to the ERP — ``retried`` (the ERP
  left a message unanswered and it was sent again), ``dead_lettered`` (given up: a sales order or contact copied
  to its dead-letter topic; a verification abandoned), ``operator_resent`` (an operator sent it again).
  Counted by the operations follower as it meets the events in erp-sync's log (relay role, one active per
  service), so each counts once per process that follows the log; a batch done again after a crash may count
  twice. Alert on the rate of ``dead_lettered``.
* ``kc_erp_sync_pending{kind}``: sales orders and contacts sent to the ERP (the relay published the latest
  message) and not answered yet, from the sync-state projection every few seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from prometheus_client import Counter, Gauge

from erp_sync.domain.model import ContactExchange, SalesOrderExchange
from erp_sync.domain.verification import CustomerVerificationExchange
from kc_runtime.follower import LogFollower, wait_or_stop
from kc_runtime.service import ServiceRuntime

FAILURES = Counter(
    "kc_erp_sync_failures_total",
    "Messages to the ERP that went wrong: retried (unanswered, sent again), dead_lettered (given up), "
    "operator_resent; by kind (sales_order, contact, verification)",
    ["service", "kind", "outcome"],
)
PENDING = Gauge(
    "kc_erp_sync_pending", "Sales orders and contacts sent to the ERP and not answered yet", ["service", "kind"]
)
KINDS = ("sales_order", "contact")
FAILURE_LABELS = (
    *((k, o) for k in KINDS for o in ("retried", "dead_lettered", "operator_resent")),
    ("verification", "retried"),
    ("verification", "dead_lettered"),
)

log = structlog.get_logger("erp_sync.metrics")

_SO, _CX, _CV = SalesOrderExchange, ContactExchange, CustomerVerificationExchange


def failure_of(event: Any) -> tuple[str, str] | None:
    """(kind, outcome) of an event that records a failure of the exchange, None for any other event."""
    if isinstance(event, _SO.Resent | _CX.Resent):  # type: ignore[attr-defined]
        kind = "sales_order" if isinstance(event, _SO.Resent) else "contact"  # type: ignore[attr-defined]
        return kind, "operator_resent" if getattr(event, "by_operator", False) else "retried"
    if isinstance(event, _SO.Failed):  # type: ignore[attr-defined]
        return "sales_order", "dead_lettered"
    if isinstance(event, _CX.Failed):  # type: ignore[attr-defined]
        return "contact", "dead_lettered"
    if isinstance(event, _CV.Rerequested):  # type: ignore[attr-defined]
        return "verification", "retried"
    if isinstance(event, _CV.Abandoned):  # type: ignore[attr-defined]
        return "verification", "dead_lettered"
    return None


def count_failure(service: str, event: Any) -> None:
    failure = failure_of(event)
    if failure is not None:
        FAILURES.labels(service, *failure).inc()


class PendingGauge(LogFollower):
    """Refreshes ``kc_erp_sync_pending`` from ``counts()`` (kind → number) every ``interval_s``; a database
    outage leaves the last figures and logs once. Runs with the relay role (beside the followers, keeping no
    position of its own)."""

    kind = "erp-sync-metrics"

    def __init__(
        self, runtime: ServiceRuntime, counts: Callable[[], Awaitable[dict[str, int]]], interval_s: float
    ) -> None:
        super().__init__(
            service=runtime.settings.service_name,
            app=runtime.app,
            dsn=runtime.settings.database_url.get_secret_value(),
            blocking=runtime.blocking,
        )
        self.counts = counts
        self.interval_s = interval_s
        self._failing = False
        for labels in FAILURE_LABELS:  # shown at 0 from the start, so that rates and alerts have a series
            FAILURES.labels(self.service, *labels)

    async def refresh(self) -> None:
        counts = await self.counts()
        for kind in KINDS:
            PENDING.labels(self.service, kind).set(counts.get(kind, 0))

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                await self.refresh()
                self._failing = False
            except Exception as exc:
                if not self._failing:
                    log.warning("pending-exchange metrics not refreshed", error=repr(exc))
                self._failing = True
            await wait_or_stop(stopping, self.interval_s)
