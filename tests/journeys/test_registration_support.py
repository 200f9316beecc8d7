"""Helpers of the registration journeys (no tests here): a registrar that uses the public API through the
gateway as the shop would, customers made fresh in the ERP simulator, and the mailbox.

Each journey uses its own random client address (X-Forwarded-For, which the local gateway passes on and the
service believes from the gateway) and fresh customer numbers, so runs sharing the stack never lock each
other out or collide on "already registered".
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts import Headers
from contracts.topics import REGISTRATION_REGISTRATIONS
from tests.conftest import eventually
from tests.support.infra import KAFKA
from tests.support.ops import ops_headers

SMTP_SINK = "http://127.0.0.1:8113"
REGISTRATION_OPS = "http://127.0.0.1:8101"
USERS = "http://127.0.0.1:8102"
TOKEN_IN_MAIL = re.compile(r"token=([A-Za-z0-9_-]{20,})")


def random_ip() -> str:
    n = uuid.uuid4().int
    return f"10.{n % 250 + 1}.{(n >> 8) % 250 + 1}.{(n >> 16) % 250 + 1}"


def unique_email(prefix: str = "hk") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


async def new_customer(erp_simulator: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    """A customer of the ERP that nobody registered yet (fresh number, invoices R-<number>-1..3)."""
    r = await erp_simulator.post("/admin/customers", json=fields)
    assert r.status_code == 201, r.text
    return r.json()


@dataclass
class Registrar:
    gateway: httpx.AsyncClient
    ip: str

    def body(self, customer: dict[str, Any] | str, invoice: str | None = None, **over: Any) -> dict[str, Any]:
        number = customer if isinstance(customer, str) else customer["customer_number"]
        invoices = [] if isinstance(customer, str) else customer["invoices"]
        return {
            "customer_number": number,
            "invoice_number": invoice or (invoices[0] if invoices else "R-0"),
            "email": unique_email(),
            "first_name": "Hanna",
            "last_name": "Hauptkontakt",
            "language": "de",
            **over,
        }

    async def submit(self, customer: dict[str, Any] | str, invoice: str | None = None, **over: Any) -> httpx.Response:
        return await self.gateway.post(
            "/api/registrations", json=self.body(customer, invoice, **over), headers={"X-Forwarded-For": self.ip}
        )

    async def started(self, customer: dict[str, Any] | str, invoice: str | None = None, **over: Any) -> str:
        r = await self.submit(customer, invoice, **over)
        assert r.status_code == 202, r.text
        return r.json()["id"]

    async def status(self, registration_id: str) -> dict[str, Any]:
        r = await self.gateway.get(f"/api/registrations/{registration_id}")
        assert r.status_code == 200, r.text
        return r.json()

    async def decided(self, registration_id: str, timeout: float = 30) -> dict[str, Any]:
        """The status once the ERP's answer arrived (anything but verifying)."""

        async def probe():
            s = await self.status(registration_id)
            return s if s["status"] != "verifying" else None

        return await eventually(probe, timeout=timeout, what=f"registration {registration_id} to be decided")

    async def confirm(self, registration_id: str, token: str) -> httpx.Response:
        return await self.gateway.post(f"/api/registrations/{registration_id}/confirm", json={"token": token})


async def confirmation_token(registration_id: str, email: str, timeout: float = 30) -> str:
    """The token of the confirmation mail: from the SMTP sink once notifications sends it; until then (or
    meanwhile) from the ConfirmationRequested message that carries it to notifications."""

    async def probe() -> str | None:
        async with httpx.AsyncClient(timeout=5) as c:
            r = await c.get(f"{SMTP_SINK}/messages", params={"to": email})
        if r.status_code == 200:
            for mail in r.json():
                body = (mail.get("text") or "") + (mail.get("html") or "")
                # this attempt's mail: the link names the registration (an earlier attempt with the same address
                # may have been mailed too, e.g. before registration learned that a user holds the address)
                found = TOKEN_IN_MAIL.search(body) if registration_id in body else None
                if found:
                    return found.group(1)
        return await token_on_the_wire(registration_id)

    return await eventually(probe, timeout=timeout, interval=0.3, what="the confirmation token")


async def token_on_the_wire(registration_id: str) -> str | None:
    for record in reversed(await read_all(REGISTRATION_REGISTRATIONS.name)):
        headers = dict(record.headers)
        if headers.get(Headers.EVENT_TYPE) == b"ConfirmationRequested":
            body = json.loads(record.value)
            if body["registration_id"] == registration_id:
                return str(body["token"])
    return None


async def read_all(topic: str, timeout: float = 15.0) -> list[Any]:
    """Every record of ``topic``, from the beginning to its current end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, enable_auto_commit=False)
    await consumer.start()
    try:
        if topic not in await consumer.topics():  # also fetches the metadata the next line reads
            return []
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if end[tp] > 0}
        records: list[Any] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while remaining:
            assert loop.time() < deadline, f"could not read {topic} to its end within {timeout}s"
            for tp, batch in (await consumer.getmany(timeout_ms=200)).items():
                records.extend(batch)
                if batch and batch[-1].offset + 1 >= end[tp]:
                    remaining.discard(tp)
        return records
    finally:
        await consumer.stop()


async def support_view(customer_number: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as c:
        r = await c.get(
            f"{REGISTRATION_OPS}/ops/registrations",
            params={"customer_number": customer_number},
            headers=ops_headers("registration"),
        )
    assert r.status_code == 200, r.text
    return r.json()
