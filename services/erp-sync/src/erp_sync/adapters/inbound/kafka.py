"""Kafka handlers of erp-sync: contract messages in → use cases."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from contracts.approval.v1 import OrderReleased
from contracts.erp.v1 import CustomerVerificationAnswered, SalesOrderRequested
from contracts.registration.v1 import RegistrationCompleted, VerificationRequested
from contracts.topics import APPROVAL_ORDERS, ERP_INBOUND_CUSTOMER_VERIFICATION_RESULTS, REGISTRATION_REGISTRATIONS
from erp_sync.application.exchanges import Exchanges
from erp_sync.application.verifications import Verifications
from kc_runtime.consumer import ConsumerSpec, Inbound


def consumer_specs(exchanges: Exchanges) -> list[ConsumerSpec]:
    def on_order_released(inbound: Inbound) -> list[Any]:
        msg = inbound.message
        assert isinstance(msg, OrderReleased)
        request = SalesOrderRequested(
            idempotency_key=f"sales-order/{msg.order_id}",
            order_id=msg.order_id,
            company_id=msg.company_id,
            buyer_id=msg.buyer_id,
            approved_by=msg.approved_by,
            lines=msg.lines,
            total=msg.total,
            delivery_address=msg.delivery_address,
            billing_address=msg.billing_address,
            payment_method=msg.payment_method,
            shipping_method=msg.shipping_method,
            buyer_comment=msg.buyer_comment,
            reference=msg.reference,
            requested_at=datetime.now(UTC),
        )
        return exchanges.request_sales_order(
            msg.order_id, msg.company_id, request.model_dump(mode="json"), request.requested_at
        )

    # Each release creates its own exchange record: safe to apply a partition's batch in one transaction.
    return [ConsumerSpec(topic=APPROVAL_ORDERS, handlers={OrderReleased: on_order_released}, batch=True)]


def verification_consumer_specs(verifications: Verifications) -> list[ConsumerSpec]:
    """Registration's questions for the ERP, the ERP's answers, and completed registrations to activate."""

    def on_verification_requested(inbound: Inbound) -> list[Any]:
        msg = inbound.message
        assert isinstance(msg, VerificationRequested)
        return verifications.request(msg.registration_id, msg.customer_number, msg.invoice_number)

    def on_registration_completed(inbound: Inbound) -> list[Any]:
        msg = inbound.message
        assert isinstance(msg, RegistrationCompleted)
        return verifications.activate(
            company_id=msg.company_id,
            customer_number=msg.company.customer_number,
            registration_id=msg.registration_id,
            main_contact=msg.main_contact.model_dump(mode="json"),
            activated_at=msg.completed_at,
        )

    def on_verification_answered(inbound: Inbound) -> list[Any]:
        msg = inbound.message
        assert isinstance(msg, CustomerVerificationAnswered)
        return verifications.answer(
            msg.verification_id,
            msg.outcome,
            customer=msg.customer.model_dump(mode="json") if msg.customer else None,
            contacts=[c.model_dump(mode="json") for c in msg.contacts],
            answered_at=msg.answered_at,
        )

    return [
        ConsumerSpec(
            topic=REGISTRATION_REGISTRATIONS,
            handlers={
                VerificationRequested: on_verification_requested,
                RegistrationCompleted: on_registration_completed,
            },
        ),
        ConsumerSpec(
            topic=ERP_INBOUND_CUSTOMER_VERIFICATION_RESULTS,
            handlers={CustomerVerificationAnswered: on_verification_answered},
        ),
    ]
