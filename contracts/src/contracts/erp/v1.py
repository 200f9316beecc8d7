"""ERP-facing messages, major version 1: what an ERP integration team implements against.

Two topic families, deliberately stable and apart from the services' own topics:

* ``erp.outbound.*`` — written by the Kundencenter (erp-sync), read by the ERP: customer-center activations,
  contact persons, sales-order requests, customer verifications.
* ``erp.inbound.*`` — written by the ERP (or its middleware), read by erp-sync: answers to verifications,
  sales-order confirmations and rejections, customer master data, contact persons, invoices.

Rules of the exchange:

* Every outbound message carries an ``idempotency_key``. The ERP must treat a second message with the same key as
  the same request (apply it once, answer it again): messages are delivered at least once, are re-sent while
  the ERP has not answered, and are replayed after an ERP restore.
* Every message carries the header envelope (``kc-event-id``, ``kc-event-type``, ``kc-schema-version``,
  ``kc-occurred-at``, ``kc-correlation-id``, ``kc-causation-id``, ``kc-producer``,
  ``kc-source-notification-id``). Messages the ERP writes must carry it too, with a
  ``kc-source-notification-id`` that rises per partition (e.g. the middleware's outbox sequence): erp-sync skips
  a message at or below the last id it applied from that producer and partition.
* Answers name what they answer: the ``idempotency_key`` of the request (sales orders, verifications) or
  ``in_reply_to`` (contacts, whose messages the ERP may also send unasked).
* Within a major version fields are only added (optional); consumers ignore fields they do not know.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contracts.base import CurrencyCode, Message, Money
from contracts.common import Address, Email, LongText, OrderLine, ShortText

# ---- examples (shown in the AsyncAPI document for the ERP team) -----------------------------------------------

_ADDRESS = {"name": "Muster Maschinenbau GmbH", "street": "Industriestr. 12", "postal_code": "70565",
            "city": "Stuttgart", "country": "DE"}  # fmt: skip
_DELIVERY = {"name": "Muster Maschinenbau GmbH, Werk 2", "street": "Hafenweg 3", "postal_code": "68159",
             "city": "Mannheim", "country": "DE", "additional": "Rampe 3"}  # fmt: skip
_ORDER_ID = "6b0f4a4e-2f7c-4f8e-9d43-3f5b0a9b7c11"
_COMPANY_ID = "0d7b2c4e-5a1f-5c3b-8e9d-2a4f6b8c0e13"
_USER_ID = "9a3e7c51-1b2d-4e6f-8a0b-c4d5e6f7a8b9"
_APPROVER_ID = "2c4e6a8b-0d1f-4a3c-9e5b-7d9f1a3c5e70"


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)})


class ContactReference(BaseModel):
    """Who a person in an order is: the Kundencenter's user id, and the ERP's contact id where known."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    user_id: UUID
    erp_contact_id: ShortText | None = None
    email: Email | None = None
    first_name: ShortText | None = None
    last_name: ShortText | None = None


# ---- erp.outbound.sales-orders.v1 ------------------------------------------------------------------------------


class SalesOrderRequested(Message):
    """``erp.outbound.sales-orders.v1``: create this sales order. Key: order id.

    The order as the customer released it (within the buyer's budget, or approved, possibly after the approver
    changed it). Totals are recomputed by the Kundencenter from the lines. The ERP answers on
    ``erp.inbound.sales-order-confirmations.v1`` with ``SalesOrderConfirmed`` (its order number) or
    ``SalesOrderRejected``. Unanswered requests are sent again with the same ``idempotency_key`` and a higher
    ``attempt``; the ERP creates the sales order once and answers every copy the same way.
    """

    model_config = _examples(
        {
            "idempotency_key": f"sales-order/{_ORDER_ID}",
            "order_id": _ORDER_ID,
            "company_id": _COMPANY_ID,
            "customer_number": "10001",
            "buyer_id": _USER_ID,
            "approved_by": _APPROVER_ID,
            "lines": [
                {
                    "sku": "A-100",
                    "description": "Schraube M8",
                    "quantity": 12,
                    "unit_price": {"amount": "9.90", "currency": "EUR"},
                    "line_total": {"amount": "118.80", "currency": "EUR"},
                },
            ],
            "total": {"amount": "118.80", "currency": "EUR"},
            "total_quantity": 12,
            "delivery_address": _DELIVERY,
            "billing_address": _ADDRESS,
            "payment_method": "invoice",
            "shipping_method": "standard",
            "buyer_comment": "Bitte an Rampe 3 liefern",
            "reference": "PO-4711",
            "buyer": {
                "user_id": _USER_ID,
                "erp_contact_id": "10001-1",
                "email": "anna.muster@example.com",
                "first_name": "Anna",
                "last_name": "Muster",
            },
            "approver": {
                "user_id": _APPROVER_ID,
                "erp_contact_id": None,
                "email": "max.beispiel@example.com",
                "first_name": "Max",
                "last_name": "Beispiel",
            },
            "released_at": "2026-03-02T09:14:03.120000Z",
            "requested_at": "2026-03-02T09:14:03.410000Z",
            "attempt": 1,
        }
    )

    event_type = "SalesOrderRequested"

    idempotency_key: str = Field(description="Stable per order: the same order is always the same request")
    order_id: UUID
    company_id: UUID
    customer_number: str | None = Field(
        default=None,
        description="The ERP's customer number, as the customer registered with it (absent only when erp-sync "
        "has not seen the registration yet; the company id then maps it, see CustomerCenterActivated)",
    )
    buyer_id: UUID
    approved_by: UUID | None = Field(default=None, description="The approver; null when released within budget")
    lines: list[OrderLine] = Field(min_length=1)
    total: Money
    delivery_address: Address
    billing_address: Address
    payment_method: ShortText
    shipping_method: ShortText
    buyer_comment: LongText | None = None
    reference: ShortText | None = Field(default=None, description="The customer's order reference or cost centre")
    requested_at: datetime
    total_quantity: int | None = Field(default=None, description="Sum of the lines' quantities")
    buyer: ContactReference | None = Field(default=None, description="The buyer, as a contact person")
    approver: ContactReference | None = Field(default=None, description="The approver, as a contact person")
    released_at: datetime | None = Field(default=None, description="When the customer released the order")
    attempt: int = Field(default=1, ge=1, description="1 for the first copy; higher for copies sent again")
    bundled_orders: list[UUID] = Field(
        default_factory=list,
        description="Several orders of the customer bundled into this one sales order by an approver (empty: one "
        "order). `order_id` is then the bundle's id, `buyer` the approver who bundled them, and each line names "
        "the order and line it came from in `origin`.",
    )


# ---- erp.outbound.customer-verifications.v1 -------------------------------------------------------------------


class CustomerVerificationRequested(Message):
    """``erp.outbound.customer-verifications.v1``: does this customer exist, is the invoice its own, and may it
    use the customer center? Key: customer number.

    Sent again with the same ``idempotency_key`` (and a higher ``attempt``) while no answer arrives; the ERP
    answers every copy the same way, on ``erp.inbound.customer-verification-results.v1``.
    """

    model_config = _examples(
        {
            "idempotency_key": "customer-verification/5f1d2e3c-4b5a-4968-8776-655443322110",
            "verification_id": "5f1d2e3c-4b5a-4968-8776-655443322110",
            "customer_number": "10001",
            "invoice_number": "R-10001-2",
            "attempt": 1,
            "requested_at": "2026-03-01T08:00:00Z",
        }
    )

    event_type = "CustomerVerificationRequested"

    idempotency_key: str = Field(description="Stable per verification: every attempt is the same question")
    verification_id: UUID = Field(description="Echoed in the answer")
    customer_number: ShortText
    invoice_number: ShortText
    attempt: int = Field(default=1, ge=1)
    requested_at: datetime


class ErpContactPerson(BaseModel):
    """A contact person the ERP keeps for a customer."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    contact_id: ShortText
    email: Email | None = Field(default=None, description="As the ERP keeps it; not necessarily valid")
    first_name: ShortText = ""
    last_name: ShortText = ""
    phone: ShortText | None = None


class ErpCustomer(BaseModel):
    """A customer's master data as the ERP keeps it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    customer_number: ShortText
    name: ShortText
    billing_address: Address | None = None
    delivery_addresses: list[Address] = Field(default_factory=list)
    vat_id: ShortText | None = None
    currency: str = "EUR"


class CustomerVerificationAnswered(Message):
    """``erp.inbound.customer-verification-results.v1`` (written by the ERP): the answer to one verification.
    Key: customer number.

    ``outcome`` is checked in this order: ``unknown_customer``, ``invoice_mismatch``, ``not_allowed``,
    ``verified``. ``customer`` and ``contacts`` are given only when ``verified``. Like every message, it carries
    the header envelope; ``kc-source-notification-id`` must increase per partition (e.g. the middleware's outbox
    sequence), since consumers skip a message at or below the last id they applied.
    """

    model_config = _examples(
        {
            "idempotency_key": "customer-verification/5f1d2e3c-4b5a-4968-8776-655443322110",
            "verification_id": "5f1d2e3c-4b5a-4968-8776-655443322110",
            "customer_number": "10001",
            "outcome": "verified",
            "customer": {
                "customer_number": "10001",
                "name": "Muster Maschinenbau GmbH",
                "billing_address": _ADDRESS,
                "delivery_addresses": [_DELIVERY],
                "vat_id": "DE811234567",
                "currency": "EUR",
            },
            "contacts": [
                {
                    "contact_id": "10001-1",
                    "email": "anna.muster@example.com",
                    "first_name": "Anna",
                    "last_name": "Muster",
                    "phone": "+49 711 1234-0",
                }
            ],
            "answered_at": "2026-03-01T08:00:01Z",
        },
        {
            "idempotency_key": "customer-verification/0e9d8c7b-6a59-4837-9261-504f3e2d1c0b",
            "verification_id": "0e9d8c7b-6a59-4837-9261-504f3e2d1c0b",
            "customer_number": "10003",
            "outcome": "not_allowed",
            "answered_at": "2026-03-01T08:00:02Z",
        },
    )

    event_type = "CustomerVerificationAnswered"

    idempotency_key: str
    verification_id: UUID
    customer_number: ShortText
    outcome: Literal["verified", "unknown_customer", "invoice_mismatch", "not_allowed"]
    customer: ErpCustomer | None = None
    contacts: list[ErpContactPerson] = Field(default_factory=list)
    answered_at: datetime


# ---- erp.outbound.customer-center-activations.v1 --------------------------------------------------------------


class CustomerCenterActivated(Message):
    """``erp.outbound.customer-center-activations.v1``: the customer completed its registration; its customer
    center is active and this is its main contact. Key: customer number. One per customer.

    ``company_id`` is the Kundencenter's id of the customer: every other outbound message names it.
    """

    model_config = _examples(
        {
            "idempotency_key": "customer-center-activation/10001",
            "customer_number": "10001",
            "company_id": _COMPANY_ID,
            "registration_id": "5f1d2e3c-4b5a-4968-8776-655443322110",
            "main_contact_email": "anna.muster@example.com",
            "main_contact_first_name": "Anna",
            "main_contact_last_name": "Muster",
            "main_contact_language": "de",
            "activated_at": "2026-03-01T08:05:00Z",
        }
    )

    event_type = "CustomerCenterActivated"

    idempotency_key: str = Field(description="Stable per customer")
    customer_number: ShortText
    company_id: UUID
    registration_id: UUID
    main_contact_email: Email
    main_contact_first_name: ShortText
    main_contact_last_name: ShortText
    main_contact_language: Literal["de", "en"] = "de"
    activated_at: datetime


# ---- erp.outbound.contacts.v1 ---------------------------------------------------------------------------------


class _ContactState(Message):
    """The whole state of a contact person, as every contact message carries it."""

    idempotency_key: str = Field(description="Stable per message: contact/<user id>/<sequence>")
    sequence: int = Field(
        ge=1,
        description="The n-th message about this contact. Apply a message only when its sequence is higher than "
        "the last one applied for the user (a replay may bring older ones again)",
    )
    user_id: UUID = Field(description="The Kundencenter's id of the contact person (a shop user)")
    company_id: UUID
    customer_number: ShortText | None = Field(
        default=None, description="Where erp-sync knows it (see SalesOrderRequested)"
    )
    erp_contact_id: ShortText | None = Field(
        default=None,
        description="The ERP's contact id, where known: the user was taken over from an ERP contact, or the ERP "
        "named its id in an earlier ErpContactChanged",
    )
    email: Email
    first_name: ShortText
    last_name: ShortText
    language: ShortText = Field(default="de", description="de or en")
    active: bool = True
    is_main_contact: bool = False
    attempt: int = Field(default=1, ge=1, description="1 for the first copy; higher for copies sent again")


_CONTACT = {
    "user_id": _USER_ID, "company_id": _COMPANY_ID, "customer_number": "10001", "email": "anna.muster@example.com",
    "first_name": "Anna", "last_name": "Muster", "language": "de", "is_main_contact": False, "attempt": 1,
}  # fmt: skip


class ContactCreated(_ContactState):
    """``erp.outbound.contacts.v1``: a contact person of the customer uses the customer center now (a shop user
    was created, or an ERP contact was taken over: then ``erp_contact_id`` names it). Key: user id.

    The ERP answers on ``erp.inbound.contacts.v1`` with ``ErpContactChanged`` (``in_reply_to`` = this key),
    naming its contact id; until it does, the message is sent again with a higher ``attempt``.
    """

    model_config = _examples(
        {
            **_CONTACT,
            "idempotency_key": f"contact/{_USER_ID}/1",
            "sequence": 1,
            "erp_contact_id": None,
            "active": True,
            "created_at": "2026-03-01T09:00:00Z",
        }
    )

    event_type = "ContactCreated"

    created_at: datetime


class ContactChanged(_ContactState):
    """``erp.outbound.contacts.v1``: a contact person's name, e-mail address, status or main-contact role
    changed (``changed`` names what). Carries the whole new state. Key: user id."""

    model_config = _examples(
        {
            **_CONTACT,
            "idempotency_key": f"contact/{_USER_ID}/2",
            "sequence": 2,
            "erp_contact_id": "C-100017",
            "last_name": "Muster-Weber",
            "active": True,
            "changed": ["name"],
            "changed_at": "2026-03-05T10:30:00Z",
        }
    )

    event_type = "ContactChanged"

    changed: list[Literal["name", "email", "active", "main_contact"]] = Field(default_factory=list)
    changed_at: datetime


class ContactDeactivated(_ContactState):
    """``erp.outbound.contacts.v1``: the contact person no longer uses the customer center (the user was
    deactivated). Carries the last state, with ``active`` false. Key: user id."""

    model_config = _examples(
        {
            **_CONTACT,
            "idempotency_key": f"contact/{_USER_ID}/3",
            "sequence": 3,
            "erp_contact_id": "C-100017",
            "active": False,
            "deactivated_at": "2026-04-01T16:00:00Z",
        }
    )

    event_type = "ContactDeactivated"

    deactivated_at: datetime


class ContactErasureRequested(Message):
    """``erp.outbound.contacts.v1``: the contact person was erased in the Kundencenter on the main contact's
    request (ADR 0035); please erase or anonymise the contact person on your side. Key: user id.

    Carries no personal data: the ERP finds the contact by ``erp_contact_id`` (null when the ERP never named its
    id: then by ``user_id``). The ERP answers on ``erp.inbound.contacts.v1`` with ``ContactErased``
    (``in_reply_to`` = this key); until it does, the message is sent again with a higher ``attempt``. After it
    the Kundencenter sends nothing more about this user.
    """

    model_config = _examples(
        {
            "idempotency_key": f"contact/{_USER_ID}/4",
            "sequence": 4,
            "user_id": _USER_ID,
            "company_id": _COMPANY_ID,
            "customer_number": "10001",
            "erp_contact_id": "C-100017",
            "attempt": 1,
            "requested_at": "2026-05-02T11:00:00Z",
        }
    )

    event_type = "ContactErasureRequested"

    idempotency_key: str = Field(description="Stable per message: contact/<user id>/<sequence>")
    sequence: int = Field(ge=1, description="The n-th message about this contact: the last one")
    user_id: UUID = Field(description="The Kundencenter's id of the contact person (a shop user)")
    company_id: UUID
    customer_number: ShortText | None = Field(default=None, description="Where erp-sync knows it")
    erp_contact_id: ShortText | None = Field(
        default=None, description="The ERP's contact id, where the ERP named it (null: find the contact by user_id)"
    )
    attempt: int = Field(default=1, ge=1, description="1 for the first copy; higher for copies sent again")
    requested_at: datetime


# ---- erp.inbound.sales-order-confirmations.v1 -----------------------------------------------------------------


class SalesOrderConfirmed(Message):
    """``erp.inbound.sales-order-confirmations.v1`` (written by the ERP): the ERP created the sales order.
    Key: order id. ``idempotency_key`` is the request's. The buyer sees ``erp_order_number``."""

    model_config = _examples(
        {
            "idempotency_key": f"sales-order/{_ORDER_ID}",
            "order_id": _ORDER_ID,
            "customer_number": "10001",
            "erp_order_number": "SO-100234",
            "confirmed_at": "2026-03-02T09:14:05Z",
        }
    )

    event_type = "SalesOrderConfirmed"

    idempotency_key: str = Field(description="The key of the SalesOrderRequested this answers")
    order_id: UUID
    customer_number: ShortText | None = None
    erp_order_number: ShortText
    confirmed_at: datetime


class SalesOrderRejected(Message):
    """``erp.inbound.sales-order-confirmations.v1`` (written by the ERP): the ERP refuses the order (e.g. an
    article it does not sell, a blocked customer). Key: order id. The buyer sees ``reason``."""

    model_config = _examples(
        {
            "idempotency_key": f"sales-order/{_ORDER_ID}",
            "order_id": _ORDER_ID,
            "customer_number": "10001",
            "reason": "Article X-999 is not sold any more.",
            "reason_code": "unknown_article",
            "rejected_at": "2026-03-02T09:14:05Z",
        }
    )

    event_type = "SalesOrderRejected"

    idempotency_key: str = Field(description="The key of the SalesOrderRequested this answers")
    order_id: UUID
    customer_number: ShortText | None = None
    reason: LongText = Field(description="Shown to the buyer")
    reason_code: ShortText | None = Field(default=None, description="The ERP's machine-readable reason, if any")
    rejected_at: datetime


# ---- erp.inbound.customers.v1 ---------------------------------------------------------------------------------


class CustomerMasterDataChanged(Message):
    """``erp.inbound.customers.v1`` (written by the ERP): a customer's master data as the ERP now keeps it,
    whole. Key: customer number.

    ``customer_center_allowed`` false revokes the customer center: the company can no longer order through it
    (its users keep reading). True again allows it. Sent for any customer; the Kundencenter ignores customers
    that never registered, except to remember the flag for a later registration.
    """

    model_config = _examples(
        {
            "idempotency_key": "customer/10001/17",
            "customer_number": "10001",
            "customer": {
                "customer_number": "10001",
                "name": "Muster Maschinenbau GmbH",
                "billing_address": _ADDRESS,
                "delivery_addresses": [_DELIVERY],
                "vat_id": "DE811234567",
                "currency": "EUR",
            },
            "customer_center_allowed": False,
            "changed_at": "2026-03-10T07:45:00Z",
        }
    )

    event_type = "CustomerMasterDataChanged"

    idempotency_key: str = Field(description="The ERP's own key of this change (e.g. customer/<number>/<version>)")
    customer_number: ShortText
    customer: ErpCustomer
    customer_center_allowed: bool
    changed_at: datetime


# ---- erp.inbound.customer-credit.v1 ---------------------------------------------------------------------------


class CustomerCreditChanged(Message):
    """``erp.inbound.customer-credit.v1`` (written by the ERP): a customer's credit as the ERP's credit management
    now sees it, whole. Key: customer number.

    ``credit_limit`` is what the ERP lets the customer owe; ``open_receivables`` what it owes on invoices not yet
    paid; ``open_orders`` the value of sales orders the ERP accepted and has not invoiced yet (its credit
    exposure besides the receivables). ``credit_blocked`` true: the customer may not order at all, whatever the
    figures. All amounts in the customer's currency. The Kundencenter holds orders that do not fit into
    ``credit_limit - open_receivables - open_orders`` (less the orders it released that the ERP had not
    confirmed by ``as_of``) and releases them, oldest first, when a later message makes room.

    Send it whenever one of the figures changes (an invoice, a payment, a confirmed sales order, a new limit, a
    block); ``as_of`` is when the figures were taken (the ERP's clock, the same clock as ``confirmed_at`` of the
    sales-order confirmations). Per customer, a message with an ``as_of`` older than the last one applied changes
    nothing. A customer for whom no message was ever sent has no credit check.
    """

    model_config = _examples(
        {
            "idempotency_key": "credit/10001/42",
            "customer_number": "10001",
            "currency": "EUR",
            "credit_limit": "50000.00",
            "open_receivables": "12500.00",
            "open_orders": "3100.00",
            "credit_blocked": False,
            "as_of": "2026-03-10T07:45:00Z",
        }
    )

    event_type = "CustomerCreditChanged"

    idempotency_key: str = Field(description="The ERP's own key of this change (e.g. credit/<number>/<version>)")
    customer_number: ShortText
    currency: CurrencyCode
    credit_limit: Decimal = Field(ge=0, max_digits=18, decimal_places=4)
    open_receivables: Decimal = Field(max_digits=18, decimal_places=4, description="May be negative (a credit note)")
    open_orders: Decimal = Field(
        default=Decimal("0"), ge=0, max_digits=18, decimal_places=4,
        description="Sales orders accepted and not invoiced yet (0 when the ERP counts them in the receivables)",
    )  # fmt: skip
    credit_blocked: bool = Field(default=False, description="True: no order may go on, whatever the figures")
    as_of: datetime = Field(description="When the ERP took these figures (the ERP's clock)")


# ---- erp.inbound.contacts.v1 ----------------------------------------------------------------------------------


class ErpContactChanged(Message):
    """``erp.inbound.contacts.v1`` (written by the ERP): a contact person as the ERP now keeps it, whole.
    Key: customer number.

    The answer to a ``ContactCreated``/``ContactChanged``/``ContactDeactivated`` (``in_reply_to`` its key,
    ``user_id`` the Kundencenter's id), or a change made in the ERP (``in_reply_to`` null). The Kundencenter
    remembers ``contact_id`` and names it in later messages about the same user.
    """

    model_config = _examples(
        {
            "idempotency_key": "erp-contact/C-100017/1",
            "customer_number": "10001",
            "contact_id": "C-100017",
            "user_id": _USER_ID,
            "in_reply_to": f"contact/{_USER_ID}/1",
            "email": "anna.muster@example.com",
            "first_name": "Anna",
            "last_name": "Muster",
            "phone": None,
            "active": True,
            "changed_at": "2026-03-01T09:00:02Z",
        }
    )

    event_type = "ErpContactChanged"

    idempotency_key: str = Field(description="The ERP's own key of this change")
    customer_number: ShortText
    contact_id: ShortText = Field(description="The ERP's id of the contact person")
    user_id: UUID | None = Field(default=None, description="The Kundencenter's user, when the contact is one")
    in_reply_to: str | None = Field(default=None, description="The key of the Kundencenter message this applied")
    email: Email | None = None
    first_name: ShortText = ""
    last_name: ShortText = ""
    phone: ShortText | None = None
    active: bool = True
    changed_at: datetime


class ContactErased(Message):
    """``erp.inbound.contacts.v1`` (written by the ERP): the ERP erased or anonymised the contact person, as a
    ``ContactErasureRequested`` asked (``in_reply_to`` its key). Key: customer number. Carries no personal data.
    The answer to every copy of the request is the same."""

    model_config = _examples(
        {
            "idempotency_key": "erp-contact-erasure/C-100017",
            "customer_number": "10001",
            "contact_id": "C-100017",
            "user_id": _USER_ID,
            "in_reply_to": f"contact/{_USER_ID}/4",
            "erased_at": "2026-05-02T11:00:03Z",
        }
    )

    event_type = "ContactErased"

    idempotency_key: str = Field(description="The ERP's own key of this erasure")
    customer_number: ShortText = ""
    contact_id: ShortText | None = Field(default=None, description="The ERP's id of the erased contact person")
    user_id: UUID = Field(description="The Kundencenter's user the request named")
    in_reply_to: str = Field(description="The key of the ContactErasureRequested this answers")
    erased_at: datetime


# ---- erp.inbound.invoices.v1 ----------------------------------------------------------------------------------


class InvoiceIssued(Message):
    """``erp.inbound.invoices.v1`` (written by the ERP): the ERP issued an invoice to a customer. Key: customer
    number.

    Invoice numbers are what applicants type to prove who they are when they register; the Kundencenter keeps
    the record for support (the verification itself still asks the ERP, which stays the authority).
    """

    model_config = _examples(
        {
            "idempotency_key": "invoice/R-10001-4",
            "customer_number": "10001",
            "invoice_number": "R-10001-4",
            "invoice_date": "2026-03-03",
            "total": {"amount": "1190.00", "currency": "EUR"},
            "issued_at": "2026-03-03T18:00:00Z",
        }
    )

    event_type = "InvoiceIssued"

    idempotency_key: str
    customer_number: ShortText
    invoice_number: ShortText
    invoice_date: date
    total: Money | None = None
    issued_at: datetime


# ---- erp.inbound.customer-prices.v1 ---------------------------------------------------------------------------


class PriceBreak(BaseModel):
    """A quantity-break price: from ``min_quantity`` pieces (of the line) on, every piece costs ``unit_price``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    min_quantity: int = Field(gt=1, le=1_000_000_000)
    unit_price: Money


class CustomerArticlePriceChanged(Message):
    """``erp.inbound.customer-prices.v1`` (written by the ERP): one article of one customer's assortment, as the
    ERP now keeps it, whole. Key: customer number.

    The ERP is the price authority: the Kundencenter prices every order line from these messages, never from
    what the shop sends. ``unit_price`` is the price per ``unit`` in the customer's currency (0.00 is allowed:
    a free sample); ``price_breaks`` lower it from a line quantity on. The price holds from ``valid_from``
    (inclusive) until ``valid_to`` (exclusive); outside that window, and when ``blocked`` is true, the article
    cannot be ordered. ``listed`` false takes the article out of the customer's assortment.

    Per customer and sku, a ``changed_at`` older than the last one applied changes nothing. ``resend_id`` is set
    on the messages of a full resend (see ``CustomerPriceListResent``).
    """

    model_config = _examples(
        {
            "idempotency_key": "price/10001/A-100/3",
            "customer_number": "10001",
            "sku": "A-100",
            "description": "Schraube M8",
            "unit": "piece",
            "unit_price": {"amount": "9.90", "currency": "EUR"},
            "price_breaks": [{"min_quantity": 100, "unit_price": {"amount": "8.90", "currency": "EUR"}}],
            "valid_from": "2026-01-01T00:00:00Z",
            "valid_to": None,
            "blocked": False,
            "listed": True,
            "resend_id": None,
            "changed_at": "2026-03-01T06:00:00Z",
        }
    )

    event_type = "CustomerArticlePriceChanged"

    idempotency_key: str = Field(description="The ERP's own key of this change (e.g. price/<customer>/<sku>/<n>)")
    customer_number: ShortText
    sku: ShortText
    description: ShortText = ""
    unit: ShortText = Field(default="piece", description="The unit the price is per (piece, m, kg, box of 100…)")
    unit_price: Money
    price_breaks: list[PriceBreak] = Field(default_factory=list, max_length=50)
    valid_from: datetime | None = Field(default=None, description="Inclusive; none: since ever")
    valid_to: datetime | None = Field(default=None, description="Exclusive; none: until further notice")
    blocked: bool = Field(default=False, description="True: the customer may not order this article now")
    listed: bool = Field(default=True, description="False: no longer in the customer's assortment")
    resend_id: ShortText | None = Field(default=None, description="Set on the messages of a full resend")
    changed_at: datetime = Field(description="When the ERP made the change (the ERP's clock)")


class CustomerPriceListResent(Message):
    """``erp.inbound.customer-prices.v1`` (written by the ERP): the end of a full resend of one customer's
    assortment. Key: customer number.

    The ERP sent every article of the customer as ``CustomerArticlePriceChanged`` with this ``resend_id`` (on the
    same key, so before this message); articles the Kundencenter knows that were not among them are no longer
    in the assortment. Sent when the Kundencenter asks (``CustomerPriceListRequested``), after an ERP restore,
    or whenever the ERP wants to.
    """

    model_config = _examples(
        {
            "idempotency_key": "price-list/10001/7",
            "customer_number": "10001",
            "resend_id": "resend-10001-7",
            "article_count": 5,
            "in_reply_to": "price-list-request/10001/2026-03-01T06:00:00Z",
            "sent_at": "2026-03-01T06:00:03Z",
        }
    )

    event_type = "CustomerPriceListResent"

    idempotency_key: str
    customer_number: ShortText
    resend_id: ShortText
    article_count: int = Field(ge=0, description="How many article messages the resend carried")
    in_reply_to: str | None = Field(default=None, description="The key of the request this answers, if any")
    sent_at: datetime


# ---- erp.outbound.customer-price-requests.v1 ------------------------------------------------------------------


class CustomerPriceListRequested(Message):
    """``erp.outbound.customer-price-requests.v1``: please send this customer's whole assortment with its
    prices again (``CustomerArticlePriceChanged`` per article, then ``CustomerPriceListResent`` naming this
    ``idempotency_key`` in ``in_reply_to``). Key: customer number.

    Sent when a customer registers and when an operator asks (erp-sync's operator API), e.g. after an ERP
    restore. Answering twice is harmless: the prices are whole states.
    """

    model_config = _examples(
        {
            "idempotency_key": "price-list-request/10001/2026-03-01T06:00:00Z",
            "customer_number": "10001",
            "reason": "registration",
            "requested_at": "2026-03-01T06:00:00Z",
        }
    )

    event_type = "CustomerPriceListRequested"

    idempotency_key: str
    customer_number: ShortText
    reason: Literal["registration", "operator"] = "operator"
    requested_at: datetime
