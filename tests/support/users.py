"""Builders for the users service's tests: registrations, a company with its main contact, actors."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from contracts.registration.v1 import CompanyMasterData, ErpContact, MainContact, RegistrationCompleted
from kc_runtime.auth import Caller

_ADDRESS = {"name": "Muster GmbH", "street": "Hauptstr. 1", "postal_code": "10115", "city": "Berlin", "country": "DE"}


TEST_ISSUER = "https://idp.test"


def signed_in(email: Any, *, subject: str | None = None, verified: bool = True, issuer: str = TEST_ISSUER) -> Caller:
    """What a verified token says, for service tests: one account (subject) per address, as at a real identity
    provider, and a verified e-mail unless ``verified=False``."""
    sub = subject if subject is not None else f"sub|{str(email).strip().lower()}"
    return Caller(subject=sub, email=email, issuer=issuer, email_verified=verified)


def signed_in_user(directory: Any, user_id: UUID) -> Caller:
    """A token of the user's own account whatever their address is now: the subject users bound them to (not
    signed in yet: their address's)."""
    from users.application.identity import sign_in_of

    row, binding = directory.read_model.user(user_id), sign_in_of(directory, user_id)
    if binding is None:
        return signed_in(row.email)
    return signed_in(row.email, subject=binding.subject, issuer=binding.issuer)


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid4().hex[:12]}@example.com"


def registration(
    *,
    company_id: UUID | None = None,
    email: str | None = None,
    customer_number: str | None = None,
    erp_contacts: list[ErpContact] | None = None,
) -> RegistrationCompleted:
    number = customer_number or f"K-{uuid4().hex[:8]}"
    return RegistrationCompleted(
        registration_id=uuid4(),
        company_id=company_id or uuid4(),
        company=CompanyMasterData(customer_number=number, name=f"Muster GmbH {number}", currency="EUR"),
        main_contact=MainContact(email=email or unique_email("main"), first_name="Martha", last_name="Main"),
        erp_contacts=erp_contacts or [],
        completed_at=datetime.now(UTC),
    )


def erp_contact(first: str = "Erna", last: str = "Erp", email: str | None = "") -> ErpContact:
    return ErpContact(
        erp_contact_id=f"C-{uuid4().hex[:8]}",
        email=unique_email(first.lower()) if email == "" else email,
        first_name=first,
        last_name=last,
        phone="+49 30 1234",
    )


# ---- journeys: registering companies over Kafka, reading what users publishes --------------------------


class RegistrationPublisher:
    """Publishes RegistrationCompleted as the registration service would (envelope headers, keyed by customer
    number).

    The producer name is unique per test session: tracking positions are per producer, topic and partition,
    and must rise. Publishing as ``registration`` with made-up ids would make the users service of a shared
    stack skip the real registration service's messages later (ids at or below the recorded one are taken
    for duplicates).
    """

    def __init__(self, bootstrap: str, topic_prefix: str = "") -> None:
        from aiokafka import AIOKafkaProducer

        self.producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
        self.name = f"registration-test-{uuid4().hex[:10]}"
        self.topic_prefix = topic_prefix
        self._next_id = 0

    async def start(self) -> None:
        await self.producer.start()

    async def stop(self) -> None:
        await self.producer.stop()

    async def publish(self, msg: RegistrationCompleted, notification_id: int | None = None) -> int:
        """Publish; returns the source notification id used (pass it again to imitate a redelivery)."""
        from contracts import Envelope
        from contracts.topics import REGISTRATION_REGISTRATIONS

        if notification_id is None:
            self._next_id += 1
            notification_id = self._next_id
        envelope = Envelope(
            event_id=uuid4(),
            event_type=msg.event_type,
            schema_version=msg.schema_version,
            occurred_at=datetime.now(UTC),
            correlation_id=f"journey-{uuid4()}",
            causation_id=f"journey-{uuid4()}",
            producer=self.name,
            source_notification_id=notification_id,
        )
        await self.producer.send_and_wait(
            self.topic_prefix + REGISTRATION_REGISTRATIONS.name,
            msg.model_dump_json().encode(),
            key=msg.company.customer_number.encode(),
            headers=[(k, v.encode()) for k, v in envelope.to_headers().items()],
        )
        return notification_id


async def read_records(bootstrap: str, topic: str, key: bytes) -> list:
    """Every record of ``topic`` with ``key``, from the beginning to the current end of its partitions."""
    import asyncio

    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        assert partitions, f"topic {topic} does not exist"
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        records = []
        remaining = {tp for tp in partitions if end[tp] > 0}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while remaining:
            assert loop.time() < deadline, f"could not read {topic} to its end"
            for tp, recs in (await consumer.getmany(timeout_ms=200)).items():
                records.extend(r for r in recs if r.key == key)
                if recs and recs[-1].offset + 1 >= end[tp]:
                    remaining.discard(tp)
        return records
    finally:
        await consumer.stop()


# ---- journey fixtures (import them into a journey module) ----------------------------------------------


@dataclass
class JourneyCompany:
    id: str
    main_email: str
    main: dict[str, str]  # the main contact's Authorization header
    main_id: str
    registration: RegistrationCompleted
    notification_id: int


ERP_SIMULATOR = os.environ.get("KC_TEST_ERP_SIMULATOR", "http://127.0.0.1:8111")


@dataclass
class UsersApi:
    """The users API through the gateway, as the shop uses it, plus a registration over Kafka (of a customer the
    ERP simulator knows, with its default price list)."""

    gateway: Any
    token: Any
    registrar: RegistrationPublisher
    erp_simulator: str = ERP_SIMULATOR

    async def auth(self, email: str, **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.token(email=email, **claims)}"}

    async def company(
        self, erp_contacts: list[ErpContact] | None = None, customer_number: str | None = None
    ) -> JourneyCompany:
        """A registered company; ``customer_number``: of a customer already in the ERP simulator (else a new one
        with no contact persons). Returned once approval has the ERP's prices for it."""
        from tests.conftest import eventually

        msg = registration(erp_contacts=erp_contacts, customer_number=customer_number)
        if customer_number is None:
            async with httpx.AsyncClient(base_url=self.erp_simulator, timeout=30) as erp:
                # the customer in the ERP: its default price list reaches approval through erp-sync
                number = msg.company.customer_number
                r = await erp.post("/admin/customers", json={"customer_number": number, "contacts": []})
                assert r.status_code == 201, r.text
        notification_id = await self.registrar.publish(msg)
        email = str(msg.main_contact.email)
        headers = await self.auth(email)

        async def created() -> Any:
            r = await self.gateway.get("/api/me", headers=headers)
            return r.json() if r.status_code == 200 else None

        me = await eventually(created, what="users to create the company from the registration")

        async def priced() -> bool:
            body = {"lines": [{"sku": "A-100", "quantity": 1}], "delivery_address": _ADDRESS,
                    "billing_address": _ADDRESS, "payment_method": "invoice", "shipping_method": "standard"}  # fmt: skip
            r = await self.gateway.post("/api/orders/evaluate", json=body, headers=headers)
            return r.status_code == 200

        await eventually(priced, what="approval to have the ERP's prices of the new company")
        return JourneyCompany(str(msg.company_id), email, headers, me["user"]["id"], msg, notification_id)

    async def user(
        self, company: JourneyCompany, role_ids: list[str] | None = None, **fields: Any
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """A new user of ``company`` (created by its main contact) and their Authorization header."""
        body = {
            "email": unique_email(),
            "first_name": "Bea",
            "last_name": "Buyer",
            "role_ids": role_ids if role_ids is not None else ["buyer"],
            **fields,
        }
        r = await self.gateway.post("/api/users", json=body, headers=company.main)
        assert r.status_code == 201, r.text
        return r.json(), await self.auth(body["email"])

    async def change_email(self, user_id: str, email: str, by: dict[str, str]) -> dict[str, Any]:
        """Start a change of a user's address and confirm it from the new mailbox; the user as it is then."""
        started = await self.gateway.put(f"/api/users/{user_id}/email", json={"email": email}, headers=by)
        assert started.status_code == 202, started.text
        change = started.json()
        token = await mailed_confirmation(email, change["id"])
        confirmed = await self.gateway.post(f"/api/email-changes/{change['id']}/confirm", json={"token": token})
        assert confirmed.status_code == 200, confirmed.text
        return confirmed.json()


SMTP_SINK = os.environ.get("KC_TEST_SMTP_SINK", "http://127.0.0.1:8113")


async def mailed_confirmation(address: str, change_id: str) -> str:
    """The token of the e-mail change ``change_id`` from the confirmation mail to ``address`` (the SMTP sink,
    as the real mail path delivers it)."""
    import re

    from tests.conftest import eventually

    link = re.compile(r"change=" + re.escape(change_id) + r"&(?:amp;)?token=([A-Za-z0-9_-]+)")

    async def probe() -> str | None:
        async with httpx.AsyncClient(base_url=SMTP_SINK, timeout=10) as sink:
            r = await sink.get("/messages", params={"to": address})
        if r.status_code != 200:
            return None
        for mail in r.json():
            found = link.search((mail.get("text") or "") + (mail.get("html") or ""))
            if found:
                return found.group(1)
        return None

    return await eventually(probe, timeout=30, what=f"the confirmation mail to {address}")


def subject_of(headers: dict[str, str]) -> str:
    """The ``sub`` claim of the token in an Authorization header (the account at the identity provider)."""
    import base64
    import json

    payload = headers["Authorization"].removeprefix("Bearer ").split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"])


def journey_fixtures() -> tuple[Any, Any]:
    """``registrar, users_api = journey_fixtures()`` in a journey module defines its two fixtures: the
    session's RegistrationPublisher and the :class:`UsersApi` (needs the journeys' ``gateway`` and ``token``)."""

    @pytest.fixture(scope="session")
    async def registrar() -> Any:
        from tests.support.infra import KAFKA

        publisher = RegistrationPublisher(KAFKA)
        await publisher.start()
        yield publisher
        await publisher.stop()

    @pytest.fixture
    def users_api(gateway: Any, token: Any, registrar: RegistrationPublisher) -> UsersApi:
        return UsersApi(gateway, token, registrar)

    return registrar, users_api
