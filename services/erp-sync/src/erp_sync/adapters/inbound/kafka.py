"""Kafka handlers of erp-sync: contract messages in → use cases."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from contracts.approval.v1 import OrderReleased
from contracts.erp import v1 as erp
from contracts.registration.v1 import RegistrationCompleted, VerificationRequested
from contracts.topics import (
    APPROVAL_ORDERS,
    ERP_INBOUND_CONTACTS,
    ERP_INBOUND_CUSTOMER_CREDIT,
    ERP_INBOUND_CUSTOMER_PRICES,
    ERP_INBOUND_CUSTOMER_VERIFICATION_RESULTS,
    ERP_INBOUND_CUSTOMERS,
    ERP_INBOUND_INVOICES,
    ERP_INBOUND_SALES_ORDER_CONFIRMATIONS,
    REGISTRATION_REGISTRATIONS,
    USERS_USERS,
)
from contracts.users import v1 as users
from erp_sync.application.contacts import Contacts
from erp_sync.application.customers import Customers
from erp_sync.application.exchanges import Exchanges
from erp_sync.application.prices import Prices
from erp_sync.application.verifications import Verifications
from erp_sync.domain.model import ContactExchange, SalesOrderExchange
from erp_sync.domain.verification import CustomerCenterActivation
from kc_runtime.consumer import ConsumerSpec, Handler, Inbound


def _reference(found: dict[str, Any] | None) -> erp.ContactReference | None:
    return None if found is None else erp.ContactReference.model_validate(found)


def consumer_specs(exchanges: Exchanges) -> list[ConsumerSpec]:
    """Released orders → sales-order requests for the ERP."""

    def on_order_released(inbound: Inbound) -> list[Any]:
        msg = inbound.message
        assert isinstance(msg, OrderReleased)
        request = erp.SalesOrderRequested(
            idempotency_key=f"sales-order/{msg.order_id}",
            order_id=msg.order_id,
            company_id=msg.company_id,
            customer_number=exchanges.customer_number_of(msg.company_id),
            buyer_id=msg.buyer_id,
            approved_by=msg.approved_by,
            lines=msg.lines,
            total=msg.total,
            total_quantity=msg.total_quantity,
            delivery_address=msg.delivery_address,
            billing_address=msg.billing_address,
            payment_method=msg.payment_method,
            shipping_method=msg.shipping_method,
            buyer_comment=msg.buyer_comment,
            reference=msg.reference,
            buyer=_reference(exchanges.contact_reference(msg.buyer_id)),
            approver=_reference(exchanges.contact_reference(msg.approved_by)),
            released_at=msg.released_at,
            requested_at=datetime.now(UTC),
            bundled_orders=msg.bundled_orders,
        )
        return exchanges.request_sales_order(
            msg.order_id, msg.company_id, request.model_dump(mode="json", exclude={"attempt"}), request.requested_at
        )

    def preload(batch: Sequence[Inbound]) -> Mapping[Any, Any]:
        """What the batch's releases read — their exchanges (none yet, unless released before), the companies'
        activations and the buyers' and approvers' contacts — in one read of the event store."""
        ids: list[UUID] = []
        for inbound in batch:
            msg = inbound.message
            if isinstance(msg, OrderReleased):
                ids += [SalesOrderExchange.create_id(msg.order_id), CustomerCenterActivation.create_id(msg.company_id)]
                ids += [ContactExchange.create_id(u) for u in (msg.buyer_id, msg.approved_by) if u is not None]
        return exchanges.load_many(ids)

    # Each release creates its own exchange record: safe to apply a partition's batch in one transaction.
    return [
        ConsumerSpec(topic=APPROVAL_ORDERS, handlers={OrderReleased: on_order_released}, batch=True, preload=preload)
    ]


def exchange_consumer_specs(exchanges: Exchanges) -> list[ConsumerSpec]:
    """Shop users → contact persons for the ERP (an erased user: the ERP is asked to erase its contact person,
    ADR 0035); the ERP's answers, master data, contacts and invoices."""
    contacts = Contacts(exchanges)
    customers = Customers(exchanges)

    def now() -> datetime:
        return datetime.now(UTC)

    # ---- the users' topic ----

    def user_created(i: Inbound[users.UserCreated]) -> list[Any]:
        m = i.message
        return contacts.user_created(
            m.user_id, m.company_id, m.email, m.first_name, m.last_name, m.language,
            active=m.status == "active", is_main_contact=m.is_main_contact, erp_contact_id=m.erp_contact_id,
            at=m.created_at,
        )  # fmt: skip

    def user_changed(extract: Any) -> Handler:
        def handle(i: Inbound) -> list[Any]:
            m = i.message
            return contacts.user_changed(m.user_id, at=i.envelope.occurred_at, **extract(m))

        return handle

    def user_erased(i: Inbound[users.UserErased]) -> list[Any]:
        m = i.message
        return contacts.user_erased(m.user_id, m.company_id, m.erased_at)

    user_handlers: dict[Any, Handler] = {
        users.UserErased: user_erased,
        users.UserCreated: user_created,
        users.UserRenamed: user_changed(lambda m: {"first_name": m.first_name, "last_name": m.last_name}),
        users.UserEmailChanged: user_changed(lambda m: {"email": m.email}),
        users.UserDeactivated: user_changed(lambda m: {"active": False}),
        users.UserActivated: user_changed(lambda m: {"active": True}),
        users.UserRolesSet: user_changed(lambda m: {"is_main_contact": m.is_main_contact}),
    }

    # ---- the ERP's inbound topics ----

    def answered_exchanges(batch: Sequence[Inbound]) -> Mapping[Any, Any]:
        return exchanges.load_many([SalesOrderExchange.create_id(i.message.order_id) for i in batch])

    def confirmed(i: Inbound[erp.SalesOrderConfirmed]) -> list[Any]:
        m = i.message
        return exchanges.confirm_sales_order(m.order_id, m.erp_order_number, m.confirmed_at)

    def rejected(i: Inbound[erp.SalesOrderRejected]) -> list[Any]:
        m = i.message
        return exchanges.reject_sales_order(m.order_id, m.reason, m.reason_code, m.rejected_at)

    def master_data(i: Inbound[erp.CustomerMasterDataChanged]) -> list[Any]:
        m = i.message
        return customers.master_data_changed(
            m.customer_number, m.customer.model_dump(mode="json"), m.customer_center_allowed, m.changed_at
        )

    def credit(i: Inbound[erp.CustomerCreditChanged]) -> list[Any]:
        m = i.message
        figures = m.model_dump(mode="json", include=CREDIT_FIELDS)
        return customers.credit_changed(m.customer_number, figures, m.as_of)

    def erp_contact(i: Inbound[erp.ErpContactChanged]) -> list[Any]:
        m = i.message
        acknowledged: list[Any] = []
        ours = m.user_id is not None and contacts.find(m.user_id) is not None
        if m.user_id is not None and contacts.is_erased(m.user_id):
            # ADR 0035: the ERP's id is remembered, the person's names are not kept again
            return contacts.erp_contact_changed(m.user_id, m.in_reply_to, m.contact_id, m.changed_at)
        if m.user_id is not None and ours:
            acknowledged = contacts.erp_contact_changed(m.user_id, m.in_reply_to, m.contact_id, m.changed_at)
        if ours and m.in_reply_to is not None:
            return acknowledged  # the ERP applied our own message: nothing the users service does not know
        # A change made in the ERP (to one of our users, too: kept as the ERP's view of the person).
        person = erp.ErpContactPerson(
            contact_id=m.contact_id, email=m.email, first_name=m.first_name, last_name=m.last_name, phone=m.phone
        )
        contact: dict[str, Any] = {**person.model_dump(mode="json"), "active": m.active}
        if m.user_id is not None:
            contact["user_id"] = str(m.user_id)
        return [*acknowledged, *customers.erp_contact_recorded(m.customer_number, contact, m.changed_at)]

    def erp_erased(i: Inbound[erp.ContactErased]) -> list[Any]:
        m = i.message
        return contacts.erp_erased(m.user_id, m.in_reply_to, m.contact_id, m.erased_at)

    def invoice(i: Inbound[erp.InvoiceIssued]) -> list[Any]:
        m = i.message
        total = m.total.model_dump(mode="json") if m.total else None
        return customers.invoice_issued(
            m.customer_number, m.invoice_number, m.invoice_date.isoformat(), total, m.issued_at
        )

    # One by one (no batching): messages of one company or customer touch the same aggregates in order. Except
    # the ERP's answers to sales orders: each touches only its order's exchange (two answers of one order in a
    # batch conflict on its version, and the batch is applied one by one then).
    return [
        ConsumerSpec(topic=USERS_USERS, handlers=user_handlers),
        ConsumerSpec(
            topic=ERP_INBOUND_SALES_ORDER_CONFIRMATIONS,
            handlers={erp.SalesOrderConfirmed: confirmed, erp.SalesOrderRejected: rejected},
            batch=True,
            preload=answered_exchanges,
        ),
        ConsumerSpec(topic=ERP_INBOUND_CUSTOMERS, handlers={erp.CustomerMasterDataChanged: master_data}),
        ConsumerSpec(
            topic=ERP_INBOUND_CONTACTS, handlers={erp.ErpContactChanged: erp_contact, erp.ContactErased: erp_erased}
        ),
        ConsumerSpec(topic=ERP_INBOUND_CUSTOMER_CREDIT, handlers={erp.CustomerCreditChanged: credit}),
        ConsumerSpec(topic=ERP_INBOUND_INVOICES, handlers={erp.InvoiceIssued: invoice}),
    ]


CREDIT_FIELDS = {"currency", "credit_limit", "open_receivables", "open_orders", "credit_blocked"}
"""What erp-sync keeps of a ``CustomerCreditChanged`` (besides its ``as_of``)."""

PRICE_STATE_FIELDS = {
    "description", "unit", "unit_price", "price_breaks", "valid_from", "valid_to", "blocked", "listed",
}  # fmt: skip
"""What the mirror keeps of a ``CustomerArticlePriceChanged`` (the rest names the message, not the article)."""


def price_consumer_specs(exchanges: Exchanges) -> list[ConsumerSpec]:
    """The ERP's customer prices → the price mirror (and from there erp-sync's prices topic, for approval)."""
    prices = Prices(exchanges)

    def article(i: Inbound[erp.CustomerArticlePriceChanged]) -> list[Any]:
        m = i.message
        state = m.model_dump(mode="json", include=PRICE_STATE_FIELDS)
        return prices.article_changed(m.customer_number, m.sku, state, m.changed_at, m.resend_id, i.unit)

    def resent(i: Inbound[erp.CustomerPriceListResent]) -> list[Any]:
        m = i.message
        return prices.resend_ended(m.customer_number, m.resend_id, m.sent_at, m.in_reply_to, m.article_count, i.unit)

    # Batched: a fetch of one partition is applied in one transaction (a customer's list is hundreds of messages
    # at once). The handlers of one transaction share what they loaded (``unit``), so a change and its revert, or
    # a resend and its end, in one fetch are applied as one by one.
    return [
        ConsumerSpec(
            topic=ERP_INBOUND_CUSTOMER_PRICES,
            handlers={erp.CustomerArticlePriceChanged: article, erp.CustomerPriceListResent: resent},
            batch=True,
        )
    ]


def verification_consumer_specs(verifications: Verifications) -> list[ConsumerSpec]:
    """Registration's questions for the ERP, the ERP's answers, and completed registrations to activate."""
    customers = Customers(verifications.exchanges)
    prices = Prices(verifications.exchanges)

    def on_verification_requested(inbound: Inbound) -> list[Any]:
        msg = inbound.message
        assert isinstance(msg, VerificationRequested)
        return verifications.request(msg.registration_id, msg.customer_number, msg.invoice_number)

    def on_registration_completed(inbound: Inbound) -> list[Any]:
        msg = inbound.message
        assert isinstance(msg, RegistrationCompleted)
        activation = verifications.activate(
            company_id=msg.company_id,
            customer_number=msg.company.customer_number,
            registration_id=msg.registration_id,
            main_contact=msg.main_contact.model_dump(mode="json"),
            activated_at=msg.completed_at,
        )
        # erp-sync's map of customer numbers and companies (the ERP's messages name customer numbers).
        number = msg.company.customer_number
        link = customers.link(number, msg.company_id, msg.company.model_dump(mode="json"), msg.completed_at)
        # Newly linked: ask the ERP for the customer's prices again, so approval gets them with the company id.
        request = (
            prices.request_price_list(
                number, "registration", msg.completed_at, f"price-list-request/{number}/registration/{msg.company_id}"
            )
            if link
            else []
        )
        return [*activation, *link, *request]

    def on_verification_answered(inbound: Inbound) -> list[Any]:
        msg = inbound.message
        assert isinstance(msg, erp.CustomerVerificationAnswered)
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
            handlers={erp.CustomerVerificationAnswered: on_verification_answered},
        ),
    ]
