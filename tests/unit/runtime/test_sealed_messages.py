"""Personal fields of messages sealed on the wire (ADR 0035 decision 6): the relay seals what a message class
declares personal with its owner's key, a consumer opens it before validating, so the handler sees plain values
while the topic holds ciphertext; once the person is erased their message is not handled."""

from __future__ import annotations

import json
from uuid import UUID, uuid4

from prometheus_client import REGISTRY

from contracts.topics import USERS_USERS
from contracts.users import v1 as users
from kc_runtime.consumer import ConsumerSpec, IdempotentConsumer, Inbound
from kc_runtime.eventstore import WorkerPool
from kc_runtime.relay import OutboxRelay, Outgoing
from kc_runtime.sealed_messages import open_body, seal_body
from kc_runtime.sealing import UNKNOWN, KeyRing, is_sealed, new_key
from tests.unit.runtime.test_tracing import MEMORY, FakeBroker, Fetched, Note, Notes, People, Person


class Keys:
    def __init__(self) -> None:
        self.keys: dict[UUID, bytes | None] = {}

        self.asked: list[list[UUID]] = []

    def fetch(self, person: UUID) -> bytes | None:
        self.asked.append([person])
        return self.keys.get(person, UNKNOWN)

    def fetch_many(self, persons: list[UUID]) -> dict[UUID, bytes | None]:
        self.asked.append(list(persons))
        return {p: self.keys.get(p, UNKNOWN) for p in persons}


def renamed(event: Person.Renamed) -> list[Outgoing]:  # type: ignore[name-defined]
    message = users.UserRenamed(user_id=event.originator_id, company_id=uuid4(), first_name=event.first_name,
                                last_name="Muster")  # fmt: skip
    return [Outgoing(USERS_USERS, str(event.originator_id), message)]


def translate(event: object) -> list[Outgoing]:
    return renamed(event) if type(event).__name__ == "Renamed" else []  # type: ignore[arg-type]


def erased_count() -> float:
    return (
        REGISTRY.get_sample_value(
            "kc_consumer_messages_total", {"kc_service": "notes-sealed", "topic": USERS_USERS.name, "outcome": "erased"}
        )
        or 0.0
    )


async def published(keys: Keys, *persons: Person) -> FakeBroker:
    people = People(env=MEMORY, key_ring=KeyRing(keys.fetch))
    people.save(*persons)
    broker = FakeBroker()
    relay = OutboxRelay(service="people", app=people, broker=broker, translate=translate, dsn="",
                        blocking=WorkerPool(2))  # type: ignore[arg-type]  # fmt: skip
    await relay.process(people.notifications(0, 100))
    return broker


def consumer_of(keys: Keys, seen: list[str], *, many: bool = False) -> IdempotentConsumer:
    def on_renamed(inbound: Inbound) -> list[Note]:
        seen.append(inbound.message.first_name)
        return [Note(inbound.message.user_id)]

    return IdempotentConsumer(
        service="notes-sealed", group_id="notes",
        app=Notes(env=MEMORY, key_ring=KeyRing(keys.fetch, fetch_many=keys.fetch_many if many else None)),
        broker=FakeBroker(), blocking=WorkerPool(2), specs=[ConsumerSpec(topic=USERS_USERS,
        handlers={users.UserRenamed: on_renamed})],
    )  # type: ignore[arg-type]  # fmt: skip


async def test_the_topic_holds_ciphertext_and_the_handler_plain_values():
    keys = Keys()
    person = Person(uuid4(), "Anna")
    keys.keys[person.id] = new_key()
    person.rename("Annegret")
    broker = await published(keys, person)
    (record,) = broker.records
    sent = json.loads(record.value)
    assert is_sealed(sent["first_name"]) and is_sealed(sent["last_name"]) and b"Annegret" not in record.value
    assert sent["user_id"] == str(person.id)  # ids stay readable: the audit keeps its shape
    seen: list[str] = []
    fetched = Fetched(broker.records)
    await consumer_of(keys, seen).handle(fetched)  # type: ignore[arg-type]
    assert seen == ["Annegret"] and fetched.acked


async def test_a_message_of_a_person_erased_before_it_is_consumed_is_not_handled():
    keys = Keys()
    person = Person(uuid4(), "Anna")
    keys.keys[person.id] = new_key()
    person.rename("Berta")
    broker = await published(keys, person)
    keys.keys[person.id] = None  # erased before the consumer got to it
    seen: list[str] = []
    before = erased_count()
    fetched = Fetched(broker.records)
    await consumer_of(keys, seen).handle(fetched)  # type: ignore[arg-type]
    assert seen == [] and fetched.acked and erased_count() == before + 1


async def test_values_of_someone_users_does_not_know_stay_plain_and_plain_messages_are_handled_as_before():
    keys = Keys()  # nobody known: every fetch answers UNKNOWN
    person = Person(uuid4(), "Anna")
    person.rename("Carla")
    broker = await published(keys, person)
    (record,) = broker.records
    assert json.loads(record.value)["first_name"] == "Carla"
    seen: list[str] = []
    await consumer_of(keys, seen).handle(Fetched(broker.records))  # type: ignore[arg-type]
    assert seen == ["Carla"]


def test_without_a_key_ring_a_message_is_published_as_it_is_and_opening_changes_nothing_plain():
    message = users.UserRenamed(user_id=uuid4(), company_id=uuid4(), first_name="Dora", last_name="D")
    body = seal_body(message, None)
    assert body == message.model_dump_json().encode()
    assert json.loads(open_body(users.UserRenamed, body, KeyRing(Keys().fetch)) or b"{}")["first_name"] == "Dora"


def test_an_erased_approvers_comment_opens_to_null_and_the_approval_is_still_handled():
    from decimal import Decimal

    from contracts.approval.v1 import OrderApproved
    from contracts.base import Money

    keys = Keys()
    approver = uuid4()
    keys.keys[approver] = new_key()
    ring = KeyRing(keys.fetch)
    approved = OrderApproved(order_id=uuid4(), company_id=uuid4(), buyer_id=uuid4(), approver_id=approver,
                             comment="passt, Kostenstelle 4711", total=Money(amount=Decimal("10"), currency="EUR"),
                             approved_at="2026-12-07T10:00:00Z")  # fmt: skip
    body = seal_body(approved, ring)
    assert b"4711" not in body
    assert OrderApproved.model_validate_json(open_body(OrderApproved, body, ring) or b"").comment == approved.comment
    keys.keys[approver] = None
    ring.forget(approver)
    opened = open_body(OrderApproved, body, ring)
    assert opened is not None and OrderApproved.model_validate_json(opened).comment is None


async def test_a_batch_of_many_peoples_messages_asks_users_for_all_their_keys_at_once():
    keys = Keys()
    people = [Person(uuid4(), "Anna") for _ in range(5)]
    for n, person in enumerate(people):
        keys.keys[person.id] = new_key()
        person.rename(f"Name {n}")
    records = (await published(keys, *people)).records
    assert len(records) == 5
    keys.asked.clear()
    seen: list[str] = []
    await consumer_of(keys, seen, many=True).handle(Fetched(records))  # type: ignore[arg-type]
    assert seen == [f"Name {n}" for n in range(5)]
    assert keys.asked == [sorted((p.id for p in people), key=str)]  # one request, every person, none alone


def test_a_nested_models_personal_fields_are_sealed_with_the_key_the_nested_owner_names():
    from contracts.registration.v1 import CompanyMasterData, MainContact, RegistrationCompleted

    keys = Keys()
    person = uuid4()
    keys.keys[person] = new_key()
    ring = KeyRing(keys.fetch)
    completed = RegistrationCompleted(
        registration_id=uuid4(), company_id=uuid4(), completed_at="2026-12-07T10:00:00Z",
        company=CompanyMasterData(customer_number="K-1", name="Muster GmbH"),
        main_contact=MainContact(email="ute.unterschrift@example.com", first_name="Ute", last_name="Unterschrift",
                                 user_id=person),
    )  # fmt: skip
    body = seal_body(completed, ring)
    assert b"unterschrift" not in body.lower() and b"Muster GmbH" in body
    contact = json.loads(body)["main_contact"]
    assert all(is_sealed(contact[f]) for f in ("email", "first_name", "last_name"))
    opened = open_body(RegistrationCompleted, body, ring)
    assert RegistrationCompleted.model_validate_json(opened or b"") == completed
    keys.keys[person] = None
    ring.forget(person)
    assert open_body(RegistrationCompleted, body, ring) is None  # the main contact cannot be without an address
    without_person = completed.model_copy(update={"main_contact": completed.main_contact.model_copy(
        update={"user_id": None})})  # fmt: skip
    assert b"ute.unterschrift@example.com" in seal_body(without_person, ring)  # nobody to seal for: plain as before
