"""The registration service in memory: its HTTP API, its consumer of the ERP's answers, its outbox."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from contracts.erp_sync.v1 import CustomerVerificationFailed, CustomerVerified
from contracts.registration.v1 import CompanyMasterData, ConfirmationRequested, ErpContact
from contracts.topics import ERP_SYNC_VERIFICATIONS
from registration.adapters.inbound.kafka import consumer_specs
from registration.adapters.outbound.translator import make_translator
from registration.application.registrations import Registrations
from registration.main import create_app
from registration.settings import RegistrationSettings
from tests.service.registration.keys import UsersKeys
from tests.service.registration.wire import Inbox, Outbox, published

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def random_ip() -> str:
    n = uuid4().int
    return f"10.{n % 250}.{(n >> 8) % 250}.{(n >> 16) % 250 + 1}"


def body(customer_number: str = "10001", invoice: str = "R-10001-1", **over: Any) -> dict[str, Any]:
    return {
        "customer_number": customer_number,
        "invoice_number": invoice,
        "email": f"anna-{uuid4().hex[:8]}@example.com",
        "first_name": "Anna",
        "last_name": "Müller-Lüdenscheidt",
        "language": "de",
        **over,
    }


@dataclass
class System:
    app: Any
    registrations: Registrations
    clock: Clock
    inbox: Inbox
    outbox: Outbox
    settings: RegistrationSettings
    keys: UsersKeys
    _ids = itertools.count(1)

    def client(self, ip: str | None = None) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, client=(ip or random_ip(), 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://registration")

    async def submit(self, ip: str | None = None, **kwargs: Any) -> httpx.Response:
        async with self.client(ip) as c:
            return await c.post("/api/registrations", json=body(**kwargs))

    async def status(self, registration_id: str) -> dict[str, Any]:
        async with self.client() as c:
            r = await c.get(f"/api/registrations/{registration_id}")
            assert r.status_code == 200, r.text
            return r.json()

    async def confirm(self, registration_id: str, token: str) -> httpx.Response:
        async with self.client() as c:
            return await c.post(f"/api/registrations/{registration_id}/confirm", json={"token": token})

    async def erp_says(self, registration_id: str, customer_number: str = "10001", reason: str | None = None) -> None:
        """erp-sync's answer for the attempt (verified unless a failure reason is given)."""
        message: Any
        if reason is None:
            message = CustomerVerified(
                registration_id=UUID(registration_id),
                customer_number=customer_number,
                company=CompanyMasterData(customer_number=customer_number, name="Muster GmbH"),
                erp_contacts=[ErpContact(erp_contact_id="C-1", email="c1@example.com", first_name="Carl")],
                verified_at=self.clock(),
            )
        else:
            message = CustomerVerificationFailed(
                registration_id=UUID(registration_id),
                customer_number=customer_number,
                reason=reason,  # type: ignore[arg-type]
                failed_at=self.clock(),
            )
        p = published(ERP_SYNC_VERIFICATIONS, customer_number, message, next(self._ids), "erp-sync")
        await self.inbox.deliver(p)

    def token(self, registration_id: str) -> str:
        mails = [m for m in self.outbox.of_type(ConfirmationRequested) if str(m.registration_id) == registration_id]
        assert mails, "no ConfirmationRequested published"
        return mails[-1].token

    async def verified(self, ip: str | None = None, **kwargs: Any) -> tuple[str, str]:
        """A registration the ERP verified: (id, token)."""
        r = await self.submit(ip, **kwargs)
        assert r.status_code == 202, r.text
        rid = r.json()["id"]
        await self.erp_says(rid, kwargs.get("customer_number", "10001"))
        return rid, self.token(rid)


@pytest.fixture
async def system() -> AsyncIterator[System]:
    settings = RegistrationSettings(
        database_url="memory://",  # type: ignore[arg-type]
        process_roles=["api"],
        log_format="console",
        lockout_max_failures_per_customer_at_address=3,
        lockout_max_failures_per_customer=6,
        lockout_max_failures_per_address=5,
        confirmation_ttl_s=600,
        confirmation_max_failures=3,
    )
    keys = UsersKeys()
    app = create_app(settings, key_ring=keys.ring(), reserve_key=keys.reserve)
    registrations: Registrations = app.state.runtime.app
    clock = Clock()
    registrations.clock = clock
    yield System(
        app=app,
        registrations=registrations,
        clock=clock,
        inbox=Inbox(registrations, "registration", consumer_specs(registrations)),
        outbox=Outbox(
            registrations, make_translator(registrations.tokens, settings.confirm_path_template), "registration"
        ),
        settings=settings,
        keys=keys,
    )
