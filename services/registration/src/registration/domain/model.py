"""The Registration aggregate (one attempt of a customer to register) and the CustomerAccount index.

An attempt is submitted, verified through the ERP, confirmed by e-mail (double opt-in) and completed — or
rejected on the way. Every attempt is an aggregate of its own, whatever its outcome, so support can list them.
The confirmation token is never stored: only its SHA-256 hash, its expiry and the nonce it was derived from.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

COMPANY_NAMESPACE = uuid5(NAMESPACE_URL, "urn:kundencenter:company")
"""``company_id = uuid5(COMPANY_NAMESPACE, customer_number)``: the same customer is always the same company."""


class RegistrationError(Exception):
    code = "registration_error"


class RegistrationNotFound(RegistrationError):
    code = "not_found"


class ConfirmationTokenInvalid(RegistrationError):
    code = "invalid_confirmation_token"


class ConfirmationTokenExpired(RegistrationError):
    code = "confirmation_token_expired"


class ConfirmationTokenUsed(RegistrationError):
    code = "confirmation_token_used"


class NotAwaitingConfirmation(RegistrationError):
    code = "not_awaiting_confirmation"


class AlreadyRegistered(RegistrationError):
    code = "already_registered"


class EmailTaken(RegistrationError):
    code = "email_taken"


Language = Literal["de", "en"]
"""The languages the Kundencenter writes in (checked when a registration is submitted)."""

PublicStatus = Literal["verifying", "awaiting_confirmation", "completed", "rejected"]
"""What the applicant sees of an attempt (a submitted one is being verified; an expired confirmation is rejected)."""


class Status(StrEnum):
    SUBMITTED = "submitted"
    VERIFYING = "verifying"
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    COMPLETED = "completed"
    REJECTED = "rejected"


class Reason(StrEnum):
    """Why an attempt was rejected: the full truth, for registration and support only."""

    UNKNOWN_CUSTOMER = "unknown_customer"
    INVOICE_MISMATCH = "invoice_mismatch"
    NOT_ALLOWED = "not_allowed"
    ERP_UNAVAILABLE = "erp_unavailable"
    ALREADY_REGISTERED = "already_registered"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    CONFIRMATION_EXPIRED = "confirmation_expired"
    TOO_MANY_CONFIRMATION_FAILURES = "too_many_confirmation_failures"
    EMAIL_TAKEN = "email_taken"


PUBLIC_REASONS: dict[Reason, str] = {
    # Never tell which of customer number, invoice number or e-mail address was wrong.
    Reason.UNKNOWN_CUSTOMER: "verification_failed",
    Reason.INVOICE_MISMATCH: "verification_failed",
    Reason.NOT_ALLOWED: "not_allowed",
    Reason.ERP_UNAVAILABLE: "erp_unavailable",
    Reason.ALREADY_REGISTERED: "already_registered",
    Reason.TOO_MANY_ATTEMPTS: "too_many_attempts",
    Reason.CONFIRMATION_EXPIRED: "confirmation_expired",
    Reason.TOO_MANY_CONFIRMATION_FAILURES: "too_many_confirmation_failures",
    # Only told after the ERP verified the customer: whoever sees it knows the customer and one of its invoices.
    Reason.EMAIL_TAKEN: "email_taken",
}

PUBLIC_MESSAGES: dict[str, str] = {
    "verification_failed": "We could not verify these details. Check the customer number, the invoice number "
    "and the e-mail address, and try again.",
    "not_allowed": "The customer center is not available for your company. Please contact your account manager.",
    "erp_unavailable": "We could not verify your details in time. Please try again later.",
    "already_registered": "Your company is already registered. Please ask your company's main contact "
    "(Hauptkontakt) to create an account for you.",
    "too_many_attempts": "Too many attempts. Please wait a while before you try again.",
    "confirmation_expired": "The confirmation link has expired. Please register again.",
    "too_many_confirmation_failures": "Too many wrong confirmation codes. Please register again.",
    "email_taken": "This e-mail address already belongs to an account of the customer center. Please register "
    "with another address, or ask your company's main contact (Hauptkontakt).",
}

FAILED_GUESSES = frozenset({Reason.UNKNOWN_CUSTOMER, Reason.INVOICE_MISMATCH})
"""Outcomes that count towards a lockout: someone may be guessing customer or invoice numbers."""


def public_reason(reason: Reason | None) -> str | None:
    return None if reason is None else PUBLIC_REASONS[reason]


def company_id_for(customer_number: str) -> UUID:
    return uuid5(COMPANY_NAMESPACE, customer_number)


class ConfirmationOutcome(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    EXPIRED = "expired"


class Registration(Aggregate):
    """One registration attempt.

    ``person_id`` is the applicant as a person (ADR 0040): the id their user will have once the attempt completes,
    minted at submission, whose key (made by users then) seals the applicant's address, names and client address
    in the stored events. Attempts submitted before have none: their values are plain. Once the person is erased,
    those values read as ``None``."""

    class Submitted(Aggregate.Created):
        customer_number: str
        invoice_number: str
        email: str | None
        first_name: str | None
        last_name: str | None
        language: Language
        client_address: str | None
        submitted_at: datetime
        person_id: UUID | None = None

    @event(Submitted)
    def __init__(
        self,
        customer_number: str,
        invoice_number: str,
        email: str | None,
        first_name: str | None,
        last_name: str | None,
        language: Language,
        client_address: str | None,
        submitted_at: datetime,
        person_id: UUID | None = None,
    ) -> None:
        self.customer_number = customer_number
        self.invoice_number = invoice_number
        self.email = email
        self.first_name = first_name
        self.last_name = last_name
        self.language = language
        self.client_address = client_address
        self.submitted_at = submitted_at
        self.person_id = person_id
        self.updated_at = submitted_at
        self.status = Status.SUBMITTED
        self.reason: Reason | None = None
        self.company: dict[str, Any] | None = None
        self.erp_contacts: list[dict[str, Any]] = []
        self.token_hash: str | None = None
        self.token_nonce: str | None = None
        self.confirmation_expires_at: datetime | None = None
        self.confirmation_failures = 0
        self.company_id: UUID | None = None
        self.completed_at: datetime | None = None

    # ---- verification ---------------------------------------------------------------------------------

    def request_verification(self, at: datetime) -> None:
        if self.status is not Status.SUBMITTED:
            return
        self._verification_requested(customer_number=self.customer_number, invoice_number=self.invoice_number, at=at)

    class VerificationRequested(Aggregate.Event):
        customer_number: str
        invoice_number: str
        at: datetime

    @event(VerificationRequested)
    def _verification_requested(self, customer_number: str, invoice_number: str, at: datetime) -> None:
        self.status = Status.VERIFYING
        self.updated_at = at

    @property
    def is_verifying(self) -> bool:
        return self.status is Status.VERIFYING

    @property
    def applicant_erased(self) -> bool:
        """The applicant's person was erased (their sealed values read as None): nobody left to confirm or to
        become the main contact."""
        return self.person_id is not None and self.email is None

    def verified(self, company: dict[str, Any], erp_contacts: list[dict[str, Any]], at: datetime) -> None:
        """The ERP verified the attempt (customer, invoice, customer center allowed)."""
        if not self.is_verifying:
            return
        self._verified(company=company, erp_contacts=erp_contacts, at=at)

    class Verified(Aggregate.Event):
        company: dict[str, Any]
        erp_contacts: list[dict[str, Any]]
        at: datetime

    @event(Verified)
    def _verified(self, company: dict[str, Any], erp_contacts: list[dict[str, Any]], at: datetime) -> None:
        self.company = company
        self.erp_contacts = erp_contacts
        self.updated_at = at

    def request_confirmation(self, token_nonce: str, token_hash: str, expires_at: datetime, at: datetime) -> None:
        """Ask the applicant to confirm the e-mail address with a token (the mail is sent from this event)."""
        if self.status is not Status.VERIFYING or self.company is None or self.applicant_erased:
            raise NotAwaitingConfirmation("Only a verified attempt can be confirmed.")
        self._confirmation_requested(
            customer_number=self.customer_number,
            email=self.email,
            first_name=self.first_name,
            last_name=self.last_name,
            language=self.language,
            company_name=self.company.get("name"),
            token_nonce=token_nonce,
            token_hash=token_hash,
            expires_at=expires_at,
            at=at,
            person_id=self.person_id,
        )

    class ConfirmationRequested(Aggregate.Event):
        customer_number: str
        email: str | None
        first_name: str | None
        last_name: str | None
        language: Language
        company_name: str | None
        token_nonce: str
        token_hash: str
        expires_at: datetime
        at: datetime
        person_id: UUID | None = None

    @event(ConfirmationRequested)
    def _confirmation_requested(
        self,
        customer_number: str,
        email: str | None,
        first_name: str | None,
        last_name: str | None,
        language: Language,
        company_name: str | None,
        token_nonce: str,
        token_hash: str,
        expires_at: datetime,
        at: datetime,
        person_id: UUID | None = None,
    ) -> None:
        self.status = Status.AWAITING_CONFIRMATION
        self.token_nonce = token_nonce
        self.token_hash = token_hash
        self.confirmation_expires_at = expires_at
        self.confirmation_failures = 0
        self.updated_at = at

    # ---- confirmation ---------------------------------------------------------------------------------

    def check_token(self, token_hash: str, now: datetime, max_failures: int) -> ConfirmationOutcome:
        """Check a confirmation token. A wrong or expired token records its event (save the aggregate!)."""
        if self.status is Status.COMPLETED:
            raise ConfirmationTokenUsed("This registration is confirmed already; the token cannot be used again.")
        if self.status is Status.REJECTED:
            if self.reason is Reason.CONFIRMATION_EXPIRED:
                raise ConfirmationTokenExpired("The confirmation token has expired.")
            if self.reason is Reason.ALREADY_REGISTERED:
                raise AlreadyRegistered(PUBLIC_MESSAGES["already_registered"])
            raise NotAwaitingConfirmation("This registration cannot be confirmed.")
        if self.status is not Status.AWAITING_CONFIRMATION or self.token_hash is None:
            raise NotAwaitingConfirmation("This registration is not awaiting a confirmation (yet).")
        if not hmac.compare_digest(token_hash, self.token_hash):
            self._confirmation_failed(at=now)
            if self.confirmation_failures >= max_failures:
                self._rejected(reason=Reason.TOO_MANY_CONFIRMATION_FAILURES, at=now)
            return ConfirmationOutcome.INVALID
        assert self.confirmation_expires_at is not None
        if now >= self.confirmation_expires_at:
            self._rejected(reason=Reason.CONFIRMATION_EXPIRED, at=now)
            return ConfirmationOutcome.EXPIRED
        return ConfirmationOutcome.VALID

    class ConfirmationFailed(Aggregate.Event):
        at: datetime

    @event(ConfirmationFailed)
    def _confirmation_failed(self, at: datetime) -> None:
        self.confirmation_failures += 1
        self.updated_at = at

    def is_expired(self, now: datetime) -> bool:
        return (
            self.status is Status.AWAITING_CONFIRMATION
            and self.confirmation_expires_at is not None
            and now >= self.confirmation_expires_at
        )

    def complete(self, at: datetime) -> None:
        """The applicant confirmed: the company and its main contact are to be created (event carries all)."""
        if self.status is not Status.AWAITING_CONFIRMATION or self.company is None or self.applicant_erased:
            raise NotAwaitingConfirmation("This registration is not awaiting a confirmation.")
        self._completed(
            company_id=company_id_for(self.customer_number),
            customer_number=self.customer_number,
            company=self.company,
            main_contact={
                "email": self.email,
                "first_name": self.first_name,
                "last_name": self.last_name,
                "language": self.language,
            },
            erp_contacts=self.erp_contacts,
            completed_at=at,
            person_id=self.person_id,
        )

    class Completed(Aggregate.Event):
        company_id: UUID
        customer_number: str
        company: dict[str, Any]
        main_contact: dict[str, str | None]
        erp_contacts: list[dict[str, Any]]
        completed_at: datetime
        person_id: UUID | None = None
        """The main contact's user id to be (ADR 0040); None for attempts submitted before."""

    @event(Completed)
    def _completed(
        self,
        company_id: UUID,
        customer_number: str,
        company: dict[str, Any],
        main_contact: dict[str, str | None],
        erp_contacts: list[dict[str, Any]],
        completed_at: datetime,
        person_id: UUID | None = None,
    ) -> None:
        self.status = Status.COMPLETED
        self.company_id = company_id
        self.completed_at = completed_at
        self.updated_at = completed_at
        self.token_hash = None  # single use

    def refuse_completion(self, reason: Reason, at: datetime) -> None:
        """The users service refused the completion (the main contact's address was taken meanwhile): nothing was
        created, and the applicant sees the attempt rejected."""
        if self.status is Status.COMPLETED:
            self._completion_refused(reason=reason, at=at)

    class CompletionRefused(Aggregate.Event):
        reason: Reason
        at: datetime

    @event(CompletionRefused)
    def _completion_refused(self, reason: Reason, at: datetime) -> None:
        self.status = Status.REJECTED
        self.reason = reason
        self.updated_at = at

    # ---- rejection ------------------------------------------------------------------------------------

    def reject(self, reason: Reason, at: datetime) -> None:
        if self.status in (Status.COMPLETED, Status.REJECTED):
            return
        self._rejected(reason=reason, at=at)

    class Rejected(Aggregate.Event):
        reason: Reason
        at: datetime

    @event(Rejected)
    def _rejected(self, reason: Reason, at: datetime) -> None:
        self.status = Status.REJECTED
        self.reason = Reason(reason)
        self.updated_at = at
        self.token_hash = None

    # ---- presentation ---------------------------------------------------------------------------------

    def public_status(self, now: datetime) -> tuple[PublicStatus, str | None]:
        """(status, public reason) as the applicant may see them; an expired confirmation shows as rejected."""
        if self.is_expired(now):
            return "rejected", PUBLIC_REASONS[Reason.CONFIRMATION_EXPIRED]
        return _PUBLIC_STATUS[self.status], public_reason(self.reason)


_PUBLIC_STATUS: dict[Status, PublicStatus] = {
    Status.SUBMITTED: "verifying",
    Status.VERIFYING: "verifying",
    Status.AWAITING_CONFIRMATION: "awaiting_confirmation",
    Status.COMPLETED: "completed",
    Status.REJECTED: "rejected",
}


class CustomerAccount(Aggregate):
    """Index of registered customers: one per customer number, created when a registration completes.

    Its id is the company id. A second completion for the same customer collides in the event store.
    """

    @staticmethod
    def create_id(customer_number: str) -> UUID:
        return company_id_for(customer_number)

    class Registered(Aggregate.Created):
        customer_number: str
        registration_id: UUID
        main_contact_email: str | None
        at: datetime
        main_contact_id: UUID | None = None
        """Whose key seals ``main_contact_email`` (the registration's ``person_id``, ADR 0040); None before."""

    @event(Registered)
    def __init__(
        self,
        customer_number: str,
        registration_id: UUID,
        main_contact_email: str | None,
        at: datetime,
        main_contact_id: UUID | None = None,
    ) -> None:
        self.customer_number = customer_number
        self.registration_id = registration_id
        self.main_contact_email = main_contact_email
        self.registered_at = at
        self.released = False

    def release(self, registration_id: UUID) -> None:
        """The completion of ``registration_id`` was refused by users: the customer is not registered."""
        if self.registration_id == registration_id and not self.released:
            self._released()

    class Released(Aggregate.Event):
        pass

    @event(Released)
    def _released(self) -> None:
        self.released = True

    def register_again(
        self, registration_id: UUID, main_contact_email: str | None, at: datetime, main_contact_id: UUID | None = None
    ) -> None:
        if not self.released:
            raise AlreadyRegistered("Your company is already registered; please ask its main contact.")
        self._registered_again(
            registration_id=registration_id,
            main_contact_email=main_contact_email,
            at=at,
            main_contact_id=main_contact_id,
        )

    class RegisteredAgain(Aggregate.Event):
        registration_id: UUID
        main_contact_email: str | None
        at: datetime
        main_contact_id: UUID | None = None

    @event(RegisteredAgain)
    def _registered_again(
        self, registration_id: UUID, main_contact_email: str | None, at: datetime, main_contact_id: UUID | None = None
    ) -> None:
        self.registration_id = registration_id
        self.main_contact_email = main_contact_email
        self.registered_at = at
        self.released = False
