"""HTTP routes of the registration service. Thin: request → use case → response.

``/api/registrations`` is public (through the gateway) and hostile ground: strict input models, answers that
never tell which input was wrong, rate limits per customer number and client address. ``/ops/registrations``
is the support view on the internal port (not routed by the gateway).
"""

import hashlib
import ipaddress
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import AfterValidator, BaseModel, StringConstraints
from pydantic.networks import validate_email

from contracts.limits import CUSTOMER_NUMBER_MAX, EMAIL_MAX, INVOICE_NUMBER_MAX, NAME_MAX
from kc_runtime.errors import ApiError
from kc_runtime.eventstore import WorkerPool
from kc_runtime.models import Strict
from registration.application.registrations import Applicant, RecordedEvent, Registrations
from registration.domain.lockout import AttemptCounter, CounterKind
from registration.domain.model import PUBLIC_MESSAGES, Language, PublicStatus, Registration

CustomerNumber = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=CUSTOMER_NUMBER_MAX, pattern=r"^[A-Za-z0-9][A-Za-z0-9-]*$"
    ),
]
InvoiceNumber = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=INVOICE_NUMBER_MAX, pattern=r"^[A-Za-z0-9][A-Za-z0-9/._-]*$"
    ),
]
# Letters of any script, with the spaces, apostrophes, dots and hyphens of real names; no markup, no controls.
PersonName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX, pattern=r"^\w[\w '’.-]*$")
]


def _email(value: str) -> str:
    return validate_email(value)[1]


Email = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=3, max_length=EMAIL_MAX), AfterValidator(_email)
]
Token = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_-]+$")]


class RegistrationIn(Strict):
    customer_number: CustomerNumber
    invoice_number: InvoiceNumber
    email: Email
    first_name: PersonName
    last_name: PersonName
    language: Language = "de"


class ConfirmIn(Strict):
    token: Token


class RegistrationOut(BaseModel):
    id: UUID
    status: PublicStatus
    reason: str | None = None
    """Safe to show: never says which of customer number, invoice number or e-mail address was wrong."""
    message: str | None = None
    submitted_at: datetime
    confirmation_expires_at: datetime | None = None


def registration_out(registration: Registration, now: datetime) -> RegistrationOut:
    shown, reason = registration.public_status(now)
    return RegistrationOut(
        id=registration.id,
        status=shown,
        reason=reason,
        message=PUBLIC_MESSAGES.get(reason) if reason else None,
        submitted_at=registration.submitted_at,
        confirmation_expires_at=registration.confirmation_expires_at if shown == "awaiting_confirmation" else None,
    )


def client_address(request: Request) -> str:
    """The caller's address as uvicorn resolved it from the trusted proxies' X-Forwarded-For.

    IPv6 callers are counted per /64 (one subscriber's network); anything unparsable by a digest of it.
    """
    host = (request.client.host if request.client else "") or ""
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return "unparsed:" + hashlib.sha256(host.encode("utf-8", errors="replace")).hexdigest()[:16]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def registrations_router(registrations: Registrations, blocking: WorkerPool) -> APIRouter:
    router = APIRouter(prefix="/api/registrations", tags=["registrations"])

    @router.post(
        "",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=RegistrationOut,
        summary="Register a company through the ERP",
        description="Records the attempt and has the ERP verify customer number and invoice; poll the "
        "registration for its status. 429 `too_many_attempts` (with Retry-After) when the customer number or "
        "the client address made too many attempts.",
    )
    async def submit(body: RegistrationIn, request: Request, response: Response) -> RegistrationOut:
        applicant = Applicant(
            customer_number=body.customer_number,
            invoice_number=body.invoice_number,
            email=body.email,
            first_name=body.first_name,
            last_name=body.last_name,
            language=body.language,
        )
        registration = await blocking.run(registrations.submit, applicant, client_address(request))
        response.headers["Location"] = f"/api/registrations/{registration.id}"
        return registration_out(registration, registrations.clock())

    @router.get("/{registration_id}", response_model=RegistrationOut, summary="Status of a registration")
    async def get(registration_id: UUID) -> RegistrationOut:
        registration = await blocking.run(registrations.registration, registration_id)
        return registration_out(registration, registrations.clock())

    @router.post(
        "/{registration_id}/confirm",
        response_model=RegistrationOut,
        summary="Confirm the e-mail address with the token from the mail",
        description="Single use. 400 `invalid_confirmation_token`, 410 `confirmation_token_expired`, 409 "
        "`confirmation_token_used`, `already_registered` or `not_awaiting_confirmation`.",
    )
    async def confirm(registration_id: UUID, body: ConfirmIn) -> RegistrationOut:
        registration = await blocking.run(registrations.confirm, registration_id, body.token)
        return registration_out(registration, registrations.clock())

    return router


# ---- support view (internal port) ------------------------------------------------------------------------


class EventOut(BaseModel):
    name: str
    version: int
    at: datetime
    data: dict[str, Any]


class AttemptOut(BaseModel):
    id: UUID
    customer_number: str
    invoice_number: str
    person_id: UUID | None = None
    """The applicant as a person (ADR 0040): the main contact's user id once completed; None before that release."""
    erased: bool = False
    """The applicant's person was erased: e-mail address, names and client address are null for good."""
    email: str | None
    first_name: str | None
    last_name: str | None
    language: str
    client_address: str | None
    status: str
    reason: str | None
    """The whole truth (e.g. ``invoice_mismatch``), for support only."""
    public_reason: str | None
    submitted_at: datetime
    updated_at: datetime
    company_id: UUID | None
    events: list[EventOut] | None = None


class CounterOut(BaseModel):
    kind: str
    key: str
    locked: bool
    locked_until: datetime | None
    lockouts: int
    counted_attempts: int


class AttemptsOut(BaseModel):
    customer_number: str
    lockout: CounterOut | None
    attempts: list[AttemptOut]


def _events(history: list[RecordedEvent]) -> list[EventOut]:
    return [EventOut(name=e.name, version=e.version, at=e.at, data=_jsonable(e.data)) for e in history]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def attempt_out(r: Registration, now: datetime, history: list[RecordedEvent] | None = None) -> AttemptOut:
    _, public = r.public_status(now)
    return AttemptOut(
        id=r.id,
        customer_number=r.customer_number,
        invoice_number=r.invoice_number,
        person_id=r.person_id,
        erased=r.applicant_erased,
        email=r.email,
        first_name=r.first_name,
        last_name=r.last_name,
        language=r.language,
        client_address=r.client_address,
        status=r.status.value,
        reason=r.reason.value if r.reason else None,
        public_reason=public,
        submitted_at=r.submitted_at,
        updated_at=r.updated_at,
        company_id=r.company_id,
        events=_events(history) if history is not None else None,
    )


def counter_out(c: AttemptCounter, registrations: Registrations, key: str | None = None) -> CounterOut:
    """``key``: the customer number or client address asked for (a client address's counter keeps none)."""
    now = registrations.clock()
    policy = (
        registrations.policy.per_customer if c.kind == CounterKind.CUSTOMER_NUMBER else registrations.policy.per_address
    )
    return CounterOut(
        kind=str(c.kind),
        key=key if key is not None else c.key,
        locked=c.is_locked(now),
        locked_until=c.locked_until,
        lockouts=c.lockouts,
        counted_attempts=len(c.counted(now, policy)),
    )


def ops_router(registrations: Registrations, blocking: WorkerPool) -> APIRouter:
    router = APIRouter(prefix="/ops", tags=["support"])

    @router.get(
        "/registrations",
        response_model=AttemptsOut,
        summary="Every registration attempt for a customer number, newest first (support)",
    )
    async def attempts(
        customer_number: Annotated[str, Query(min_length=1, max_length=32)],
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        events: bool = False,
    ) -> AttemptsOut:
        def load() -> AttemptsOut:
            now = registrations.clock()
            found = registrations.attempts_of_customer(customer_number, limit)
            counter = registrations.counter(CounterKind.CUSTOMER_NUMBER, customer_number)
            return AttemptsOut(
                customer_number=customer_number,
                lockout=counter_out(counter, registrations) if counter else None,
                attempts=[attempt_out(r, now, registrations.history(r.id) if events else None) for r in found],
            )

        return await blocking.run(load)

    @router.get("/registrations/{registration_id}", response_model=AttemptOut, summary="One attempt with its events")
    async def attempt(registration_id: UUID) -> AttemptOut:
        def load() -> AttemptOut:
            r = registrations.registration(registration_id)
            return attempt_out(r, registrations.clock(), registrations.history(r.id))

        return await blocking.run(load)

    @router.get("/lockouts", response_model=CounterOut, summary="Lockout counter of a customer number or address")
    async def lockout(
        customer_number: Annotated[str | None, Query(max_length=32)] = None,
        client_address: Annotated[str | None, Query(max_length=64)] = None,
    ) -> CounterOut:
        if (customer_number is None) == (client_address is None):
            raise ApiError(422, "invalid_request", "Give either customer_number or client_address.")
        kind = CounterKind.CUSTOMER_NUMBER if customer_number is not None else CounterKind.CLIENT_ADDRESS
        key = customer_number if customer_number is not None else client_address
        assert key is not None
        counter = await blocking.run(registrations.counter, kind, key)
        if counter is None:
            raise ApiError(404, "not_found", "No attempts recorded for this key.")
        return counter_out(counter, registrations, key)

    return router
