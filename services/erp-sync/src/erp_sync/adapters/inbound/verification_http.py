"""Operator view of verifications and activations (internal port; not routed through the public gateway)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel

from erp_sync.application.exchanges import ExchangeNotFound
from erp_sync.application.verifications import Verifications
from erp_sync.domain.model import DeliveryStatus
from kc_runtime.eventstore import WorkerPool

STATUS = {
    DeliveryStatus.REQUESTED: "requested",
    DeliveryStatus.ACKNOWLEDGED: "answered",
    DeliveryStatus.FAILED: "abandoned",
}
"""A verification's words for the states of its delivery: answered by the ERP, abandoned after its silence."""


class VerificationOut(BaseModel):
    registration_id: UUID
    customer_number: str
    status: str
    outcome: str | None
    attempts: int
    idempotency_key: str
    requested_at: datetime
    next_attempt_at: datetime | None
    answered_at: datetime | None
    version: int


class ActivationOut(BaseModel):
    company_id: UUID
    customer_number: str
    registration_id: UUID
    idempotency_key: str
    activated_at: datetime
    version: int


def verification_ops_router(verifications: Verifications, blocking: WorkerPool) -> APIRouter:
    router = APIRouter(prefix="/ops", tags=["operations"])

    @router.get(
        "/customer-verifications/{registration_id}",
        response_model=VerificationOut,
        summary="Exchange state of one registration's verification",
    )
    async def verification(registration_id: UUID) -> VerificationOut:
        x = await blocking.run(verifications.verification, registration_id)
        return VerificationOut(
            registration_id=x.registration_id,
            customer_number=x.customer_number,
            status=STATUS[x.status],
            outcome=x.outcome,
            attempts=x.attempts,
            idempotency_key=x.idempotency_key,
            requested_at=x.requested_at,
            next_attempt_at=verifications.due_at(x),
            answered_at=x.answered_at,
            version=x.version,
        )

    @router.get(
        "/customer-center-activations/{company_id}",
        response_model=ActivationOut,
        summary="Whether the ERP was told that this company's customer center is active",
    )
    async def activation(company_id: UUID) -> ActivationOut:
        x = await blocking.run(verifications.activation, company_id)
        if x is None:
            raise ExchangeNotFound("No activation for this company.")
        return ActivationOut(
            company_id=x.company_id,
            customer_number=x.customer_number,
            registration_id=x.registration_id,
            idempotency_key=x.idempotency_key,
            activated_at=x.activated_at,
            version=x.version,
        )

    return router
