"""The ERP simulator erases a contact person when the Kundencenter asks (ADR 0035 decision 5), on the PostgreSQL of
the local stack (a database of its own, dropped afterwards; no Kafka): ``ContactErasureRequested`` removes names,
e-mail and phone from its shop contact, keeps the ids, and every copy is answered with the same ``ContactErased``;
a contact it never had is kept as erased, so an older message replayed later creates no one."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from contracts.erp.v1 import ContactCreated, ContactErased, ContactErasureRequested, ErpContactChanged
from contracts.topics import ERP_INBOUND_CONTACTS, ERP_OUTBOUND_CONTACTS
from standins.erp_simulator import db
from tests.standins.test_erp_simulator import _envelope
from tests.standins.test_erp_simulator_prices import FakeFetch, World, world  # noqa: F401  (the fixture)
from tests.support.erasure import holds_any
from tests.support.messages import consumer_record

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def person() -> dict[str, str]:
    tag = uuid.uuid4().hex[:10]
    return {"email": f"erika-{tag}@example.com", "first_name": f"Erika{tag}", "last_name": f"Muster{tag}"}


def created(user_id: uuid.UUID, company_id: uuid.UUID, marks: dict[str, str]) -> ContactCreated:
    return ContactCreated(
        idempotency_key=f"contact/{user_id}/1", sequence=1, user_id=user_id, company_id=company_id,
        customer_number="10001", created_at=NOW, **marks,
    )  # fmt: skip


def erasure(
    user_id: uuid.UUID, company_id: uuid.UUID, sequence: int, contact_id: str | None
) -> ContactErasureRequested:
    return ContactErasureRequested(
        idempotency_key=f"contact/{user_id}/{sequence}", sequence=sequence, user_id=user_id, company_id=company_id,
        customer_number="10001", erp_contact_id=contact_id, requested_at=NOW,
    )  # fmt: skip


def record(message: Any, offset: int) -> Any:
    envelope = _envelope().model_copy(update={"event_type": message.event_type, "event_id": uuid.uuid4()})
    return consumer_record(
        message, topic=ERP_OUTBOUND_CONTACTS.name, key=str(message.user_id), offset=offset,
        headers=envelope.to_headers(),
    )  # fmt: skip


async def answers(world: World) -> list[Any]:  # noqa: F811
    out: list[Any] = []
    for r in await world.sent():
        if r["topic"] == ERP_INBOUND_CONTACTS.name:
            kind = ContactErased if r["event_type"] == ContactErased.event_type else ErpContactChanged
            out.append(kind.model_validate(r["payload"]))
    return out


async def test_an_erasure_request_removes_the_persons_data_and_every_copy_is_answered_alike(world: World):  # noqa: F811
    marks, user_id, company_id = person(), uuid.uuid4(), uuid.uuid4()
    await world.simulator.consumer.handle(FakeFetch((record(created(user_id, company_id, marks), 0),)))  # type: ignore[arg-type]
    contact = await db.shop_contact(world.pool, user_id)
    assert contact is not None and contact["email"] == marks["email"]

    asked = erasure(user_id, company_id, 2, contact["contact_id"])
    await world.simulator.consumer.handle(FakeFetch((record(asked, 1), record(asked, 2))))  # type: ignore[arg-type]

    contact = await db.shop_contact(world.pool, user_id)
    assert contact is not None and contact["erased_at"] is not None
    assert (contact["email"], contact["first_name"], contact["last_name"], contact["phone"], contact["active"]) == (
        None, None, None, None, False,
    )  # fmt: skip
    assert holds_any(repr(contact), list(marks.values())) == []
    _, *erased = await answers(world)
    assert len(erased) == 2 and erased[0] == erased[1]  # a copy is answered the same way
    assert isinstance(erased[0], ContactErased)
    assert (erased[0].user_id, erased[0].contact_id, erased[0].in_reply_to) == (
        user_id, contact["contact_id"], asked.idempotency_key,
    )  # fmt: skip
    assert (await db.processed(world.pool, asked.idempotency_key) or {}).get("duplicates_discarded") == 1


async def test_a_contact_the_erp_never_had_is_kept_as_erased_and_an_older_message_creates_no_one(world: World):  # noqa: F811
    marks, user_id, company_id = person(), uuid.uuid4(), uuid.uuid4()
    await world.simulator.consumer.handle(FakeFetch((record(erasure(user_id, company_id, 2, None), 0),)))  # type: ignore[arg-type]
    await world.simulator.consumer.handle(FakeFetch((record(created(user_id, company_id, marks), 1),)))  # type: ignore[arg-type]

    contact = await db.shop_contact(world.pool, user_id)
    assert contact is not None and contact["erased_at"] is not None and contact["sequence"] == 2
    assert holds_any(repr(contact), list(marks.values())) == []
    assert all(not holds_any(m.model_dump_json(), list(marks.values())) for m in await answers(world))
