"""Use cases of the registration service, one method each; ids in and out.

Commands from HTTP save their aggregates themselves; the handlers of the ERP's answers (``on_…``) run in the
consumer's worker thread and return the aggregates to save together with the tracking record.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID, uuid4

import structlog
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

from kc_runtime.blind_index import DEVELOPMENT_INDEX_SECRET, BlindIndex
from kc_runtime.eventstore import ServiceApplication
from kc_runtime.sealing import KeyRing, Personal
from registration.application.tokens import TokenIssuer, hash_token
from registration.domain.lockout import (
    ADDRESS_KINDS,
    AttemptCounter,
    CounterKind,
    LockoutPolicy,
    TooManyAttempts,
    customer_at_address,
)
from registration.domain.model import (
    FAILED_GUESSES,
    AlreadyRegistered,
    ConfirmationOutcome,
    ConfirmationTokenExpired,
    ConfirmationTokenInvalid,
    CustomerAccount,
    EmailTaken,
    Language,
    Reason,
    Registration,
    RegistrationNotFound,
)
from registration.domain.taken import AddressHolder, TakenAddress, address_key

log = structlog.get_logger("registration")

CONFLICT_RETRIES = 12
"""Attempts of a command whose save collided with a concurrent change (e.g. of a busy lockout counter)."""

LOCK_STRIPES = 64

SNAPSHOT_INTERVAL = 50
"""A busy lockout counter is snapshotted every so many events (its history also indexes the attempts)."""


@dataclass(frozen=True)
class Applicant:
    customer_number: str
    invoice_number: str
    email: str
    first_name: str
    last_name: str
    language: Language


@dataclass(frozen=True)
class RegistrationPolicy:
    per_customer_at_address: LockoutPolicy = field(default_factory=lambda: LockoutPolicy(5, 900, 900))
    """One customer number from one client address: the strict limit, which locks the guesser."""
    per_address: LockoutPolicy = field(default_factory=lambda: LockoutPolicy(20, 900, 900))
    per_customer: LockoutPolicy = field(default_factory=lambda: LockoutPolicy(25, 3600, 3600))
    """Customer-wide (guessing spread over many addresses): once reached, only a client address with nothing
    against it for this customer gets an attempt — the real customer's correct verification still gets through."""

    def of(self, kind: CounterKind) -> LockoutPolicy:
        return {
            CounterKind.CUSTOMER_NUMBER: self.per_customer,
            CounterKind.CLIENT_ADDRESS: self.per_address,
            CounterKind.CUSTOMER_AT_ADDRESS: self.per_customer_at_address,
        }[kind]

    confirmation_ttl_s: int = 24 * 3600
    max_confirmation_failures: int = 5


@dataclass(frozen=True)
class RecordedEvent:
    """One event of an aggregate's history, as support sees it."""

    name: str
    version: int
    at: datetime
    data: dict[str, Any]


KeyReservation = Callable[[UUID], bytes]
"""users makes the key of a person who is not a user yet and answers it (``PersonKeyClient.reserve``, ADR 0040);
raises ``PersonKeysUnavailable`` (a ``ConnectionError``) when users cannot answer."""

APPLICANT = "registration/registration"
"""The place of the applicant's values in registration's events (sealing's associated data: never renamed)."""

PERSONAL_DATA: dict[type, Personal] = {
    Registration.Submitted: Personal(
        APPLICANT, ("email", "first_name", "last_name", "client_address"), owner="person_id"
    ),
    Registration.ConfirmationRequested: Personal(APPLICANT, ("email", "first_name", "last_name"), owner="person_id"),
    Registration.Completed: Personal(
        APPLICANT, ("main_contact.email", "main_contact.first_name", "main_contact.last_name"), owner="person_id"
    ),
    CustomerAccount.Registered: Personal(
        "registration/customer-account", ("main_contact_email",), owner="main_contact_id"
    ),
    CustomerAccount.RegisteredAgain: Personal(
        "registration/customer-account", ("main_contact_email",), owner="main_contact_id"
    ),
}
"""registration's events that hold the applicant's values, sealed with the key of the attempt's ``person_id``
(ADR 0040). Events without a person (stored before) keep their plain values."""


def _legacy_attempt(app: Registrations, state: dict[str, Any]) -> int:
    return app.legacy_person(state, "person_id", attempt=state["originator_id"])


def _legacy_account(app: Registrations, state: dict[str, Any]) -> int:
    return app.legacy_person(state, "main_contact_id", attempt=state["registration_id"])


def _legacy_taken_address(app: Registrations, state: dict[str, Any]) -> int:
    if not state.get("email"):
        return 0  # a blind claim (ADR 0035 decision 4) keeps no address
    state["email"] = ""
    return 1


def _legacy_counter(app: Registrations, state: dict[str, Any]) -> int:
    if state.get("kind") not in ADDRESS_KINDS or not state.get("key"):
        return 0  # a customer number's counter (no one's address), or a blind one (keeps no key)
    state["key"] = ""
    return 1


LEGACY_PERSONAL_DATA: dict[type, Callable[[Registrations, dict[str, Any]], int]] = {
    Registration.Submitted: _legacy_attempt,
    Registration.ConfirmationRequested: _legacy_attempt,
    Registration.Completed: _legacy_attempt,
    CustomerAccount.Registered: _legacy_account,
    CustomerAccount.RegisteredAgain: _legacy_account,
    TakenAddress.Taken: _legacy_taken_address,
    AttemptCounter.Opened: _legacy_counter,
}
"""What the re-seal (``kc_runtime.reseal``, ADR 0035 "Upcasting") does to events stored before ADR 0040 and the
blind indexes: an attempt without a person gets one (:meth:`Registrations.legacy_person`), whose key then seals
its values as :data:`PERSONAL_DATA` says; an address taken under its legacy ``uuid5`` id loses the address its
``Taken`` event kept (nothing reads it: the claim is found by its id, as a blind one is), and so does a client
address's lockout counter made before its blind index its ``Opened`` event (found by its id; support asks for a
counter with its key)."""

_HIDDEN_FIELDS = {"originator_id", "originator_version", "timestamp", "token_hash", "token_nonce", "originator_topic"}


def _utcnow() -> datetime:
    return datetime.now(UTC)


_pause = threading.Event()


def _jitter(attempt: int) -> None:
    """A short random pause before retrying a command that lost a race, so racers do not collide again."""
    _pause.wait(random.uniform(0, 0.005 * attempt))


class Registrations(ServiceApplication):
    name = "Registrations"
    # Snapshots are taken by the commands themselves (see _snapshot): the group-committed save() hands the
    # library events, not aggregates, so its automatic snapshotting would never fire.
    is_snapshotting_enabled = True
    personal_data: ClassVar[dict[type, Personal]] = PERSONAL_DATA
    legacy_personal_data: ClassVar[dict[type, Callable[[Any, dict[str, Any]], int]]] = LEGACY_PERSONAL_DATA

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        policy: RegistrationPolicy | None = None,
        tokens: TokenIssuer | None = None,
        clock: Callable[[], datetime] = _utcnow,
        index_secret: bytes | None = None,
        key_ring: KeyRing | None = None,
        reserve_key: KeyReservation | None = None,
    ) -> None:
        """``index_secret``: the service's blind index secret (``kc_runtime.blind_index.index_secret``; None: the
        development secret, for tests and the local stack). ``key_ring``: the persons' keys that seal the
        applicant's values in the event store and the messages, and open those of users' messages (ADR 0035
        decision 6, ADR 0040). ``reserve_key``: users making a new applicant's key (ADR 0040); with both, every
        attempt is a person whose values are sealed — without (tests, tools), attempts name no person and keep
        their values plain."""
        super().__init__(env, key_ring=key_ring)
        self.reserve_key = reserve_key
        self._address_index = BlindIndex(index_secret or DEVELOPMENT_INDEX_SECRET, TakenAddress.INDEX)
        self._counter_index = BlindIndex(index_secret or DEVELOPMENT_INDEX_SECRET, AttemptCounter.INDEX)
        self.policy = policy or RegistrationPolicy()
        self.tokens = tokens or TokenIssuer(b"development-only-registration-token-secret")  # tests
        self.clock = clock
        # Attempts touching the same counters are serialised inside this process (they would only collide in
        # the store and retry); across processes, optimistic concurrency and a retry with jitter remain.
        self._stripes = [threading.Lock() for _ in range(LOCK_STRIPES)]
        self._legacy_persons: dict[UUID, UUID] = {}

    # ---- HTTP commands --------------------------------------------------------------------------------

    def submit(self, applicant: Applicant, client_address: str) -> Registration:
        """Record an attempt and ask the ERP to verify it — or refuse it (still recorded) when the customer
        number or the client address is locked or over its limit: raises :class:`TooManyAttempts`.

        The applicant becomes a person first (ADR 0040): a fresh id whose key users makes now, so nothing they
        gave is stored unsealed. When users cannot answer, ``PersonKeysUnavailable`` (a ``ConnectionError``:
        503) and nothing is stored."""
        person_id = self._new_person()
        keys = (
            AttemptCounter.create_id(CounterKind.CUSTOMER_NUMBER, applicant.customer_number),
            AttemptCounter.create_id(CounterKind.CLIENT_ADDRESS, client_address),
            AttemptCounter.create_id(
                CounterKind.CUSTOMER_AT_ADDRESS, customer_at_address(applicant.customer_number, client_address)
            ),
        )
        with self._serialised(*keys):
            return self._submit(applicant, client_address, person_id)

    def _new_person(self) -> UUID | None:
        """A new person's id with its key in this process's ring (asked of users outside the attempt's locks: a
        slow users holds up no other attempt); None without a key ring or reservations."""
        if self.key_ring is None or self.reserve_key is None:
            return None
        person_id = uuid4()
        self.key_ring.give(person_id, self.reserve_key(person_id))
        return person_id

    def legacy_person(self, state: dict[str, Any], field: str, attempt: UUID) -> int:
        """The re-seal's step for an event of ``attempt`` stored before ADR 0040 (``state[field]`` None): it names
        the attempt's person — the one an earlier event of the attempt named (the re-seal walks in notification
        order: the submission first), else a fresh person whose key users reserves now — so the applicant's values
        are sealed with that key, one person for every event of the attempt, as if it had been submitted today.
        Answers 1 if it named them, 0 if the event named a person already (remembered for the attempt's later
        events). A completed attempt's person is not the main contact users created from it (a user id the
        attempt never learnt): erasing that user does not reach these values (ADR 0040, "Not covered")."""
        named = state.get(field)
        if named is not None:
            self._legacy_persons.setdefault(attempt, named)
            return 0
        person = self._legacy_persons.get(attempt)
        if person is None:
            person = self._new_person()
            if person is None:
                raise ValueError("an attempt stored before ADR 0040 needs a person: run with users' key reservations")
            self._legacy_persons[attempt] = person
        state[field] = person
        return 1

    def _submit(self, applicant: Applicant, client_address: str, person_id: UUID | None) -> Registration:
        for attempt in range(CONFLICT_RETRIES):
            if attempt:
                _jitter(attempt)
            now = self.clock()
            by_customer = self._counter(CounterKind.CUSTOMER_NUMBER, applicant.customer_number)
            by_address = self._counter(CounterKind.CLIENT_ADDRESS, client_address)
            by_pair = self._counter(
                CounterKind.CUSTOMER_AT_ADDRESS, customer_at_address(applicant.customer_number, client_address)
            )
            registration = Registration(
                customer_number=applicant.customer_number,
                invoice_number=applicant.invoice_number,
                email=applicant.email,
                first_name=applicant.first_name,
                last_name=applicant.last_name,
                language=applicant.language,
                client_address=client_address,
                submitted_at=now,
                person_id=person_id,
            )
            try:
                by_address.check(now, self.policy.per_address)
                by_pair.check(now, self.policy.per_customer_at_address)
                self._check_customer_wide(by_customer, by_pair, now)
            except TooManyAttempts as refused:
                before = {by_customer.id: by_customer.version}
                registration.reject(Reason.TOO_MANY_ATTEMPTS, now)
                by_customer.record_refused(registration.id, now)
                if self._saved(registration, by_customer):
                    self._snapshot(before, by_customer)
                    raise refused from None
                continue
            before = {c.id: c.version for c in (by_customer, by_address, by_pair)}
            registration.request_verification(now)
            for counter in (by_customer, by_address, by_pair):
                counter.record_attempt(registration.id, now, self.policy.of(counter.kind))
            if self._saved(registration, by_customer, by_address, by_pair):
                self._snapshot(before, by_customer, by_address, by_pair)
                return registration
        raise IntegrityError("the attempt kept colliding with concurrent attempts")

    def confirm(self, registration_id: UUID, token: str) -> Registration:
        """Confirm the e-mail address with the token from the mail: the registration completes, unless the
        company registered meanwhile. Wrong and expired tokens are recorded and refused."""
        for _ in range(CONFLICT_RETRIES):
            now = self.clock()
            registration = self.registration(registration_id)
            outcome = registration.check_token(hash_token(token), now, self.policy.max_confirmation_failures)
            if outcome is ConfirmationOutcome.INVALID:
                if self._saved(registration):
                    raise ConfirmationTokenInvalid("The confirmation token is not valid for this registration.")
                continue
            if outcome is ConfirmationOutcome.EXPIRED:
                if self._saved(registration):
                    raise ConfirmationTokenExpired("The confirmation token has expired.")
                continue
            if self._registered(registration.customer_number):
                registration.reject(Reason.ALREADY_REGISTERED, now)
                if self._saved(registration):
                    raise AlreadyRegistered("Your company is already registered; please ask its main contact.")
                continue
            if registration.email is not None and self.email_taken(registration.email):
                registration.reject(Reason.EMAIL_TAKEN, now)
                if self._saved(registration):
                    raise EmailTaken("This e-mail address already belongs to an account of the customer center.")
                continue
            registration.complete(now)
            account = self._account(registration.customer_number)
            if account is None:
                account = CustomerAccount(
                    customer_number=registration.customer_number,
                    registration_id=registration.id,
                    main_contact_email=registration.email,
                    at=now,
                    main_contact_id=registration.person_id,
                )
            else:  # released: users refused an earlier completion
                account.register_again(registration.id, registration.email, now, registration.person_id)
            if self._saved(registration, account):
                return registration
        raise IntegrityError("the confirmation kept colliding with concurrent changes")

    # ---- the ERP's answers (consumer handlers: return what to save) ------------------------------------

    def on_verified(
        self, registration_id: UUID, company: dict[str, Any], erp_contacts: list[dict[str, Any]]
    ) -> list[Any]:
        registration = self._find(registration_id)
        if registration is None or not registration.is_verifying:
            return []  # unknown or answered already
        now = self.clock()
        counters = self._counters_of(registration)
        for counter in counters:
            counter.record_resolved(registration.id, now)
        registration.verified(company, erp_contacts, now)
        if registration.applicant_erased:
            pass  # nobody left to ask (ADR 0040): the attempt ends unconfirmed
        elif self._registered(registration.customer_number):
            registration.reject(Reason.ALREADY_REGISTERED, now)
        elif registration.email is not None and self.email_taken(registration.email):
            registration.reject(Reason.EMAIL_TAKEN, now)
        else:
            issued = self.tokens.issue(registration.id)
            expires_at = now + timedelta(seconds=self.policy.confirmation_ttl_s)
            registration.request_confirmation(issued.nonce, issued.token_hash, expires_at, now)
        return [registration, *counters]

    def _check_customer_wide(self, by_customer: AttemptCounter, by_pair: AttemptCounter, now: datetime) -> None:
        """The customer-wide limit stops guessing spread over many addresses without keeping the real customer out:
        while it holds, an address with nothing against it for this customer still gets its attempt (one: a failed
        one counts against the address), every other is refused."""
        try:
            by_customer.check(now, self.policy.per_customer)
        except TooManyAttempts:
            if not by_pair.is_clean(now, self.policy.per_customer_at_address):
                raise

    def on_verification_failed(self, registration_id: UUID, reason: str) -> list[Any]:
        registration = self._find(registration_id)
        if registration is None or not registration.is_verifying:
            return []
        now = self.clock()
        why = Reason(reason)
        registration.reject(why, now)
        counters = self._counters_of(registration)
        for counter in counters:
            if why in FAILED_GUESSES:
                counter.record_failure(registration.id, now, self.policy.of(counter.kind))
            else:
                counter.record_resolved(registration.id, now)
        return [registration, *counters]

    # ---- the users' addresses (handlers of the users topic: return what to save) ------------------------

    def on_address_taken(self, email: str, user_id: UUID) -> list[Any]:
        """A user holds ``email`` now (created, or changed to it). Nothing for an erased person (ADR 0035)."""
        holder = self._holder(user_id)
        if holder is not None and holder.erased:
            return []  # a late or replayed event of users never makes an erased person's address taken again
        return [*self._take(email, user_id), *self._hold(holder, user_id, email)]

    def on_address_changed(self, user_id: UUID, email: str, previous_email: str) -> list[Any]:
        holder = self._holder(user_id)
        if holder is not None and holder.erased:
            return []
        released = self._release(previous_email, user_id) if address_key(previous_email) != address_key(email) else []
        return [*released, *self._take(email, user_id), *self._hold(holder, user_id, email)]

    def on_user_erased(self, user_id: UUID, at: datetime) -> list[Any]:
        """users erased the person (ADR 0035): the address they hold is free again (and no longer kept in its
        index's state), and they are remembered as erased — also one registration never knew, so that an older
        event of users arriving later cannot make their address taken. Erasing twice changes nothing."""
        holder = self._holder(user_id)
        if holder is not None and holder.erased:
            return []
        if holder is None:
            # known from before the holders existed (or not at all): their address is found in the index's events
            address_ids = self._addresses_taken_by(user_id)
            holder = AddressHolder.known(user_id, None)
        else:
            address_ids = {holder.address_id} if holder.address_id is not None else set()
        freed: list[Any] = []
        for address_id in sorted(address_ids):
            taken = self.find(address_id, TakenAddress)
            if taken is not None:
                taken.erase(user_id, at)
                freed.extend([taken] if taken.pending_events else [])
        holder.erase(at)
        return [holder, *freed]

    def is_erased(self, user_id: UUID) -> bool:
        holder = self._holder(user_id)
        return holder is not None and holder.erased

    def address_ids(self, email: str) -> tuple[UUID, UUID]:
        """The ids of an address's index: its blind index (ADR 0035 decision 4), then its legacy ``uuid5`` id
        (taken before the blind index; read only while the blind index of the address is not stored)."""
        key = address_key(email)
        return self._address_index.id(key), TakenAddress.create_id(key)

    def _take(self, email: str, user_id: UUID) -> list[Any]:
        """The address is ``user_id``'s now, in its blind index. An index under the address's legacy id moves
        there: released in the same save (from then on the blind index alone decides)."""
        index_id, legacy_id = self.address_ids(email)
        found = self.find(index_id, TakenAddress)
        if found is not None:
            found.take(user_id)
            return [found] if found.pending_events else []
        legacy = self.find(legacy_id, TakenAddress)
        moved: list[Any] = []
        if legacy is not None and legacy.user_id is not None:
            legacy.release(legacy.user_id)
            moved.append(legacy)
        return [TakenAddress.claim(index_id, user_id), *moved]

    def _release(self, email: str, user_id: UUID) -> list[Any]:
        """The address is no longer ``user_id``'s: wherever its index names them (blind or, not moved yet,
        legacy)."""
        released = []
        for index_id in self.address_ids(email):
            taken = self.find(index_id, TakenAddress)
            if taken is not None and taken.user_id == user_id:
                taken.release(user_id)
                released.append(taken)
        return released

    def _hold(self, holder: AddressHolder | None, user_id: UUID, email: str) -> list[Any]:
        address_id = self.address_ids(email)[0]
        if holder is None:
            return [AddressHolder.known(user_id, address_id)]
        holder.hold(address_id)
        return [holder] if holder.pending_events else []

    def _holder(self, user_id: UUID) -> AddressHolder | None:
        return self.find(AddressHolder.create_id(user_id), AddressHolder)

    def _addresses_taken_by(self, user_id: UUID, page: int = 1000) -> set[UUID]:
        """The ids of the address index that ever named ``user_id`` as holder, from the index's own events (a
        scan of those only; erasure is rare). Whether the user still holds one is for the caller to check."""
        topics = [get_topic(TakenAddress.Taken), get_topic(TakenAddress.TakenAgain)]
        found: set[UUID] = set()
        start = 1
        while True:
            notifications = self.recorder.select_notifications(start, page, topics=topics)
            for notification in notifications:
                taken = self.mapper.to_domain_event(notification)
                if str(getattr(taken, "user_id", "")) == str(user_id):
                    found.add(taken.originator_id)
            if len(notifications) < page:
                return found
            start = notifications[-1].id + 1

    def on_completion_refused(self, registration_id: UUID, reason: str) -> list[Any]:
        """users refused the completion (the address was taken meanwhile): the applicant sees the attempt
        rejected, and the customer is not registered (it may register again with another address)."""
        registration = self._find(registration_id)
        if registration is None:
            return []
        registration.refuse_completion(Reason(reason), self.clock())
        out: list[Any] = [registration] if registration.pending_events else []
        account = self._account(registration.customer_number)
        if account is not None:
            account.release(registration_id)
            out.extend([account] if account.pending_events else [])
        return out

    def email_taken(self, email: str) -> bool:
        found = self._taken(email)
        return found is not None and found.taken

    def _taken(self, email: str) -> TakenAddress | None:
        """The address's index: its blind index if stored, else the one under its legacy id (None: neither)."""
        index_id, legacy_id = self.address_ids(email)
        return self.find(index_id, TakenAddress) or self.find(legacy_id, TakenAddress)

    # ---- queries --------------------------------------------------------------------------------------

    def registration(self, registration_id: UUID) -> Registration:
        found = self._find(registration_id)
        if found is None:
            raise RegistrationNotFound("Not found.")
        return found

    def counter(self, kind: CounterKind, key: str) -> AttemptCounter | None:
        """The counter of a customer number or client address: for an address its blind index, else the one made
        under its ``uuid5`` id before (kept and counted on: a lockout in force stays in force)."""
        for counter_id in self.counter_ids(kind, key):
            found = self.find(counter_id, AttemptCounter)
            if found is not None:
                return found
        return None

    def counter_ids(self, kind: CounterKind, key: str) -> tuple[UUID, ...]:
        """Where the counter of ``key`` is: its blind index id then its legacy id (a client address's), or its id."""
        if kind in ADDRESS_KINDS:
            return self._counter_index.id(f"{kind}/{key}"), AttemptCounter.create_id(kind, key)
        return (AttemptCounter.create_id(kind, key),)

    def attempts_of_customer(self, customer_number: str, limit: int = 100) -> list[Registration]:
        """Every attempt for a customer number, newest first (successful or not, refused ones included)."""
        ids: list[UUID] = []
        for e in self._history(AttemptCounter.create_id(CounterKind.CUSTOMER_NUMBER, customer_number)):
            if isinstance(e, AttemptCounter.AttemptRecorded | AttemptCounter.AttemptRefused):
                ids.append(UUID(str(e.registration_id)))
                if len(ids) >= limit:
                    break
        return [self.registration(i) for i in ids]

    def history(self, aggregate_id: UUID) -> list[RecordedEvent]:
        """The events of an aggregate, oldest first, without token material."""
        events = sorted(self._history(aggregate_id), key=lambda e: e.originator_version)
        return [
            RecordedEvent(
                name=type(e).__qualname__.rsplit(".", 1)[-1],
                version=e.originator_version,
                at=e.timestamp,
                data={k: v for k, v in vars(e).items() if k not in _HIDDEN_FIELDS},
            )
            for e in events
        ]

    # ---- helpers --------------------------------------------------------------------------------------

    def _history(self, aggregate_id: UUID, page: int = 500) -> Iterator[Any]:
        """Newest first, page by page."""
        below: int | None = None
        while True:
            chunk = list(self.events.get(aggregate_id, lte=below, desc=True, limit=page))
            yield from chunk
            if len(chunk) < page:
                return
            below = chunk[-1].originator_version - 1

    def _serialised(self, *keys: UUID) -> ExitStack:
        stack = ExitStack()
        for index in sorted({k.int % LOCK_STRIPES for k in keys}):  # one order everywhere: no deadlock
            stack.enter_context(self._stripes[index])
        return stack

    def _snapshot(self, before: dict[UUID, int], *counters: AttemptCounter) -> None:
        """Snapshot the counters whose last save crossed a multiple of the interval (best effort)."""
        for counter in counters:
            if counter.version // SNAPSHOT_INTERVAL > before[counter.id] // SNAPSHOT_INTERVAL:
                try:
                    self.take_snapshot(counter.id, version=counter.version)
                except Exception as exc:  # e.g. another process took it; the events are the truth anyway
                    log.info("snapshot not taken", aggregate=str(counter.id), error=repr(exc))

    def _saved(self, *aggregates: Any) -> bool:
        """Save; False when a concurrent change got there first (the command reloads and tries again)."""
        try:
            self.save(*aggregates)
        except IntegrityError:
            return False
        return True

    def _find(self, registration_id: UUID) -> Registration | None:
        return self.find(registration_id, Registration)

    def _registered(self, customer_number: str) -> bool:
        account = self._account(customer_number)
        return account is not None and not account.released

    def _account(self, customer_number: str) -> CustomerAccount | None:
        try:
            account: CustomerAccount = self.repository.get(CustomerAccount.create_id(customer_number))
        except AggregateNotFoundError:
            return None
        return account

    def _counter(self, kind: CounterKind, key: str) -> AttemptCounter:
        found = self.counter(kind, key)
        if found is not None:
            return found
        if kind in ADDRESS_KINDS:
            return AttemptCounter.blind(self.counter_ids(kind, key)[0], kind)
        return AttemptCounter(kind=kind, key=key)

    def _counters_of(self, registration: Registration) -> list[AttemptCounter]:
        found = [self.counter(CounterKind.CUSTOMER_NUMBER, registration.customer_number)]
        address = registration.client_address
        if address is not None:  # None: the applicant's person was erased, their address with them
            found += [
                self.counter(CounterKind.CLIENT_ADDRESS, address),
                self.counter(
                    CounterKind.CUSTOMER_AT_ADDRESS, customer_at_address(registration.customer_number, address)
                ),
            ]
        return [c for c in found if c is not None]
