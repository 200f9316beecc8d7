"""erp-sync's domain events → the ERP-facing contract."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from contracts.erp.v1 import SalesOrderRequested
from contracts.topics import ERP_OUTBOUND_SALES_ORDERS
from erp_sync.adapters.outbound.verification_translator import translate_verification
from erp_sync.domain.model import SalesOrderExchange
from kc_runtime.relay import Outgoing


def translate(event: Any) -> Sequence[Outgoing]:
    if isinstance(event, SalesOrderExchange.Requested):  # type: ignore[attr-defined]  # event class made by @event
        return [
            Outgoing(
                topic=ERP_OUTBOUND_SALES_ORDERS,
                key=str(event.order_id),
                message=SalesOrderRequested.model_validate(event.request),
            )
        ]
    return translate_verification(event)
