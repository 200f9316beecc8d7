"""erp-sync's metrics of the ERP exchange for Prometheus (served on ``/metrics`` with the runtime's own).

* ``kc_erp_sync_failures_total{kind, outcome}``: what went wrong with messages to the ERP — ``retried`` (the ERP
  left a message unanswered and it was sent again), ``dead_lettered`` (given up: a sales order or contact copied
  to its dead-letter topic; a verification abandoned), ``operator_resent`` (an operator sent it again).
  Counted by the operations follower as it meets the events in erp-sync's log (relay role, one active per
  service), so each counts once per process that follows the log; a batch done again after a crash may count
  twice. Alert on the rate of ``dead_lettered``.
* ``kc_erp_sync_pending{kind}``: sales orders and contacts sent to the ERP (the relay published the latest
  message) and not answered yet, from the sync-state projection every few seconds — by the replica that leads the
  service only (its relay is active, ``kc_relay_active``); the others withdraw the series, so sums count once.
* ``kc_erp_sync_prices_total{change}``: changes of the price mirror handed on to approval — ``changed`` (a new
  price or state of an article), ``unlisted`` (the article left the assortment: the ERP said so, or a full resend
  did not carry it). Counted like the failures, from the log.
* ``kc_erp_sync_price_list_requests_total{reason, outcome}``: full resends asked of the ERP (``reason``
  registration or operator; ``outcome`` requested, answered).
* ``kc_erp_sync_price_delay_seconds``: from the ERP's ``changed_at`` of a price change (outside a resend) to
  erp-sync recording it — how far erp-sync's side of the price mirror lags the ERP (the ERP's clock against ours).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from erp_sync.domain.model import ContactExchange, SalesOrderExchange
from erp_sync.domain.prices import CustomerPrice, PriceListRequest
from erp_sync.domain.verification import CustomerVerificationExchange
from kc_runtime.metrics import withdraw
from kc_runtime.periodic import Periodic

FAILURES = Counter(
    "kc_erp_sync_failures_total",
    "Messages to the ERP that went wrong: retried (unanswered, sent again), dead_lettered (given up), "
    "operator_resent; by kind (sales_order, contact, verification)",
    ["kc_service", "kind", "outcome"],
)
PENDING = Gauge(
    "kc_erp_sync_pending", "Sales orders and contacts sent to the ERP and not answered yet", ["kc_service", "kind"]
)
KINDS = ("sales_order", "contact")
PRICES = Counter(
    "kc_erp_sync_prices_total",
    "Changes of the price mirror handed on to approval: changed, unlisted (left the customer's assortment)",
    ["kc_service", "change"],
)
PRICE_LIST_REQUESTS = Counter(
    "kc_erp_sync_price_list_requests_total",
    "Full resends of a customer's prices asked of the ERP, by reason (registration, operator) and outcome "
    "(requested, answered)",
    ["kc_service", "reason", "outcome"],
)
PRICE_DELAY = Histogram(
    "kc_erp_sync_price_delay_seconds",
    "From the ERP's changed_at of a price change (outside a full resend) to erp-sync recording it",
    ["kc_service"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
)
FAILURE_LABELS = (
    *((k, o) for k in KINDS for o in ("retried", "dead_lettered", "operator_resent")),
    ("verification", "retried"),
    ("verification", "dead_lettered"),
)

_SO, _CX, _CV = SalesOrderExchange, ContactExchange, CustomerVerificationExchange


def failure_of(event: Any) -> tuple[str, str] | None:
    """(kind, outcome) of an event that records a failure of the exchange, None for any other event."""
    if isinstance(event, _SO.Resent | _CX.Resent):
        kind = "sales_order" if isinstance(event, _SO.Resent) else "contact"
        return kind, "operator_resent" if event.by_operator else "retried"
    if isinstance(event, _SO.Failed):
        return "sales_order", "dead_lettered"
    if isinstance(event, _CX.Failed):
        return "contact", "dead_lettered"
    if isinstance(event, _CV.Rerequested):
        return "verification", "retried"
    if isinstance(event, _CV.Abandoned):
        return "verification", "dead_lettered"
    return None


def count_failure(service: str, event: Any) -> None:
    failure = failure_of(event)
    if failure is not None:
        FAILURES.labels(service, *failure).inc()
    count_price(service, event)


def count_price(service: str, event: Any) -> None:
    """The price metrics of an event of erp-sync's log (nothing for other events)."""
    if isinstance(event, CustomerPrice.Changed):
        PRICES.labels(service, "changed" if event.state.get("listed", True) else "unlisted").inc()
        if event.resend_id is None:
            PRICE_DELAY.labels(service).observe(max(0.0, (event.timestamp - event.changed_at).total_seconds()))
    elif isinstance(event, PriceListRequest.Requested):
        PRICE_LIST_REQUESTS.labels(service, event.reason, "requested").inc()
    elif isinstance(event, PriceListRequest.Answered):
        PRICE_LIST_REQUESTS.labels(service, getattr(event, "reason", "") or "unknown", "answered").inc()


class PendingGauge(Periodic):
    """Refreshes ``kc_erp_sync_pending`` from ``counts()`` (kind → number) every ``interval_s`` while this replica
    leads the service (``leads()``: its relay is active) and withdraws the series while it does not; a database
    outage leaves the last figures and logs once (:class:`~kc_runtime.periodic.Periodic`)."""

    name = "erp-sync pending gauge"

    def __init__(
        self,
        service: str,
        counts: Callable[[], Awaitable[dict[str, int]]],
        interval_s: float,
        *,
        leads: Callable[[], bool],
    ) -> None:
        super().__init__(interval_s)
        self.service = service
        self.counts = counts
        self.leads = leads
        for labels in FAILURE_LABELS:  # shown at 0 from the start, so that rates and alerts have a series
            FAILURES.labels(service, *labels)
        for change in ("changed", "unlisted"):
            PRICES.labels(service, change)
        for reason in ("registration", "operator"):
            for outcome in ("requested", "answered"):
                PRICE_LIST_REQUESTS.labels(service, reason, outcome)

    async def refresh(self) -> None:
        counts = await self.counts()
        for kind in KINDS:
            PENDING.labels(self.service, kind).set(counts.get(kind, 0))

    async def tick(self) -> None:
        """Refresh the gauge if this replica leads the service; withdraw it otherwise."""
        if self.leads():
            await self.refresh()
        else:
            withdraw(self.service, PENDING)
