"""What operators see of a delivery (GET /ops/sales-orders/…, /ops/contacts/…): ``sent`` once the relay passed the
latest message, the aggregate's status otherwise; and a price-list request's reason reaches the ERP only when it
is one the contract knows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from erp_sync.adapters.outbound.read_model import sync_status
from erp_sync.adapters.outbound.translator import translate
from erp_sync.domain.model import DeliveryStatus
from erp_sync.domain.prices import PriceListRequest

ROW = {"status": "requested", "notification_id": 7}


def test_a_requested_message_the_relay_passed_is_sent():
    assert sync_status(ROW, 7, DeliveryStatus.REQUESTED) == "sent"


def test_a_requested_message_the_relay_has_not_reached_is_requested():
    assert sync_status(ROW, 6, DeliveryStatus.REQUESTED) == "requested"
    assert sync_status(None, 100, DeliveryStatus.REQUESTED) == "requested"


@pytest.mark.parametrize("status", [DeliveryStatus.ACKNOWLEDGED, DeliveryStatus.FAILED])
def test_an_answered_or_failed_delivery_shows_its_status_whatever_the_relay_did(status: DeliveryStatus):
    shown = sync_status(ROW, 7, status)
    assert shown == status.value and type(shown) is str


def request(reason: str) -> PriceListRequest:
    at = datetime(2026, 12, 7, tzinfo=UTC)
    return PriceListRequest(idempotency_key="k", customer_number="10001", reason=reason, requested_at=at)


def test_a_price_list_request_tells_the_erp_its_reason():
    (asked,) = translate(request("registration").collect_events()[0])
    assert asked.message.reason == "registration"


def test_a_price_list_request_with_a_reason_the_contract_does_not_know_is_not_translated():
    with pytest.raises(ValueError):
        translate(request("curiosity").collect_events()[0])
