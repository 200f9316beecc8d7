"""The topic registry: every topic name, its owner, partitions, consumers and message types.

No topic string appears anywhere else in the repository: services, the local stack, the Kubernetes topic
objects and the ACLs are all derived from this registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from contracts.approval import v1 as approval_v1
from contracts.base import Message
from contracts.erp import v1 as erp_v1
from contracts.registration import v1 as registration_v1

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
    messages=(approval_v1.OrderReleased,),
    consumers=("erp-sync",),
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
    messages=(registration_v1.RegistrationCompleted,),
    consumers=(
        "notifications",
        "users",
    ),
    description="Self-registrations through the ERP: attempts, verification, completion.",
)

TOPICS: tuple[Topic, ...] = (
    REGISTRATION_REGISTRATIONS,
    APPROVAL_ORDERS,
    ERP_OUTBOUND_SALES_ORDERS,
)


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
