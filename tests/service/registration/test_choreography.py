"""Registration, erp-sync and the ERP (simulator's answer logic) talking over an in-memory wire: what each side
writes, the next one reads — the whole registration from submission to the ERP's activation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from contracts.erp.v1 import CustomerCenterActivated, CustomerVerificationRequested
from contracts.registration.v1 import RegistrationCompleted
from contracts.topics import ERP_INBOUND_CUSTOMER_VERIFICATION_RESULTS
from erp_sync.adapters.inbound.kafka import verification_consumer_specs
from erp_sync.adapters.outbound.translator import translate as erp_sync_translate
from erp_sync.application.exchanges import Exchanges
from erp_sync.application.verifications import Verifications
from registration.domain.model import company_id_for
from standins.erp_simulator.seed import SEED_CUSTOMERS
from standins.erp_simulator.verification import answer
from tests.service.registration.conftest import System
from tests.service.registration.wire import Inbox, Outbox, published

ERP = {c["customer_number"]: c for c in SEED_CUSTOMERS}


class World:
    def __init__(self, registration: System) -> None:
        self.registration = registration
        self.exchanges = Exchanges(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
        self.erp_sync_in = Inbox(self.exchanges, "erp-sync", verification_consumer_specs(Verifications(self.exchanges)))
        self.erp_sync_out = Outbox(self.exchanges, erp_sync_translate, "erp-sync")
        self.erp_seen: list[Any] = []
        self._erp_ids = iter(range(1, 10_000))

    async def run(self) -> None:
        """Deliver until nothing moves."""
        while True:
            moved = self.registration.outbox.drain()
            await self.erp_sync_in.deliver(*moved)
            from_erp_sync = self.erp_sync_out.drain()
            await self.registration.inbox.deliver(*from_erp_sync)
            for p in from_erp_sync:
                self.erp_seen.append(p.message)
                if isinstance(p.message, CustomerVerificationRequested):
                    reply = answer(p.message, ERP.get(p.message.customer_number), datetime.now(UTC))
                    back = published(
                        ERP_INBOUND_CUSTOMER_VERIFICATION_RESULTS, p.key, reply, next(self._erp_ids), "erp"
                    )
                    await self.erp_sync_in.deliver(back)
            if not moved and not from_erp_sync:
                return


@pytest.fixture
def world(system: System) -> World:
    return World(system)


async def test_a_registration_travels_from_submission_to_the_erps_activation(world: World):
    r = world.registration
    rid = (await r.submit(customer_number="10001", invoice="R-10001-3")).json()["id"]
    await world.run()
    assert (await r.status(rid))["status"] == "awaiting_confirmation"
    assert (await r.confirm(rid, r.token(rid))).status_code == 200
    await world.run()
    (done,) = r.outbox.of_type(RegistrationCompleted)
    assert done.company_id == company_id_for("10001")
    assert done.company.name == "Muster Maschinenbau GmbH"
    assert done.company.billing_address is not None and done.company.billing_address.city == "Stuttgart"
    assert len(done.erp_contacts) == 2
    (activated,) = [m for m in world.erp_seen if isinstance(m, CustomerCenterActivated)]
    assert activated.customer_number == "10001" and activated.company_id == done.company_id


@pytest.mark.parametrize(
    ("customer", "invoice", "reason"),
    [
        ("10001", "R-10002-1", "verification_failed"),
        ("99999999", "R-10001-1", "verification_failed"),
        ("10003", "R-10003-1", "not_allowed"),
    ],
)
async def test_what_the_erp_refuses_the_applicant_sees_safely(world: World, customer, invoice, reason):
    r = world.registration
    rid = (await r.submit(customer_number=customer, invoice=invoice)).json()["id"]
    await world.run()
    status = await r.status(rid)
    assert (status["status"], status["reason"]) == ("rejected", reason)


async def test_contacts_the_erp_keeps_without_a_usable_address_arrive_without_one(world: World):
    r = world.registration
    rid = (await r.submit(customer_number="10004", invoice="R-10004-1")).json()["id"]
    await world.run()
    assert (await r.confirm(rid, r.token(rid))).status_code == 200
    await world.run()
    (done,) = r.outbox.of_type(RegistrationCompleted)
    assert sorted((c.first_name, c.email) for c in done.erp_contacts) == [
        ("Lena", "office@alpen-technik.example"),
        ("Sepp", None),
    ]
