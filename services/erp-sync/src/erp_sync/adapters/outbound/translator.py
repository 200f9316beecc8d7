"""erp-sync's domain events → the ERP-facing contract and erp-sync's own topics for the other services.

Pure: every event carries what its messages need (resent and failed deliveries carry the whole message), so the
relay, the replay and the dead-letter writer translate the same event into the same message.

Events are translated as the event store opens them (ADR 0035): personal values plain — messages to the ERP stay
plain (decision 5) — and None once their person is erased, which the ERP is then told by ids only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from contracts.erp.v1 import (
    ContactChanged,
    ContactCreated,
    ContactDeactivated,
    ContactErasureRequested,
    CustomerPriceListRequested,
    SalesOrderRequested,
)
from contracts.erp_sync.v1 import (
    ArticlePriceChanged,
    CompanyCreditChanged,
    CompanyMasterDataChanged,
    CustomerCenterAccessChanged,
    ErpContactPersonChanged,
    SalesOrderConfirmedByErp,
    SalesOrderRejectedByErp,
    SalesOrderTransmitted,
)
from contracts.topics import (
    ERP_OUTBOUND_CONTACTS,
    ERP_OUTBOUND_CUSTOMER_PRICE_REQUESTS,
    ERP_OUTBOUND_SALES_ORDERS,
    ERP_SYNC_CUSTOMERS,
    ERP_SYNC_PRICES,
    ERP_SYNC_SALES_ORDERS,
)
from erp_sync.adapters.outbound.verification_translator import translate_verification
from erp_sync.domain.customers import Customer
from erp_sync.domain.model import ContactExchange, SalesOrderExchange
from erp_sync.domain.prices import CustomerPrice, PriceListRequest
from kc_runtime.relay import Outgoing

SO = SalesOrderExchange
CX = ContactExchange


def sales_order_request(request: dict[str, Any], attempt: int) -> Outgoing:
    message = SalesOrderRequested.model_validate({**request, "attempt": attempt})
    return Outgoing(topic=ERP_OUTBOUND_SALES_ORDERS, key=str(message.order_id), message=message)


def erased(m: dict[str, Any]) -> bool:
    """Whether a contact's message names a person whose key users destroyed (ADR 0035): the event store opens their
    names and e-mail as None. Nothing of it goes to the ERP — a relay or a replay behind the erasure sends nothing,
    the erasure request that follows asks the ERP to erase its contact person."""
    state = m.get("state") or {}
    return any(state.get(name) is None for name in ("email", "first_name", "last_name"))


def contact_message(m: dict[str, Any], attempt: int = 1) -> Outgoing | None:
    """The wire message of a contact exchange's message state (see ``ContactExchange.message_state``); None for
    the message of an erased person that was read after the erasure."""
    if m["message"] == "erasure_requested":
        return erasure_request(m, attempt)
    if erased(m):
        return None
    state = m["state"]
    common: dict[str, Any] = {
        "idempotency_key": ContactExchange.key_of(m["user_id"], m["sequence"]),
        "sequence": m["sequence"],
        "user_id": m["user_id"],
        "company_id": m["company_id"],
        "erp_contact_id": m["erp_contact_id"],
        "attempt": attempt,
        **{name: state[name] for name in ("customer_number", "email", "first_name", "last_name", "language")},
        "active": state["active"],
        "is_main_contact": state["is_main_contact"],
    }
    message: Any
    if m["message"] == "created":
        message = ContactCreated(**common, created_at=m["at"])
    elif m["message"] == "deactivated":
        message = ContactDeactivated(**common, deactivated_at=m["at"])
    else:
        message = ContactChanged(**common, changed=m["changed"], changed_at=m["at"])
    return Outgoing(topic=ERP_OUTBOUND_CONTACTS, key=str(m["user_id"]), message=message)


def erasure_request(m: dict[str, Any], attempt: int = 1) -> Outgoing:
    """ADR 0035: the ERP is asked to erase the contact person — by ids, no personal data."""
    message = ContactErasureRequested(
        idempotency_key=ContactExchange.key_of(m["user_id"], m["sequence"]),
        sequence=m["sequence"],
        user_id=m["user_id"],
        company_id=m["company_id"],
        customer_number=m.get("customer_number") or m.get("state", {}).get("customer_number"),
        erp_contact_id=m["erp_contact_id"],
        attempt=attempt,
        requested_at=m["at"],
    )
    return Outgoing(topic=ERP_OUTBOUND_CONTACTS, key=str(m["user_id"]), message=message)


def _erased_contact(e: Any) -> dict[str, Any]:
    return {
        "message": "erasure_requested", "sequence": e.sequence, "user_id": e.user_id, "company_id": e.company_id,
        "customer_number": e.customer_number, "erp_contact_id": e.erp_contact_id, "at": e.at,
    }  # fmt: skip


def _created_contact(e: Any) -> dict[str, Any]:
    state = {name: getattr(e, name) for name in ("customer_number", "email", "first_name", "last_name", "language")}
    state.update(active=e.active, is_main_contact=e.is_main_contact)
    return {
        "message": "created", "sequence": 1, "user_id": e.user_id, "company_id": e.company_id,
        "erp_contact_id": e.erp_contact_id, "changed": [], "at": e.at, "state": state,
    }  # fmt: skip


def _changed_contact(e: Any, message: str) -> dict[str, Any]:
    return {
        "message": message, "sequence": e.sequence, "user_id": e.user_id, "company_id": e.company_id,
        "erp_contact_id": e.erp_contact_id, "changed": list(getattr(e, "changed", ["active"])), "at": e.at,
        "state": e.state,
    }  # fmt: skip


def dead_letter(event: Any) -> Outgoing | None:
    """The message a failed delivery leaves on its topic's dead-letter topic (None: not a failed delivery)."""
    if isinstance(event, SO.Failed):
        return sales_order_request(event.request, event.attempts)
    if isinstance(event, CX.Failed):
        return contact_message(event.message, event.attempts)
    return None


def _contact(m: dict[str, Any], attempt: int = 1) -> list[Outgoing]:
    out = contact_message(m, attempt)
    return [] if out is None else [out]


def translate(event: Any) -> Sequence[Outgoing]:
    # ---- released orders ----
    if isinstance(event, SO.Requested):
        request = sales_order_request(event.request, 1)
        asked = request.message
        assert isinstance(asked, SalesOrderRequested)  # what sales_order_request makes
        return [
            request,
            Outgoing(
                topic=ERP_SYNC_SALES_ORDERS,
                key=str(event.order_id),
                message=SalesOrderTransmitted(
                    order_id=event.order_id,
                    company_id=event.company_id,
                    customer_number=event.request.get("customer_number"),
                    idempotency_key=asked.idempotency_key,
                    transmitted_at=event.requested_at,
                ),
            ),
        ]
    if isinstance(event, SO.Resent):
        return [sales_order_request(event.request, event.attempt)]
    if isinstance(event, SO.Confirmed):
        confirmed = SalesOrderConfirmedByErp(
            order_id=event.order_id,
            company_id=event.company_id,
            erp_order_number=event.erp_order_number,
            confirmed_at=event.at,
        )
        return [Outgoing(topic=ERP_SYNC_SALES_ORDERS, key=str(event.order_id), message=confirmed)]
    if isinstance(event, SO.Rejected):
        rejected = SalesOrderRejectedByErp(
            order_id=event.order_id,
            company_id=event.company_id,
            reason=event.reason,
            reason_code=event.reason_code,
            rejected_at=event.at,
        )
        return [Outgoing(topic=ERP_SYNC_SALES_ORDERS, key=str(event.order_id), message=rejected)]
    # ---- contact persons ----
    if isinstance(event, CX.Created):
        return _contact(_created_contact(event))
    if isinstance(event, CX.Changed):
        return _contact(_changed_contact(event, "changed"))
    if isinstance(event, CX.Deactivated):
        return _contact(_changed_contact(event, "deactivated"))
    if isinstance(event, CX.Erased):
        return [erasure_request(_erased_contact(event))]
    if isinstance(event, CX.Resent):
        return _contact(event.message, event.attempt)
    # ---- customers: what the ERP keeps about registered companies (only those: key company id) ----
    # Every event becomes at most one message on that topic: consumers track a topic's messages by
    # the position of the event they come from.
    if isinstance(event, Customer.Linked):
        return _linked(event)
    if isinstance(event, Customer.AccessChanged) and event.company_id:
        return [_access(event.company_id, event.customer_number, event.customer_center_allowed, event.changed_at)]
    if isinstance(event, Customer.MasterDataChanged | Customer.MasterDataHandedOn) and event.company_id:
        if getattr(event, "access_changed", False):  # the first version: the flag only
            return [_access(event.company_id, event.customer_number, event.customer_center_allowed, event.changed_at)]
        return [_master_data(event.company_id, event.customer_number, event.master_data,
                             event.customer_center_allowed, event.changed_at)]  # fmt: skip
    if isinstance(event, Customer.ErpContactRecorded):
        company_id = event.company_id  # None: the customer is not registered
        if company_id is None:
            return []
        assert event.customer_number is not None, "recorded together with the company id"
        return [_erp_contact(company_id, event.customer_number, event.contact, event.change, event.timestamp)]
    if isinstance(event, Customer.ErpContactHandedOn):
        return [_erp_contact(event.company_id, event.customer_number, event.contact, "added", event.timestamp)]
    if isinstance(event, Customer.CreditChanged | Customer.CreditHandedOn) and event.company_id:
        return [_credit(event.company_id, event.customer_number, event.credit, event.as_of)]
    # ---- customer prices: for every customer, registered or not (key customer number) ----
    if isinstance(event, CustomerPrice.Changed):
        return [article_price(event)]
    if isinstance(event, PriceListRequest.Requested):
        asked = CustomerPriceListRequested(
            idempotency_key=event.idempotency_key,
            customer_number=event.customer_number,
            reason=_price_list_reason(event.reason),
            requested_at=event.requested_at,
        )
        return [Outgoing(topic=ERP_OUTBOUND_CUSTOMER_PRICE_REQUESTS, key=event.customer_number, message=asked)]
    return translate_verification(event)


def _price_list_reason(reason: str) -> Literal["registration", "operator"]:
    match reason:
        case "registration" | "operator":
            return reason
    raise ValueError(f"not a reason of a price-list request: {reason!r}")  # as the contract's validation would


def article_price(event: CustomerPrice.Changed) -> Outgoing:
    """One article of a customer as approval prices order lines with it (the mirror's whole state)."""
    message = ArticlePriceChanged.model_validate(
        {
            **event.state,
            "customer_number": event.customer_number,
            "company_id": event.company_id,
            "sku": event.sku,
            "changed_at": event.changed_at,
        }
    )
    return Outgoing(topic=ERP_SYNC_PRICES, key=event.customer_number, message=message)


def _linked(event: Any) -> list[Outgoing]:
    """The registration linked the customer: a revocation the ERP sent before reaches approval now. (What else
    the ERP sent before follows in events of its own; a few events of a development version carried it here and
    are published with the first of their messages only.)"""
    if not event.customer_center_allowed:
        return [_access(event.company_id, event.customer_number, False, event.at)]
    master_data = getattr(event, "erp_master_data", None)
    if master_data is not None:
        return [_master_data(event.company_id, event.customer_number, master_data, True,
                             event.master_data_changed_at)]  # fmt: skip
    return []


def _access(company_id: Any, customer_number: str, allowed: bool, at: Any) -> Outgoing:
    return Outgoing(
        topic=ERP_SYNC_CUSTOMERS,
        key=str(company_id),
        message=CustomerCenterAccessChanged(
            company_id=company_id, customer_number=customer_number, allowed=allowed, changed_at=at
        ),
    )


def _master_data(company_id: Any, customer_number: str, data: dict[str, Any], allowed: bool, at: Any) -> Outgoing:
    fields = ("name", "billing_address", "delivery_addresses", "vat_id", "currency")
    message = CompanyMasterDataChanged.model_validate(
        {
            **{k: data[k] for k in fields if k in data},
            "company_id": company_id,
            "customer_number": customer_number,
            "customer_center_allowed": allowed,
            "changed_at": at,
        }
    )
    return Outgoing(topic=ERP_SYNC_CUSTOMERS, key=str(company_id), message=message)


def _credit(company_id: Any, customer_number: str, credit: dict[str, Any], as_of: Any) -> Outgoing:
    message = CompanyCreditChanged.model_validate(
        {**credit, "company_id": company_id, "customer_number": customer_number, "as_of": as_of}
    )
    return Outgoing(topic=ERP_SYNC_CUSTOMERS, key=str(company_id), message=message)


def _erp_contact(
    company_id: Any, customer_number: str, contact: dict[str, Any], change: Any, at: Any = None
) -> Outgoing:
    message = ErpContactPersonChanged(
        company_id=company_id,
        customer_number=customer_number,
        contact_id=contact["contact_id"],
        change=change or "changed",
        user_id=contact.get("user_id"),
        email=contact.get("email"),
        first_name=contact.get("first_name") or "",
        last_name=contact.get("last_name") or "",
        phone=contact.get("phone"),
        active=contact.get("active", True),
        changed_at=contact.get("changed_at") or at,
    )
    return Outgoing(topic=ERP_SYNC_CUSTOMERS, key=str(company_id), message=message)
