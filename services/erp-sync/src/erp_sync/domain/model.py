"""ERP exchange records of what customers maintain themselves: released orders and contact persons.

Each exchange keeps the delivery of its latest message to the ERP:

``requested`` (stored; the outbox relay publishes it — *sent* once the relay's position passed it) →
``acknowledged`` (the ERP answered: an order confirmed or rejected, a contact applied) or, when the ERP stays
silent, re-sent with the same idempotency key and a rising ``attempt`` (backoff of :class:`RetryPolicy`) until
``failed`` (given up: dead-lettered, waiting for an operator's retry). The lifecycle is :class:`Delivery`, written
once: customer verifications (:mod:`erp_sync.domain.verification`) are deliveries too.

Time never comes from inside: the caller passes ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

_NS = uuid5(NAMESPACE_URL, "urn:kundencenter:erp-sync")


class DeliveryStatus(StrEnum):
    _value_: Literal["requested", "acknowledged", "failed"]  # the type of .value: the literals the API shows
    REQUESTED = "requested"
    """stored, published by the relay, waiting for the ERP's answer"""
    ACKNOWLEDGED = "acknowledged"
    """the ERP answered"""
    FAILED = "failed"
    """the ERP never answered: dead-lettered, waits for an operator"""


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff of the messages the ERP leaves unanswered: ``initial_s``, doubling up to ``max_s``; after
    ``give_up_after_s`` the delivery is given up (failed; for a verification: abandoned, and the registration is
    told the ERP was unavailable)."""

    initial_s: float = 5.0
    max_s: float = 300.0
    give_up_after_s: float = 24 * 3600.0

    def delay(self, attempt: int) -> timedelta:
        """The wait after the ``attempt``-th message."""
        return timedelta(seconds=min(self.initial_s * 2 ** max(0, attempt - 1), self.max_s))


class Delivery:
    """The delivery of an exchange's latest message, written once for every exchange that waits for the ERP's answer:
    when it is due again, sending it again (same key, rising attempt) or giving up after the policy's window, and an
    operator's retry after that. The exchange records the two decisions as its own events (:meth:`_send_again`,
    :meth:`_give_up`), whose methods apply them with :meth:`_sent_again` and :meth:`_gave_up`."""

    status: DeliveryStatus
    attempts: int
    last_attempt_at: datetime
    window_started_at: datetime
    failed_at: datetime | None

    def _deliver_from(self, at: datetime) -> None:
        """The first message is being sent now (called where the exchange is created)."""
        self.status = DeliveryStatus.REQUESTED
        self.attempts = 1
        self.last_attempt_at = at
        self.window_started_at = at
        self.failed_at = None

    def due_at(self, policy: RetryPolicy) -> datetime | None:
        """When the unanswered message is to be sent again (None: it is not waiting for an answer)."""
        if self.status is not DeliveryStatus.REQUESTED:
            return None
        return self.last_attempt_at + policy.delay(self.attempts)

    def resend_if_due(self, now: datetime, policy: RetryPolicy) -> None:
        """Send the message again when its answer is overdue; give up after the policy's window."""
        due = self.due_at(policy)
        if due is None or now < due:
            return
        if now - self.window_started_at >= timedelta(seconds=policy.give_up_after_s):
            self._give_up(now)
        else:
            self._send_again(self.attempts + 1, now, by_operator=False)

    def retry(self, now: datetime) -> bool:
        """An operator's retry (after the dead letter): send again now, with a fresh window. False when the ERP
        has answered already."""
        if self.status is DeliveryStatus.ACKNOWLEDGED:
            return False
        self._send_again(self.attempts + 1, now, by_operator=True)
        return True

    def _send_again(self, attempt: int, at: datetime, by_operator: bool) -> None:
        raise NotImplementedError  # the exchange's Resent event

    def _give_up(self, at: datetime) -> None:
        raise NotImplementedError  # the exchange's Failed event

    def _sent_again(self, attempt: int, at: datetime, by_operator: bool) -> None:
        self.attempts = attempt
        self.last_attempt_at = at
        self.status = DeliveryStatus.REQUESTED
        if by_operator:
            self.window_started_at = at
            self.failed_at = None

    def _gave_up(self, at: datetime) -> None:
        self.status = DeliveryStatus.FAILED
        self.failed_at = at


class SalesOrderExchange(Delivery, Aggregate):
    """The exchange of one released order with the ERP. One per order: its id derives from the order id."""

    @staticmethod
    def create_id(order_id: UUID) -> UUID:
        return uuid5(_NS, f"sales-order/{order_id}")

    class Requested(Aggregate.Created):
        order_id: UUID
        company_id: UUID
        request: dict[str, Any]
        requested_at: datetime
        awaits_answer: bool = False

    @event(Requested)
    def __init__(
        self,
        order_id: UUID,
        company_id: UUID,
        request: dict[str, Any],
        requested_at: datetime,
        awaits_answer: bool = False,
    ) -> None:
        self.order_id = order_id
        self.company_id = company_id
        self.request = request
        self.requested_at = requested_at
        self.awaits_answer = awaits_answer
        """False for exchanges recorded before the ERP answered sales orders: never sent again, never failed."""
        self._deliver_from(requested_at)
        self.outcome: Literal["confirmed", "rejected"] | None = None
        self.erp_order_number: str | None = None
        self.rejection_reason: str | None = None
        self.answered_at: datetime | None = None

    @property
    def idempotency_key(self) -> str:
        return f"sales-order/{self.order_id}"

    @property
    def customer_number(self) -> str | None:
        return self.request.get("customer_number")

    # ---- the ERP's silence ----------------------------------------------------------------------------------

    def due_at(self, policy: RetryPolicy) -> datetime | None:
        return super().due_at(policy) if self.awaits_answer else None

    def _send_again(self, attempt: int, at: datetime, by_operator: bool) -> None:
        self._resent(order_id=self.order_id, attempt=attempt, at=at, by_operator=by_operator, request=self.request)

    def _give_up(self, at: datetime) -> None:
        self._failed(order_id=self.order_id, attempts=self.attempts, at=at, request=self.request)

    # (Resent and Failed carry the request, so that the relay and the dead-letter writer need not load anything.)
    class Resent(Aggregate.Event):
        order_id: UUID
        attempt: int
        at: datetime
        by_operator: bool
        request: dict[str, Any]

    @event(Resent)
    def _resent(self, order_id: UUID, attempt: int, at: datetime, by_operator: bool, request: dict[str, Any]) -> None:
        self._sent_again(attempt, at, by_operator)
        if by_operator:
            self.awaits_answer = True

    class Failed(Aggregate.Event):
        order_id: UUID
        attempts: int
        at: datetime
        request: dict[str, Any]

    @event(Failed)
    def _failed(self, order_id: UUID, attempts: int, at: datetime, request: dict[str, Any]) -> None:
        self._gave_up(at)

    # ---- the ERP's answer -----------------------------------------------------------------------------------

    def confirm(self, erp_order_number: str, at: datetime) -> None:
        """The ERP created the sales order. Only the first answer counts (copies answer copies)."""
        if self.status is not DeliveryStatus.ACKNOWLEDGED:
            self._confirmed(
                order_id=self.order_id, company_id=self.company_id, erp_order_number=erp_order_number, at=at
            )

    class Confirmed(Aggregate.Event):
        order_id: UUID
        company_id: UUID
        erp_order_number: str
        at: datetime

    @event(Confirmed)
    def _confirmed(self, order_id: UUID, company_id: UUID, erp_order_number: str, at: datetime) -> None:
        self.status = DeliveryStatus.ACKNOWLEDGED
        self.outcome = "confirmed"
        self.erp_order_number = erp_order_number
        self.answered_at = at

    def reject(self, reason: str, reason_code: str | None, at: datetime) -> None:
        """The ERP refused the order. Only the first answer counts."""
        if self.status is not DeliveryStatus.ACKNOWLEDGED:
            self._rejected(
                order_id=self.order_id, company_id=self.company_id, reason=reason, reason_code=reason_code, at=at
            )

    class Rejected(Aggregate.Event):
        order_id: UUID
        company_id: UUID
        reason: str
        reason_code: str | None
        at: datetime

    @event(Rejected)
    def _rejected(self, order_id: UUID, company_id: UUID, reason: str, reason_code: str | None, at: datetime) -> None:
        self.status = DeliveryStatus.ACKNOWLEDGED
        self.outcome = "rejected"
        self.rejection_reason = reason
        self.answered_at = at


ContactMessage = Literal["created", "changed", "deactivated", "erasure_requested"]
"""What a contact's message to the ERP says (``erasure_requested``: the last one, ADR 0035)."""

CONTACT_FIELDS = ("customer_number", "email", "first_name", "last_name", "language", "active", "is_main_contact")


class ContactExchange(Delivery, Aggregate):
    """What the ERP was told about one contact person (a shop user). One per user.

    Every change is a new message (``sequence`` + 1, key ``contact/<user id>/<sequence>``) carrying the whole
    state; only the latest message is delivered (re-sent, failed), since it supersedes the ones before.

    Once users erased the person (ADR 0035, :meth:`erase`) the exchange keeps ids only: names and e-mail are
    forgotten, the last message asks the ERP to erase its contact person (delivered like every message, answered
    by the ERP's ``ContactErased``: :meth:`record_erp_erasure`), and no later change of users is sent or kept.
    A person erased before erp-sync knew them is remembered as erased (:meth:`erased_before_known`, a tombstone
    that sends nothing).
    """

    erased_at: datetime | None = None
    """users erased the person (ADR 0035); a class default, so an exchange stored before reads as not erased"""
    erp_erased_at: datetime | None = None
    """the ERP answered that it erased (or anonymised) its contact person"""

    @staticmethod
    def create_id(user_id: UUID) -> UUID:
        return uuid5(_NS, f"contact/{user_id}")

    class Created(Aggregate.Created):
        user_id: UUID
        company_id: UUID
        customer_number: str | None
        email: str
        first_name: str
        last_name: str
        language: str
        active: bool
        is_main_contact: bool
        erp_contact_id: str | None
        at: datetime

    @event(Created)
    def __init__(
        self,
        user_id: UUID,
        company_id: UUID,
        at: datetime,
        customer_number: str | None = None,
        email: str = "",
        first_name: str = "",
        last_name: str = "",
        language: str = "",
        active: bool = False,
        is_main_contact: bool = False,
        erp_contact_id: str | None = None,
    ) -> None:
        # (defaults: what the tombstone of :meth:`erased_before_known` starts from; a Created event names them all)
        self.user_id = user_id
        self.company_id = company_id
        self.customer_number = customer_number
        self.email = email
        self.first_name = first_name
        self.last_name = last_name
        self.language = language
        self.active = active
        self.is_main_contact = is_main_contact
        self.erp_contact_id = erp_contact_id
        self.created_at = at
        self.sequence = 1
        self.message: ContactMessage = "created"
        """What the latest message says: created, changed or deactivated."""
        self.changed: list[str] = []
        self.message_at = at
        self._deliver_from(at)
        self.acknowledged_at: datetime | None = None

    @classmethod
    def erased_before_known(cls, user_id: UUID, company_id: UUID, at: datetime) -> ContactExchange:
        """A person users erased before erp-sync knew them (ADR 0035): remembered as erased — ids and time only —
        so that a creation or change of users delivered later (a dead letter retried) tells the ERP nothing.
        Sends nothing: the ERP never heard of them from us."""
        return cls._create(cls.ErasedBeforeKnown, id=cls.create_id(user_id), user_id=user_id, company_id=company_id,
                           at=at)  # fmt: skip

    class ErasedBeforeKnown(Aggregate.Created):
        user_id: UUID
        company_id: UUID
        at: datetime

        def apply(self, aggregate: Any) -> None:
            aggregate.erased_at = self.at
            aggregate.sequence = 0  # no message
            aggregate.message = "erasure_requested"
            aggregate.status = DeliveryStatus.ACKNOWLEDGED
            aggregate.attempts = 0

    @property
    def erased(self) -> bool:
        return self.erased_at is not None

    @property
    def idempotency_key(self) -> str:
        return self.key_of(self.user_id, self.sequence)

    @staticmethod
    def key_of(user_id: UUID, sequence: int) -> str:
        return f"contact/{user_id}/{sequence}"

    def state(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in CONTACT_FIELDS}

    # ---- changes in the Kundencenter ------------------------------------------------------------------------

    def change(self, at: datetime, **changes: Any) -> None:
        """Apply what changed (names, e-mail, status, main-contact role, a newly known customer number); a new
        message only when something the ERP keeps changed."""
        unknown = set(changes) - set(CONTACT_FIELDS)
        if unknown:
            raise ValueError(f"not a contact field: {sorted(unknown)}")
        if self.erased:  # a change told before the erasure, delivered after it: never sent, never kept
            return
        new = {**self.state(), **{k: v for k, v in changes.items() if v is not None}}
        if new == self.state():
            return
        changed = []
        if (new["first_name"], new["last_name"]) != (self.first_name, self.last_name):
            changed.append("name")
        if new["email"] != self.email:
            changed.append("email")
        if new["active"] != self.active:
            changed.append("active")
        if new["is_main_contact"] != self.is_main_contact:
            changed.append("main_contact")
        if not changed:  # only the customer number (or language) became known: ride along with the next message
            self._amended(customer_number=new["customer_number"], language=new["language"])
            return
        sequence, user_id, company_id, erp_contact_id = (
            self.sequence + 1,
            self.user_id,
            self.company_id,
            self.erp_contact_id,
        )
        if changed == ["active"] and not new["active"]:
            self._deactivated(
                sequence=sequence,
                user_id=user_id,
                company_id=company_id,
                erp_contact_id=erp_contact_id,
                state=new,
                at=at,
            )
        else:
            self._changed(
                sequence=sequence, user_id=user_id, company_id=company_id, erp_contact_id=erp_contact_id, state=new,
                changed=changed, at=at,
            )  # fmt: skip

    class Amended(Aggregate.Event):
        customer_number: str | None
        language: str

    @event(Amended)
    def _amended(self, customer_number: str | None, language: str) -> None:
        self.customer_number = customer_number
        self.language = language

    def _new_message(
        self, sequence: int, state: dict[str, Any], message: ContactMessage, changed: list[str], at: datetime
    ) -> None:
        for name in CONTACT_FIELDS:
            setattr(self, name, state[name])
        self.sequence = sequence
        self.message = message
        self.changed = list(changed)
        self.message_at = at
        self.status = DeliveryStatus.REQUESTED
        self.attempts = 1
        self.last_attempt_at = at
        self.window_started_at = at
        self.failed_at = None

    class Changed(Aggregate.Event):
        sequence: int
        user_id: UUID
        company_id: UUID
        erp_contact_id: str | None
        state: dict[str, Any]
        changed: list[str]
        at: datetime

    @event(Changed)
    def _changed(
        self,
        sequence: int,
        user_id: UUID,
        company_id: UUID,
        erp_contact_id: str | None,
        state: dict[str, Any],
        changed: list[str],
        at: datetime,
    ) -> None:
        self._new_message(sequence, state, "changed", changed, at)

    class Deactivated(Aggregate.Event):
        sequence: int
        user_id: UUID
        company_id: UUID
        erp_contact_id: str | None
        state: dict[str, Any]
        at: datetime

    @event(Deactivated)
    def _deactivated(
        self,
        sequence: int,
        user_id: UUID,
        company_id: UUID,
        erp_contact_id: str | None,
        state: dict[str, Any],
        at: datetime,
    ) -> None:
        self._new_message(sequence, state, "deactivated", ["active"], at)

    # ---- erasure (ADR 0035) ---------------------------------------------------------------------------------

    def erase(self, at: datetime) -> None:
        """users erased the person: forget their names and e-mail, and ask the ERP to erase its contact person —
        the last message about them (a new sequence, delivered, re-sent and dead-lettered as every message; it
        names ids only). Erasing twice changes nothing."""
        if self.erased:
            return
        self._erased(
            sequence=self.sequence + 1, user_id=self.user_id, company_id=self.company_id,
            customer_number=self.customer_number, erp_contact_id=self.erp_contact_id, at=at,
        )  # fmt: skip

    class Erased(Aggregate.Event):
        """Names no personal value: what the ERP is asked, by ids."""

        sequence: int
        user_id: UUID
        company_id: UUID
        customer_number: str | None
        erp_contact_id: str | None
        at: datetime

    @event(Erased)
    def _erased(
        self,
        sequence: int,
        user_id: UUID,
        company_id: UUID,
        customer_number: str | None,
        erp_contact_id: str | None,
        at: datetime,
    ) -> None:
        self.email = self.first_name = self.last_name = ""
        self.active = False
        self.erased_at = at
        self.sequence = sequence
        self.message = "erasure_requested"
        self.changed = []
        self.message_at = at
        self._deliver_from(at)

    def record_erp_erasure(self, sequence: int | None, erp_contact_id: str | None, at: datetime) -> None:
        """The ERP erased its contact person, answering the erasure request ``sequence``: settles its delivery.
        Only the first answer counts (copies answer copies); an answer to anything else changes nothing."""
        if not self.erased or self.message != "erasure_requested" or sequence != self.sequence:
            return
        if self.erp_erased_at is not None:
            return
        self._erp_erased(
            user_id=self.user_id, sequence=sequence, erp_contact_id=erp_contact_id or self.erp_contact_id, at=at
        )

    class ErpErased(Aggregate.Event):
        user_id: UUID
        sequence: int
        erp_contact_id: str | None
        at: datetime

    @event(ErpErased)
    def _erp_erased(self, user_id: UUID, sequence: int, erp_contact_id: str | None, at: datetime) -> None:
        self.erp_contact_id = erp_contact_id
        self.erp_erased_at = at
        self.status = DeliveryStatus.ACKNOWLEDGED
        self.acknowledged_at = at
        self.failed_at = None

    def message_state(self) -> dict[str, Any]:
        """The latest message, whole: what is sent again, or dead-lettered."""
        return {
            "message": self.message,
            "sequence": self.sequence,
            "user_id": self.user_id,
            "company_id": self.company_id,
            "erp_contact_id": self.erp_contact_id,
            "changed": list(self.changed),
            "at": self.message_at,
            "state": self.state(),
        }

    # ---- the ERP's silence ----------------------------------------------------------------------------------

    def _send_again(self, attempt: int, at: datetime, by_operator: bool) -> None:
        self._resent(
            user_id=self.user_id, attempt=attempt, at=at, by_operator=by_operator, message=self.message_state()
        )

    def _give_up(self, at: datetime) -> None:
        self._failed(user_id=self.user_id, attempts=self.attempts, at=at, message=self.message_state())

    # (Resent and Failed carry the message, so that the relay and the dead-letter writer need not load anything.)
    class Resent(Aggregate.Event):
        user_id: UUID
        attempt: int
        at: datetime
        by_operator: bool
        message: dict[str, Any]

    @event(Resent)
    def _resent(self, user_id: UUID, attempt: int, at: datetime, by_operator: bool, message: dict[str, Any]) -> None:
        self._sent_again(attempt, at, by_operator)

    class Failed(Aggregate.Event):
        user_id: UUID
        attempts: int
        at: datetime
        message: dict[str, Any]

    @event(Failed)
    def _failed(self, user_id: UUID, attempts: int, at: datetime, message: dict[str, Any]) -> None:
        self._gave_up(at)

    # ---- the ERP's answer -----------------------------------------------------------------------------------

    def acknowledge(self, sequence: int | None, erp_contact_id: str | None, at: datetime) -> None:
        """The ERP applied message ``sequence`` (None: it changed the contact on its own) and keeps the contact
        as ``erp_contact_id``. Settles the delivery when it answers the latest message."""
        settles = (
            sequence == self.sequence
            and self.status is not DeliveryStatus.ACKNOWLEDGED
            and self.message != "erasure_requested"  # only ContactErased answers it
        )
        new_id = bool(erp_contact_id) and erp_contact_id != self.erp_contact_id
        if settles or new_id:
            self._acknowledged(
                user_id=self.user_id,
                sequence=sequence,
                erp_contact_id=erp_contact_id or self.erp_contact_id,
                settles=settles,
                at=at,
            )

    class Acknowledged(Aggregate.Event):
        user_id: UUID
        sequence: int | None
        erp_contact_id: str | None
        settles: bool
        at: datetime

    @event(Acknowledged)
    def _acknowledged(
        self, user_id: UUID, sequence: int | None, erp_contact_id: str | None, settles: bool, at: datetime
    ) -> None:
        self.erp_contact_id = erp_contact_id
        if settles:
            self.status = DeliveryStatus.ACKNOWLEDGED
            self.acknowledged_at = at
            self.failed_at = None

    @staticmethod
    def sequence_of(idempotency_key: str | None, user_id: UUID) -> int | None:
        """The sequence a key of ours names (None: not a key of this contact's messages)."""
        prefix = f"contact/{user_id}/"
        if not idempotency_key or not idempotency_key.startswith(prefix):
            return None
        tail = idempotency_key.removeprefix(prefix)
        return int(tail) if tail.isdigit() else None
