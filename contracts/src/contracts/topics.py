"""The topic registry: every topic name, its owner, partitions, consumers and message types.

No topic string appears anywhere else in the repository: services, the local stack, the Kubernetes topic
objects and the ACLs are all derived from this registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from contracts.approval import v1 as approval_v1
from contracts.base import Message
from contracts.erp import v1 as erp_v1
from contracts.erp_sync import v1 as erp_sync_v1
from contracts.registration import v1 as registration_v1
from contracts.users import v1 as users_v1

DLT_SUFFIX = ".dlt"


@dataclass(frozen=True)
class Topic:
    """A Kafka topic of the Kundencenter."""

    name: str
    owner: str
    """The only service (or external system, ``erp``) that writes it."""
    partitions: int
    key: str
    """What the record key is; all messages of one key keep their order."""
    messages: tuple[type[Message], ...]
    consumers: tuple[str, ...] = ()
    """Consumer groups that read it (services and stand-ins)."""
    description: str = ""
    retention_ms: int = 7 * 24 * 3600 * 1000
    config: dict[str, str] = field(default_factory=dict)

    @property
    def dlt(self) -> str:
        return dead_letter_topic(self.name)

    def message_type(self, event_type: str) -> type[Message] | None:
        for message in self.messages:
            if message.event_type == event_type:
                return message
        return None


def dead_letter_topic(topic: str) -> str:
    return topic + DLT_SUFFIX


APPROVAL_ORDERS = Topic(
    name="approval.orders.v1",
    owner="approval",
    partitions=6,
    key="order id",
    messages=(
        approval_v1.OrderApprovalRequested,
        approval_v1.OrderApproversReassigned,
        approval_v1.OrderOfferedToSubstitute,
        approval_v1.OrderReEvaluated,
        approval_v1.OrderApproved,
        approval_v1.OrderRejected,
        approval_v1.OrderCancelled,
        approval_v1.OrderReleased,
        approval_v1.OrderCreditHeld,
        approval_v1.OrderApprovalReminded,
        approval_v1.OrderExpired,
    ),
    consumers=("erp-sync", "notifications"),
    description="The life of each order (approval case).",
)

ERP_OUTBOUND_SALES_ORDERS = Topic(
    name="erp.outbound.sales-orders.v1",
    owner="erp-sync",
    partitions=6,
    key="order id",
    messages=(erp_v1.SalesOrderRequested,),
    consumers=("erp",),
    description="Released orders as sales-order requests for the ERP.",
)

REGISTRATION_REGISTRATIONS = Topic(
    name="registration.registrations.v1",
    owner="registration",
    partitions=6,
    key="customer number",
    messages=(
        registration_v1.RegistrationCompleted,
        registration_v1.VerificationRequested,
        registration_v1.ConfirmationRequested,
    ),
    consumers=(
        "notifications",
        "users",
        "erp-sync",
    ),
    description="Self-registrations through the ERP: attempts, verification, completion.",
)

USERS_COMPANIES = Topic(
    name="users.companies.v1",
    owner="users",
    partitions=6,
    key="company id",
    messages=users_v1.COMPANY_MESSAGES,
    consumers=("approval", "registration"),
    description="Companies: creation, approvers, main-contact transfers, custom roles.",
)

USERS_USERS = Topic(
    name="users.users.v1",
    owner="users",
    partitions=6,
    key="company id",
    messages=users_v1.USER_MESSAGES,
    consumers=("approval", "notifications", "erp-sync", "registration"),
    description="Users of each company: creation, names, e-mail, status, roles and permissions, budgets.",
)

ERP_SYNC_VERIFICATIONS = Topic(
    name="erp-sync.verifications.v1",
    owner="erp-sync",
    partitions=6,
    key="customer number",
    messages=(erp_sync_v1.CustomerVerified, erp_sync_v1.CustomerVerificationFailed),
    consumers=("registration",),
    description="The ERP's answers to registration verifications, one per registration attempt.",
)

ERP_OUTBOUND_CUSTOMER_VERIFICATIONS = Topic(
    name="erp.outbound.customer-verifications.v1",
    owner="erp-sync",
    partitions=6,
    key="customer number",
    messages=(erp_v1.CustomerVerificationRequested,),
    consumers=("erp",),
    description="Questions to the ERP: customer, invoice, customer center allowed? Repeated while unanswered.",
)

ERP_INBOUND_CUSTOMER_VERIFICATION_RESULTS = Topic(
    name="erp.inbound.customer-verification-results.v1",
    owner="erp",
    partitions=6,
    key="customer number",
    messages=(erp_v1.CustomerVerificationAnswered,),
    consumers=("erp-sync",),
    description="The ERP's answers to customer verifications, with master data and known contacts.",
)

ERP_OUTBOUND_CUSTOMER_CENTER_ACTIVATIONS = Topic(
    name="erp.outbound.customer-center-activations.v1",
    owner="erp-sync",
    partitions=6,
    key="customer number",
    messages=(erp_v1.CustomerCenterActivated,),
    consumers=("erp",),
    description="Tells the ERP that a customer's customer center is active, and who its main contact is.",
)

ERP_OUTBOUND_CONTACTS = Topic(
    name="erp.outbound.contacts.v1",
    owner="erp-sync",
    partitions=6,
    key="user id",
    messages=(erp_v1.ContactCreated, erp_v1.ContactChanged, erp_v1.ContactDeactivated, erp_v1.ContactErasureRequested),
    consumers=("erp",),
    description="Contact persons (shop users) of customers: created, changed, deactivated; the whole state each time. "
    "Erasure requested (ADR 0035): no personal data.",
)

ERP_INBOUND_SALES_ORDER_CONFIRMATIONS = Topic(
    name="erp.inbound.sales-order-confirmations.v1",
    owner="erp",
    partitions=6,
    key="order id",
    messages=(erp_v1.SalesOrderConfirmed, erp_v1.SalesOrderRejected),
    consumers=("erp-sync",),
    description="The ERP's answers to sales-order requests: confirmed with its order number, or rejected.",
)

ERP_INBOUND_CUSTOMERS = Topic(
    name="erp.inbound.customers.v1",
    owner="erp",
    partitions=6,
    key="customer number",
    messages=(erp_v1.CustomerMasterDataChanged,),
    consumers=("erp-sync",),
    description="Customers' master data as the ERP keeps it, including whether the customer center is allowed.",
)

ERP_INBOUND_CONTACTS = Topic(
    name="erp.inbound.contacts.v1",
    owner="erp",
    partitions=6,
    key="customer number",
    messages=(erp_v1.ErpContactChanged, erp_v1.ContactErased),
    consumers=("erp-sync",),
    description="Contact persons as the ERP keeps them: answers to the contact messages (with the ERP's ids), "
    "and changes made in the ERP; erasures done on request (ADR 0035).",
)

ERP_INBOUND_INVOICES = Topic(
    name="erp.inbound.invoices.v1",
    owner="erp",
    partitions=6,
    key="customer number",
    messages=(erp_v1.InvoiceIssued,),
    consumers=("erp-sync",),
    description="Invoices the ERP issued to its customers (what applicants prove themselves with).",
)

ERP_SYNC_SALES_ORDERS = Topic(
    name="erp-sync.sales-orders.v1",
    owner="erp-sync",
    partitions=6,
    key="order id",
    messages=(
        erp_sync_v1.SalesOrderTransmitted,
        erp_sync_v1.SalesOrderConfirmedByErp,
        erp_sync_v1.SalesOrderRejectedByErp,
    ),
    consumers=("approval",),
    description="What became of released orders at the ERP: transmitted, confirmed (ERP order number), rejected.",
)

ERP_SYNC_CUSTOMERS = Topic(
    name="erp-sync.customers.v1",
    owner="erp-sync",
    partitions=6,
    key="company id",
    messages=(
        erp_sync_v1.CustomerCenterAccessChanged,
        erp_sync_v1.CompanyMasterDataChanged,
        erp_sync_v1.ErpContactPersonChanged,
        erp_sync_v1.CompanyCreditChanged,
    ),
    consumers=("approval", "users"),
    description="What the ERP keeps about registered companies: whether they may use the customer center, their "
    "master data, their contact persons, their credit.",
)

ERP_INBOUND_CUSTOMER_CREDIT = Topic(
    name="erp.inbound.customer-credit.v1",
    owner="erp",
    partitions=6,
    key="customer number",
    messages=(erp_v1.CustomerCreditChanged,),
    consumers=("erp-sync",),
    description="Each customer's credit as the ERP's credit management sees it: limit, open receivables, open "
    "orders, credit block.",
)

ERP_INBOUND_CUSTOMER_PRICES = Topic(
    name="erp.inbound.customer-prices.v1",
    owner="erp",
    partitions=6,
    key="customer number",
    messages=(erp_v1.CustomerArticlePriceChanged, erp_v1.CustomerPriceListResent),
    consumers=("erp-sync",),
    description="Each customer's assortment with its prices as the ERP keeps it: changes, and full resends.",
)

ERP_OUTBOUND_CUSTOMER_PRICE_REQUESTS = Topic(
    name="erp.outbound.customer-price-requests.v1",
    owner="erp-sync",
    partitions=6,
    key="customer number",
    messages=(erp_v1.CustomerPriceListRequested,),
    consumers=("erp",),
    description="Requests for a full resend of one customer's prices (at registration, or by an operator).",
)

ERP_SYNC_PRICES = Topic(
    name="erp-sync.prices.v1",
    owner="erp-sync",
    partitions=6,
    key="customer number",
    messages=(erp_sync_v1.ArticlePriceChanged,),
    consumers=("approval",),
    description="Each ERP customer's articles and prices, as approval prices order lines with them.",
)


TOPICS: tuple[Topic, ...] = (
    REGISTRATION_REGISTRATIONS,
    USERS_COMPANIES,
    USERS_USERS,
    APPROVAL_ORDERS,
    ERP_OUTBOUND_SALES_ORDERS,
    ERP_SYNC_VERIFICATIONS,
    ERP_OUTBOUND_CUSTOMER_VERIFICATIONS,
    ERP_INBOUND_CUSTOMER_VERIFICATION_RESULTS,
    ERP_OUTBOUND_CUSTOMER_CENTER_ACTIVATIONS,
    ERP_OUTBOUND_CONTACTS,
    ERP_INBOUND_SALES_ORDER_CONFIRMATIONS,
    ERP_INBOUND_CUSTOMERS,
    ERP_INBOUND_CONTACTS,
    ERP_INBOUND_INVOICES,
    ERP_SYNC_SALES_ORDERS,
    ERP_SYNC_CUSTOMERS,
    ERP_INBOUND_CUSTOMER_CREDIT,
    ERP_INBOUND_CUSTOMER_PRICES,
    ERP_OUTBOUND_CUSTOMER_PRICE_REQUESTS,
    ERP_SYNC_PRICES,
)

ERP = "erp"
"""The ERP (or its integration middleware) as owner and consumer in this registry."""

ERP_OUTBOUND_TOPICS: tuple[Topic, ...] = tuple(t for t in TOPICS if t.owner != ERP and ERP in t.consumers)
"""The ERP-facing family the Kundencenter writes (``erp.outbound.*``)."""

ERP_INBOUND_TOPICS: tuple[Topic, ...] = tuple(t for t in TOPICS if t.owner == ERP)
"""The ERP-facing family the ERP writes (``erp.inbound.*``)."""


def by_name(name: str) -> Topic:
    for topic in TOPICS:
        if topic.name == name:
            return topic
    raise KeyError(name)


def consumed_by(consumer: str) -> tuple[Topic, ...]:
    return tuple(t for t in TOPICS if consumer in t.consumers)


def all_topic_names() -> list[tuple[str, int]]:
    """Every topic to create, with its partition count: domain topics and their dead-letter topics."""
    names: list[tuple[str, int]] = []
    for topic in TOPICS:
        names.append((topic.name, topic.partitions))
        if topic.consumers:
            names.append((topic.dlt, 1))
    return names
