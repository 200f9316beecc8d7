"""erp-sync's handlers and translator on an in-memory wire and store: what the services publish becomes the ERP's
messages, and what the ERP answers becomes the services' messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from contracts import Money
from contracts.approval.v1 import OrderReleased
from contracts.common import Address, OrderLine
from contracts.erp import v1 as erp
from contracts.erp_sync import v1 as sync_wire
from contracts.registration.v1 import CompanyMasterData, MainContact, RegistrationCompleted
from contracts.topics import (
    APPROVAL_ORDERS,
    ERP_INBOUND_CONTACTS,
    ERP_INBOUND_CUSTOMERS,
    ERP_INBOUND_INVOICES,
    ERP_INBOUND_SALES_ORDER_CONFIRMATIONS,
    ERP_OUTBOUND_CONTACTS,
    ERP_OUTBOUND_SALES_ORDERS,
    ERP_SYNC_CUSTOMERS,
    ERP_SYNC_SALES_ORDERS,
    REGISTRATION_REGISTRATIONS,
    USERS_USERS,
)
from contracts.users import v1 as users
from erp_sync.adapters.inbound.kafka import consumer_specs, exchange_consumer_specs, verification_consumer_specs
from erp_sync.adapters.outbound.due import DELIVERIES, kind_of
from erp_sync.adapters.outbound.translator import translate
from erp_sync.application.contacts import Contacts
from erp_sync.application.customers import Customers
from erp_sync.application.deliveries import Deliveries
from erp_sync.application.exchanges import Exchanges
from erp_sync.application.verifications import Verifications
from erp_sync.domain.model import DeliveryStatus, RetryPolicy
from kc_runtime.sealing import KeyRing
from tests.service.registration.wire import Inbox, Outbox, published

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ADDRESS = Address(name="Muster GmbH", street="Hauptstr. 1", postal_code="10115", city="Berlin", country="DE")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class ErpSync:
    def __init__(self, key_ring: KeyRing | None = None) -> None:
        """``key_ring``: the persons' keys its event store seals personal values with (ADR 0035); None: plain."""
        self.exchanges = Exchanges(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, key_ring=key_ring)
        specs = [
            *consumer_specs(self.exchanges),
            *exchange_consumer_specs(self.exchanges),
            *verification_consumer_specs(Verifications(self.exchanges)),
        ]
        self.inbox = Inbox(self.exchanges, "erp-sync", specs)
        self.outbox = Outbox(self.exchanges, translate, "erp-sync")
        self.clock = Clock()
        self.deliveries = Deliveries(self.exchanges, RetryPolicy(10, 40, 100), self.clock)
        self._ids = iter(range(1, 100_000))

    async def deliver(self, topic, key: str, message, producer: str = "test") -> None:
        await self.inbox.deliver(published(topic, key, message, next(self._ids), producer))

    def sent(self, topic) -> list:
        self.outbox.drain()
        # As the relay insists: at most one message per event and topic (consumers track by the event's position).
        positions = [(p.notification_id, p.topic.name) for p in self.outbox.seen]
        assert len(positions) == len(set(positions)), "two messages of one event on one topic"
        return [p.message for p in self.outbox.seen if p.topic is topic]

    def deliveries_ids(self) -> set:
        return {e.originator_id for _, e, _ in self.exchanges.notifications(0, 10_000) if kind_of(e) in DELIVERIES}

    def tick(self) -> int:
        """A round of the retry schedule naming every delivery (it may name more than is due: the aggregate
        decides; which ones the due projection names is tests/integration/erp_sync/test_due.py)."""
        return sum(1 for xid in self.deliveries_ids() if self.deliveries.resend_if_due(xid))


@pytest.fixture
def erp_sync() -> ErpSync:
    return ErpSync()


def registration(company_id, number: str = "10001") -> RegistrationCompleted:
    return RegistrationCompleted(
        registration_id=uuid4(),
        company_id=company_id,
        company=CompanyMasterData(customer_number=number, name="Muster GmbH"),
        main_contact=MainContact(email="anna@example.com", first_name="Anna", last_name="Muster"),
        completed_at=T0,
    )


def user_created(company_id, user_id=None, **kw) -> users.UserCreated:
    fields = dict(
        user_id=user_id or uuid4(), company_id=company_id, email="bea@example.com", first_name="Bea",
        last_name="Buyer", language="de", role_ids=["buyer"], permissions=["place_orders"], budget=users.Budget(),
        is_main_contact=False, created_at=T0,
    )  # fmt: skip
    return users.UserCreated(**{**fields, **kw})


def released(company_id, buyer_id, approved_by=None) -> OrderReleased:
    price = Money(amount=Decimal("9.90"), currency="EUR")
    total = Money(amount=Decimal("19.80"), currency="EUR")
    return OrderReleased(
        order_id=uuid4(), company_id=company_id, buyer_id=buyer_id, approved_by=approved_by,
        lines=[OrderLine(sku="A-1", description="Bolt", quantity=2, unit_price=price, line_total=total)],
        total=total, total_quantity=2, delivery_address=ADDRESS, billing_address=ADDRESS, payment_method="invoice",
        shipping_method="standard", buyer_comment="Rampe 3", reference="PO-1", released_at=T0,
    )  # fmt: skip


async def test_a_released_order_names_the_customer_number_and_the_people_and_is_transmitted(erp_sync: ErpSync):
    company = uuid4()
    await erp_sync.deliver(REGISTRATION_REGISTRATIONS, "10001", registration(company))
    buyer = user_created(company)
    await erp_sync.deliver(USERS_USERS, str(company), buyer)
    order = released(company, buyer.user_id, approved_by=uuid4())
    await erp_sync.deliver(APPROVAL_ORDERS, str(order.order_id), order, producer="approval")

    (request,) = erp_sync.sent(ERP_OUTBOUND_SALES_ORDERS)
    assert (request.customer_number, request.idempotency_key) == ("10001", f"sales-order/{order.order_id}")
    assert (request.buyer.email, request.buyer.first_name) == ("bea@example.com", "Bea")
    assert request.approver.user_id == order.approved_by and request.approver.email is None
    assert (request.total_quantity, request.released_at, request.attempt) == (2, T0, 1)
    (transmitted,) = erp_sync.sent(ERP_SYNC_SALES_ORDERS)
    assert isinstance(transmitted, sync_wire.SalesOrderTransmitted)
    assert transmitted.order_id == order.order_id and transmitted.customer_number == "10001"


async def test_the_erps_confirmation_and_rejection_reach_approval_once(erp_sync: ErpSync):
    company = uuid4()
    first, second = released(company, uuid4()), released(company, uuid4())
    for o in (first, second):
        await erp_sync.deliver(APPROVAL_ORDERS, str(o.order_id), o, producer="approval")
    confirmed = erp.SalesOrderConfirmed(
        idempotency_key=f"sales-order/{first.order_id}", order_id=first.order_id, erp_order_number="SO-1",
        confirmed_at=T0,
    )  # fmt: skip
    rejected = erp.SalesOrderRejected(
        idempotency_key=f"sales-order/{second.order_id}", order_id=second.order_id, reason="No.", rejected_at=T0
    )
    for msg in (confirmed, confirmed, rejected):  # the ERP answered a copy twice
        await erp_sync.deliver(ERP_INBOUND_SALES_ORDER_CONFIRMATIONS, str(msg.order_id), msg, producer="erp")

    answers = [m for m in erp_sync.sent(ERP_SYNC_SALES_ORDERS) if not isinstance(m, sync_wire.SalesOrderTransmitted)]
    assert [type(m).__name__ for m in answers] == ["SalesOrderConfirmedByErp", "SalesOrderRejectedByErp"]
    assert (answers[0].erp_order_number, answers[1].reason) == ("SO-1", "No.")
    assert erp_sync.exchanges.sales_order(first.order_id).status is DeliveryStatus.ACKNOWLEDGED


async def test_a_user_becomes_a_contact_whose_changes_carry_the_erps_contact_id(erp_sync: ErpSync):
    company = uuid4()
    await erp_sync.deliver(REGISTRATION_REGISTRATIONS, "10001", registration(company))
    bea = user_created(company)
    await erp_sync.deliver(USERS_USERS, str(company), bea)
    answer = erp.ErpContactChanged(
        idempotency_key="erp-contact/C-7/1", customer_number="10001", contact_id="C-7", user_id=bea.user_id,
        in_reply_to=f"contact/{bea.user_id}/1", changed_at=T0,
    )  # fmt: skip
    await erp_sync.deliver(ERP_INBOUND_CONTACTS, "10001", answer, producer="erp")
    assert Contacts(erp_sync.exchanges).contact(bea.user_id).status is DeliveryStatus.ACKNOWLEDGED
    renamed = users.UserRenamed(user_id=bea.user_id, company_id=company, first_name="Bea", last_name="Brenner")
    await erp_sync.deliver(USERS_USERS, str(company), renamed)
    await erp_sync.deliver(USERS_USERS, str(company), users.UserDeactivated(user_id=bea.user_id, company_id=company))
    budget = users.UserBudgetSet(user_id=bea.user_id, company_id=company, budget=users.Budget(max_total_quantity=3))
    await erp_sync.deliver(USERS_USERS, str(company), budget)  # not the ERP's business

    created, changed, deactivated = erp_sync.sent(ERP_OUTBOUND_CONTACTS)
    assert isinstance(created, erp.ContactCreated) and created.customer_number == "10001"
    assert created.erp_contact_id is None and created.sequence == 1
    assert isinstance(changed, erp.ContactChanged) and changed.changed == ["name"]
    assert (changed.erp_contact_id, changed.last_name, changed.idempotency_key) == (
        "C-7",
        "Brenner",
        f"contact/{bea.user_id}/2",
    )
    assert isinstance(deactivated, erp.ContactDeactivated) and deactivated.active is False
    assert deactivated.last_name == "Brenner" and deactivated.sequence == 3


async def test_a_user_taken_over_from_the_erp_names_its_erp_contact_at_once(erp_sync: ErpSync):
    company = uuid4()
    await erp_sync.deliver(USERS_USERS, str(company), user_created(company, erp_contact_id="10001-2"))
    (created,) = erp_sync.sent(ERP_OUTBOUND_CONTACTS)
    assert created.erp_contact_id == "10001-2"
    assert created.customer_number is None  # erp-sync has not seen the company's registration


async def test_the_erp_revoking_the_customer_center_tells_approval_which_company(erp_sync: ErpSync):
    company = uuid4()
    await erp_sync.deliver(REGISTRATION_REGISTRATIONS, "10001", registration(company))

    def master(allowed: bool, n: int) -> erp.CustomerMasterDataChanged:
        return erp.CustomerMasterDataChanged(
            idempotency_key=f"customer/10001/{n}", customer_number="10001",
            customer=erp.ErpCustomer(customer_number="10001", name="Muster GmbH"), customer_center_allowed=allowed,
            changed_at=T0 + timedelta(minutes=n),
        )  # fmt: skip

    for n, allowed in enumerate((False, False, True), start=1):
        await erp_sync.deliver(ERP_INBOUND_CUSTOMERS, "10001", master(allowed, n), producer="erp")
    changes = [m for m in erp_sync.sent(ERP_SYNC_CUSTOMERS) if isinstance(m, sync_wire.CustomerCenterAccessChanged)]
    assert [(c.company_id, c.allowed) for c in changes] == [(company, False), (company, True)]


async def test_a_revocation_before_the_registration_reaches_approval_with_the_registration(erp_sync: ErpSync):
    revoked = erp.CustomerMasterDataChanged(
        idempotency_key="customer/20002/1", customer_number="20002",
        customer=erp.ErpCustomer(customer_number="20002", name="Spät GmbH"), customer_center_allowed=False,
        changed_at=T0,
    )  # fmt: skip
    await erp_sync.deliver(ERP_INBOUND_CUSTOMERS, "20002", revoked, producer="erp")
    assert erp_sync.sent(ERP_SYNC_CUSTOMERS) == []
    company = uuid4()
    await erp_sync.deliver(REGISTRATION_REGISTRATIONS, "20002", registration(company, "20002"))
    change, master_data = erp_sync.sent(ERP_SYNC_CUSTOMERS)
    assert isinstance(change, sync_wire.CustomerCenterAccessChanged)
    assert (change.company_id, change.allowed) == (company, False)
    assert isinstance(master_data, sync_wire.CompanyMasterDataChanged)
    assert (master_data.company_id, master_data.name, master_data.changed_at) == (company, "Spät GmbH", T0)


async def test_invoices_and_contacts_of_the_erp_are_recorded(erp_sync: ErpSync):
    company = uuid4()
    await erp_sync.deliver(REGISTRATION_REGISTRATIONS, "10001", registration(company))
    invoice = erp.InvoiceIssued(
        idempotency_key="invoice/R-1", customer_number="10001", invoice_number="R-1", invoice_date=T0.date(),
        issued_at=T0,
    )  # fmt: skip
    await erp_sync.deliver(ERP_INBOUND_INVOICES, "10001", invoice, producer="erp")
    person = erp.ErpContactChanged(
        idempotency_key="erp-contact/C-9/1", customer_number="10001", contact_id="C-9", email="x@example.com",
        first_name="Xaver", changed_at=T0,
    )  # fmt: skip
    await erp_sync.deliver(ERP_INBOUND_CONTACTS, "10001", person, producer="erp")
    customers = Customers(erp_sync.exchanges)
    recorded = customers.invoice("10001", "r-1")
    assert recorded is not None and recorded.invoice_date == T0.date().isoformat()
    assert customers.customer("10001").erp_contacts["C-9"]["first_name"] == "Xaver"


async def test_unanswered_messages_are_sent_again_with_backoff_and_then_given_up(erp_sync: ErpSync):
    company = uuid4()
    order = released(company, uuid4())
    await erp_sync.deliver(APPROVAL_ORDERS, str(order.order_id), order, producer="approval")
    requested_at = erp_sync.exchanges.sales_order(order.order_id).requested_at
    await erp_sync.deliver(USERS_USERS, str(company), user_created(company))
    erp_sync.clock.now = requested_at + timedelta(seconds=10)
    assert erp_sync.tick() == 2  # the order and the contact
    assert erp_sync.tick() == 0
    copies = [m for m in erp_sync.sent(ERP_OUTBOUND_SALES_ORDERS)]
    assert [c.attempt for c in copies] == [1, 2]
    assert copies[0].idempotency_key == copies[1].idempotency_key
    erp_sync.clock.now = requested_at + timedelta(hours=1)
    while erp_sync.tick():
        erp_sync.clock.now += timedelta(hours=1)
    assert erp_sync.exchanges.sales_order(order.order_id).status is DeliveryStatus.FAILED
    assert [erp_sync.exchanges.find(x).due_at(erp_sync.deliveries.policy) for x in erp_sync.deliveries_ids()] == [
        None,
        None,
    ]  # nothing waits any more
