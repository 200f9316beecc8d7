"""Operator API of erp-sync under ``/ops/`` (its own port; not routed through the public gateway).

Every route needs ``Authorization: Bearer <ERP_SYNC_OPS_TOKEN>`` (see :mod:`kc_runtime.ops`), the reads too: they
hold contacts' names and e-mail addresses. Commands are stored as operator runs and
carried out by the operations follower: they answer 202 with the run, which ``GET /ops/runs/{id}`` follows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from erp_sync.adapters.outbound.dead_letters import dead_letter_scope, is_ours
from erp_sync.adapters.outbound.read_model import ExchangeStates, SyncStatus, sync_status
from erp_sync.application.contacts import Contacts
from erp_sync.application.customers import Customers
from erp_sync.application.exchanges import ExchangeNotFound, Exchanges
from erp_sync.application.operations import OperatorRuns
from erp_sync.domain.model import ContactExchange, SalesOrderExchange
from erp_sync.domain.operations import OperatorRun, RunKind
from erp_sync.settings import ErpSyncSettings
from kc_runtime.dead_letters import read_dead_letters
from kc_runtime.errors import ApiError
from kc_runtime.eventstore import WorkerPool
from kc_runtime.kafka import client_options
from kc_runtime.ops import operator_dependency


class SalesOrderExchangeOut(BaseModel):
    order_id: UUID
    company_id: UUID
    customer_number: str | None
    status: SyncStatus = Field(description="requested, sent (the relay published it), acknowledged, failed")
    outcome: Literal["confirmed", "rejected"] | None = Field(description="The ERP's answer, once acknowledged")
    erp_order_number: str | None
    rejection_reason: str | None
    attempts: int = Field(description="Copies sent (1: the first only)")
    version: int
    idempotency_key: str
    requested_at: datetime
    last_attempt_at: datetime
    answered_at: datetime | None
    failed_at: datetime | None
    request: dict[str, Any]


class ContactExchangeOut(BaseModel):
    user_id: UUID
    company_id: UUID
    customer_number: str | None
    erp_contact_id: str | None = Field(description="The ERP's id of the contact person, once it named it")
    status: SyncStatus = Field(description="Delivery of the latest message: requested, sent, acknowledged, failed")
    message: Literal["created", "changed", "deactivated", "erasure_requested"] = Field(
        description="What the latest message says"
    )
    sequence: int
    idempotency_key: str
    attempts: int
    email: str
    first_name: str
    last_name: str
    language: str
    active: bool
    is_main_contact: bool
    message_at: datetime
    acknowledged_at: datetime | None
    failed_at: datetime | None
    version: int
    erased: bool = Field(
        default=False, description="users erased the person (ADR 0035): names and e-mail are empty from then on"
    )
    erp_erased_at: datetime | None = Field(default=None, description="When the ERP answered that it erased them")


class ExchangeRowOut(BaseModel):
    kind: Literal["sales_order", "contact"]
    subject_id: UUID = Field(description="The order id or the user id")
    company_id: UUID
    customer_number: str | None
    status: SyncStatus
    outcome: str | None
    erp_reference: str | None = Field(description="The ERP's order number or contact id")
    detail: str | None
    idempotency_key: str
    attempts: int
    requested_at: datetime
    updated_at: datetime


class ExchangePageOut(BaseModel):
    items: list[ExchangeRowOut]
    total: int
    limit: int
    offset: int


class CustomerOut(BaseModel):
    customer_number: str
    company_id: UUID | None = Field(description="The registered company (null: not registered)")
    customer_center_allowed: bool
    master_data: dict[str, Any] | None
    master_data_changed_at: datetime | None
    erp_contacts: list[dict[str, Any]]
    credit: dict[str, Any] | None = Field(
        default=None, description="The ERP's credit figures as last applied (ADR 0026; null: never sent)"
    )
    credit_as_of: datetime | None = None
    version: int


class InvoiceOut(BaseModel):
    customer_number: str
    invoice_number: str
    invoice_date: str
    total: dict[str, str] | None
    issued_at: datetime


class DeadLetterOut(BaseModel):
    topic: str
    partition: int
    offset: int
    original_topic: str
    reason: str | None
    error: str | None
    consumer_group: str | None
    event_type: str | None
    key: str | None
    idempotency_key: str | None
    timestamp_ms: int


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: AwareDatetime = Field(description="Republish the ERP-facing messages stored at or after this instant")
    company_id: UUID | None = Field(default=None, description="Only this company's messages")


class DeadLetterRetryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topics: list[str] | None = Field(
        default=None, description="Dead-letter topics to retry (default: every one erp-sync retries)", max_length=50
    )


class RunOut(BaseModel):
    id: UUID
    kind: Literal["replay", "dead-letter-retry"]
    parameters: dict[str, Any]
    status: Literal["requested", "completed", "failed"]
    requested_at: datetime
    finished_at: datetime | None
    result: dict[str, Any]
    error: str | None
    version: int


def _run_out(run: OperatorRun) -> RunOut:
    return RunOut(
        id=run.id, kind=run.kind.value, parameters=run.parameters, status=run.status.value,
        requested_at=run.requested_at, finished_at=run.finished_at, result=run.result, error=run.error,
        version=run.version,
    )  # fmt: skip


def ops_token_dependency(settings: ErpSyncSettings) -> Any:
    return operator_dependency(settings)


def ops_router(
    exchanges: Exchanges,
    blocking: WorkerPool,
    *,
    states: ExchangeStates | None = None,
    settings: ErpSyncSettings | None = None,
) -> APIRouter:
    settings = settings or ErpSyncSettings()
    contacts, customers, runs = Contacts(exchanges), Customers(exchanges), OperatorRuns(exchanges)
    operator = Depends(ops_token_dependency(settings))
    # Every route needs the token: the views hold contacts' names and addresses.
    router = APIRouter(prefix="/ops", tags=["operations"], dependencies=[operator])

    async def row_and_relay(exchange_id: UUID) -> tuple[dict[str, Any] | None, int]:
        return await states.row(exchange_id) if states is not None else (None, 0)

    @router.get("/sales-orders/{order_id}", response_model=SalesOrderExchangeOut, summary="Sync state of one order")
    async def sales_order(order_id: UUID) -> SalesOrderExchangeOut:
        x = await blocking.run(exchanges.sales_order, order_id)
        row, relay = await row_and_relay(SalesOrderExchange.create_id(order_id))
        return SalesOrderExchangeOut(
            order_id=x.order_id, company_id=x.company_id, customer_number=x.customer_number,
            status=sync_status(row, relay, x.status), outcome=x.outcome, erp_order_number=x.erp_order_number,
            rejection_reason=x.rejection_reason, attempts=x.attempts, version=x.version,
            idempotency_key=x.idempotency_key, requested_at=x.requested_at, last_attempt_at=x.last_attempt_at,
            answered_at=x.answered_at, failed_at=x.failed_at, request=x.request,
        )  # fmt: skip

    @router.get("/contacts/{user_id}", response_model=ContactExchangeOut, summary="Sync state of one contact person")
    async def contact(user_id: UUID) -> ContactExchangeOut:
        x = await blocking.run(contacts.contact, user_id)
        row, relay = await row_and_relay(ContactExchange.create_id(user_id))
        # None: users erased the person and erp-sync has not yet taken the UserErased in (ADR 0035) — shown as an
        # erased exchange shows them
        return ContactExchangeOut(
            user_id=x.user_id, company_id=x.company_id, customer_number=x.customer_number,
            erp_contact_id=x.erp_contact_id, status=sync_status(row, relay, x.status),
            message=x.message, sequence=x.sequence, idempotency_key=x.idempotency_key,
            attempts=x.attempts, email=x.email or "", first_name=x.first_name or "", last_name=x.last_name or "",
            language=x.language,
            active=x.active, is_main_contact=x.is_main_contact, message_at=x.message_at,
            acknowledged_at=x.acknowledged_at, failed_at=x.failed_at, version=x.version, erased=x.erased,
            erp_erased_at=x.erp_erased_at,
        )  # fmt: skip

    @router.get(
        "/exchanges", response_model=ExchangePageOut, summary="Orders and contacts by sync state (newest first)"
    )
    async def list_exchanges(
        kind: Annotated[Literal["sales_order", "contact"] | None, Query()] = None,
        status_: Annotated[Literal["requested", "sent", "acknowledged", "failed"] | None, Query(alias="status")] = None,
        company_id: UUID | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> ExchangePageOut:
        if states is None:
            return ExchangePageOut(items=[], total=0, limit=limit, offset=offset)
        rows, total, _ = await states.query(
            kind=kind, status=status_, company_id=company_id, limit=limit, offset=offset
        )
        items = [
            ExchangeRowOut(
                kind=r["kind"],
                subject_id=r["subject_id"],
                company_id=r["company_id"],
                customer_number=r["customer_number"],
                status=r["sync_status"],
                outcome=r["outcome"],
                erp_reference=r["erp_reference"],
                detail=r["detail"],
                idempotency_key=r["idempotency_key"],
                attempts=r["attempts"],
                requested_at=r["requested_at"],
                updated_at=r["updated_at"],
            )
            for r in rows
        ]
        return ExchangePageOut(items=items, total=total, limit=limit, offset=offset)

    @router.get("/customers/{customer_number}", response_model=CustomerOut, summary="What erp-sync knows of a customer")
    async def customer(customer_number: str) -> CustomerOut:
        c = await blocking.run(customers.customer, customer_number)
        return CustomerOut(
            customer_number=c.customer_number, company_id=c.company_id,
            customer_center_allowed=c.customer_center_allowed, master_data=c.master_data,
            master_data_changed_at=c.changed_at, erp_contacts=list(c.erp_contacts.values()), credit=c.credit,
            credit_as_of=c.credit_as_of, version=c.version,
        )  # fmt: skip

    @router.get(
        "/customers/{customer_number}/invoices/{invoice_number}",
        response_model=InvoiceOut,
        summary="An invoice the ERP reported for a customer",
    )
    async def invoice(customer_number: str, invoice_number: str) -> InvoiceOut:
        i = await blocking.run(customers.invoice, customer_number, invoice_number)
        if i is None:
            raise ExchangeNotFound("The ERP reported no such invoice for this customer.")
        return InvoiceOut(
            customer_number=i.customer_number, invoice_number=i.invoice_number, invoice_date=i.invoice_date,
            total=i.total, issued_at=i.issued_at,
        )  # fmt: skip

    @router.get("/dead-letters", response_model=list[DeadLetterOut], summary="Dead letters erp-sync can retry")
    async def dead_letters(topic: str | None = None) -> list[DeadLetterOut]:
        scope = dead_letter_scope(settings.service_name)
        if topic is not None and topic not in scope:
            raise ApiError(422, "unknown_dead_letter_topic", f"Not a dead-letter topic erp-sync retries: {topic}.")
        letters = await read_dead_letters(
            client_options(settings), [topic] if topic else sorted(scope), settings.topic_prefix
        )
        return [DeadLetterOut(**d.describe()) for d in letters if is_ours(d, settings.group_id)]

    async def request_run(kind: str, parameters: dict[str, Any], response: Response) -> RunOut:
        run = await blocking.run(runs.request, kind, parameters)
        response.headers["Location"] = f"/ops/runs/{run.id}"
        return _run_out(run)

    @router.post(
        "/dead-letters/retry",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=RunOut,
        dependencies=[operator],
        summary="Retry dead letters: undelivered ERP messages are sent again, given-up messages applied again",
    )
    async def retry_dead_letters(response: Response, body: DeadLetterRetryIn | None = None) -> RunOut:
        topics = (body.topics if body else None) or None
        scope = dead_letter_scope(settings.service_name)
        unknown = sorted(set(topics or ()) - set(scope))
        if unknown:
            raise ApiError(422, "unknown_dead_letter_topic", f"Not dead-letter topics erp-sync retries: {unknown}.")
        return await request_run(RunKind.DEAD_LETTER_RETRY, {"topics": topics}, response)

    @router.post(
        "/replay",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=RunOut,
        dependencies=[operator],
        summary="Republish the ERP-facing messages since an instant (after an ERP restore)",
    )
    async def replay(body: ReplayIn, response: Response) -> RunOut:
        parameters = {"since": body.since.isoformat(), "company_id": str(body.company_id) if body.company_id else None}
        return await request_run(RunKind.REPLAY, parameters, response)

    @router.get("/runs/{run_id}", response_model=RunOut, summary="An operator run and its outcome")
    async def run(run_id: UUID) -> RunOut:
        return _run_out(await blocking.run(runs.run, run_id))

    return router
