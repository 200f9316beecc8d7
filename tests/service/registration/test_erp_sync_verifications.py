"""erp-sync's part of registration, in memory: ask the ERP, retry while it is silent, answer registration, and
tell the ERP about activated customer centers. The sales-order path stays as it was. (Which verifications the
schedule names, the due projection, needs PostgreSQL: tests/integration/erp_sync/test_due.py.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI

from contracts.erp.v1 import (
    CustomerCenterActivated,
    CustomerVerificationAnswered,
    CustomerVerificationRequested,
    ErpContactPerson,
    ErpCustomer,
)
from contracts.erp_sync.v1 import CustomerVerificationFailed, CustomerVerified
from contracts.registration.v1 import (
    CompanyMasterData,
    ConfirmationRequested,
    MainContact,
    RegistrationCompleted,
    VerificationRequested,
)
from contracts.topics import APPROVAL_ORDERS, ERP_INBOUND_CUSTOMER_VERIFICATION_RESULTS, REGISTRATION_REGISTRATIONS
from erp_sync.adapters.inbound.kafka import consumer_specs, verification_consumer_specs
from erp_sync.adapters.inbound.verification_http import verification_ops_router
from erp_sync.adapters.outbound.due import kind_of
from erp_sync.adapters.outbound.metrics import failure_of
from erp_sync.adapters.outbound.translator import translate
from erp_sync.application.exchanges import Exchanges
from erp_sync.application.verifications import Verifications
from erp_sync.domain.model import RetryPolicy
from kc_runtime.eventstore import WorkerPool
from tests.service.registration.wire import Inbox, Outbox, published

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class ErpSync:
    def __init__(self) -> None:
        self.exchanges = Exchanges(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
        self.clock = Clock()
        self.verifications = Verifications(self.exchanges, RetryPolicy(5, 60, 3600), self.clock)
        self.inbox = Inbox(self.exchanges, "erp-sync", verification_consumer_specs(self.verifications))
        self.outbox = Outbox(self.exchanges, translate, "erp-sync")
        self._ids = iter(range(1, 10_000))

    async def asked(self, registration_id=None, customer_number: str = "10001", invoice: str = "R-10001-1"):
        rid = registration_id or uuid4()
        msg = VerificationRequested(
            registration_id=rid, customer_number=customer_number, invoice_number=invoice, requested_at=T0
        )
        await self.inbox.deliver(
            published(REGISTRATION_REGISTRATIONS, customer_number, msg, next(self._ids), "registration")
        )
        return rid

    async def erp_answers(self, rid, outcome: str, customer: ErpCustomer | None = None, contacts=()):
        msg = CustomerVerificationAnswered(
            idempotency_key=f"customer-verification/{rid}",
            verification_id=rid,
            customer_number="10001",
            outcome=outcome,  # type: ignore[arg-type]
            customer=customer,
            contacts=list(contacts),
            answered_at=T0,
        )
        p = published(ERP_INBOUND_CUSTOMER_VERIFICATION_RESULTS, "10001", msg, next(self._ids), "erp-simulator/x")
        await self.inbox.deliver(p)

    def tick(self) -> int:
        """A round of the retry schedule naming every verification (it may name more than is due: the aggregate
        decides)."""
        log = self.exchanges.notifications(0, 10_000)
        every = {e.originator_id for _, e, _ in log if kind_of(e) == "verification"}
        return sum(1 for xid in every if self.verifications.resend_if_due(xid))


@pytest.fixture
def erp_sync() -> ErpSync:
    return ErpSync()


CUSTOMER = ErpCustomer(customer_number="10001", name="Muster GmbH", currency="EUR")


async def test_a_registration_question_becomes_one_question_to_the_erp(erp_sync: ErpSync):
    rid = await erp_sync.asked(invoice="R-7")
    await erp_sync.asked(rid, invoice="R-7")  # a second delivery (another notification id)
    (question,) = erp_sync.outbox.of_type(CustomerVerificationRequested)
    assert (question.verification_id, question.invoice_number, question.attempt) == (rid, "R-7", 1)
    assert question.idempotency_key == f"customer-verification/{rid}"


async def test_a_verified_answer_reaches_registration_with_master_data_and_usable_contacts(erp_sync: ErpSync):
    rid = await erp_sync.asked()
    contacts = [
        ErpContactPerson(contact_id="1", email="anna@example.com", first_name="Anna"),
        ErpContactPerson(contact_id="2", email="keine Adresse", first_name="Sepp"),
    ]
    await erp_sync.erp_answers(rid, "verified", CUSTOMER, contacts)
    (verified,) = erp_sync.outbox.of_type(CustomerVerified)
    assert verified.registration_id == rid
    assert verified.company == CompanyMasterData(customer_number="10001", name="Muster GmbH", currency="EUR")
    assert [(c.erp_contact_id, c.email) for c in verified.erp_contacts] == [("1", "anna@example.com"), ("2", None)]


@pytest.mark.parametrize("outcome", ["unknown_customer", "invoice_mismatch", "not_allowed"])
async def test_a_failed_verification_reaches_registration_with_its_reason(erp_sync: ErpSync, outcome: str):
    rid = await erp_sync.asked()
    await erp_sync.erp_answers(rid, outcome)
    (failed,) = erp_sync.outbox.of_type(CustomerVerificationFailed)
    assert (failed.registration_id, failed.reason) == (rid, outcome)


async def test_only_the_first_of_several_answers_counts(erp_sync: ErpSync):
    rid = await erp_sync.asked()
    await erp_sync.erp_answers(rid, "verified", CUSTOMER)
    await erp_sync.erp_answers(rid, "verified", CUSTOMER)
    assert len(erp_sync.outbox.of_type(CustomerVerified)) == 1


async def test_an_answer_to_a_question_never_asked_changes_nothing(erp_sync: ErpSync):
    await erp_sync.erp_answers(uuid4(), "verified", CUSTOMER)
    assert erp_sync.exchanges.max_notification_id() == 0


async def test_a_silent_erp_is_asked_again_with_backoff_under_the_same_key(erp_sync: ErpSync):
    rid = await erp_sync.asked()
    assert erp_sync.tick() == 0
    for seconds, attempt in [(5, 2), (15, 3), (35, 4)]:
        erp_sync.clock.now = T0 + timedelta(seconds=seconds)
        assert erp_sync.tick() == 1
        assert erp_sync.tick() == 0  # not due again yet
        assert erp_sync.verifications.verification(rid).attempts == attempt
    questions = erp_sync.outbox.of_type(CustomerVerificationRequested)
    assert [q.attempt for q in questions] == [1, 2, 3, 4]
    assert {q.idempotency_key for q in questions} == {f"customer-verification/{rid}"}


async def test_an_answered_question_is_not_asked_again(erp_sync: ErpSync):
    rid = await erp_sync.asked()
    await erp_sync.erp_answers(rid, "verified", CUSTOMER)
    erp_sync.clock.now = T0 + timedelta(hours=1)
    assert erp_sync.tick() == 0


async def test_a_question_unanswered_past_the_deadline_fails_as_erp_unavailable(erp_sync: ErpSync):
    rid = await erp_sync.asked()
    erp_sync.clock.now = T0 + timedelta(hours=2)
    erp_sync.tick()
    (failed,) = erp_sync.outbox.of_type(CustomerVerificationFailed)
    assert (failed.registration_id, failed.reason) == (rid, "erp_unavailable")
    await erp_sync.erp_answers(rid, "verified", CUSTOMER)  # too late
    assert erp_sync.outbox.of_type(CustomerVerified) == []


async def test_an_abandoned_question_is_not_asked_again_and_failed_once(erp_sync: ErpSync):
    await erp_sync.asked()
    erp_sync.clock.now = T0 + timedelta(hours=2)
    assert erp_sync.tick() == 1
    erp_sync.clock.now = T0 + timedelta(hours=3)
    assert erp_sync.tick() == 0
    assert len(erp_sync.outbox.of_type(CustomerVerificationRequested)) == 1
    assert len(erp_sync.outbox.of_type(CustomerVerificationFailed)) == 1


async def test_questions_asked_again_and_abandoned_count_as_the_verifications_failures(erp_sync: ErpSync):
    await erp_sync.asked()
    erp_sync.clock.now = T0 + timedelta(seconds=5)
    erp_sync.tick()
    erp_sync.clock.now = T0 + timedelta(hours=2)
    erp_sync.tick()
    events = [event for _, event, _ in erp_sync.exchanges.notifications(0, 100)]
    assert [failure_of(e) for e in events] == [None, ("verification", "retried"), ("verification", "dead_lettered")]


@asynccontextmanager
async def ops(erp_sync: ErpSync) -> AsyncIterator[httpx.AsyncClient]:
    """erp-sync's operator view of verifications, over HTTP in memory (its worker thread ends with the block)."""
    pool = WorkerPool(1)
    app = FastAPI()
    app.include_router(verification_ops_router(erp_sync.verifications, pool))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://erp-sync") as client:
            yield client
    finally:
        pool.shutdown()


async def test_the_operator_view_shows_a_question_waiting_with_when_it_is_asked_again(erp_sync: ErpSync):
    rid = await erp_sync.asked()
    erp_sync.clock.now = T0 + timedelta(seconds=5)
    erp_sync.tick()
    async with ops(erp_sync) as client:
        shown = (await client.get(f"/ops/customer-verifications/{rid}")).json()
    assert (shown["status"], shown["attempts"], shown["outcome"]) == ("requested", 2, None)
    assert datetime.fromisoformat(shown["next_attempt_at"]) == T0 + timedelta(seconds=15)


async def test_the_operator_view_shows_answered_and_abandoned_questions_in_the_verifications_words(erp_sync):
    answered, abandoned = await erp_sync.asked(), await erp_sync.asked()
    await erp_sync.erp_answers(answered, "verified", CUSTOMER)
    erp_sync.clock.now = T0 + timedelta(hours=2)
    erp_sync.tick()
    async with ops(erp_sync) as client:
        shown = [(await client.get(f"/ops/customer-verifications/{rid}")).json() for rid in (answered, abandoned)]
    assert [(x["status"], x["outcome"], x["next_attempt_at"]) for x in shown] == [
        ("answered", "verified", None),
        ("abandoned", None, None),
    ]


def completed(customer_number: str = "10001", company_id=None) -> RegistrationCompleted:
    return RegistrationCompleted(
        registration_id=uuid4(),
        company_id=company_id or uuid4(),
        company=CompanyMasterData(customer_number=customer_number, name="Muster GmbH"),
        main_contact=MainContact(email="anna@example.com", first_name="Anna", last_name="Muster", language="en"),
        completed_at=T0,
    )


async def test_a_completed_registration_tells_the_erp_once_that_the_customer_center_is_active(erp_sync: ErpSync):
    msg = completed()
    for i in (1, 2):  # the same completion twice (a replay)
        p = published(REGISTRATION_REGISTRATIONS, "10001", msg, 100 + i, "registration")
        await erp_sync.inbox.deliver(p)
    (activated,) = erp_sync.outbox.of_type(CustomerCenterActivated)
    assert activated.customer_number == "10001"
    assert activated.company_id == msg.company_id
    assert (activated.main_contact_email, activated.main_contact_language) == ("anna@example.com", "en")
    assert activated.idempotency_key == "customer-center-activation/10001"


async def test_confirmation_mails_on_the_registrations_topic_are_ignored(erp_sync: ErpSync):
    mail = ConfirmationRequested(
        registration_id=uuid4(),
        email="anna@example.com",
        first_name="Anna",
        last_name="M",
        token="t",
        expires_at=T0,
        confirm_path="/x",
    )
    await erp_sync.inbox.deliver(published(REGISTRATION_REGISTRATIONS, "1", mail, 1, "registration"))
    assert erp_sync.exchanges.max_notification_id() == 0
    assert erp_sync.inbox.dead_letters == []


def test_the_sales_order_consumer_is_unchanged():
    (spec,) = consumer_specs(Exchanges(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}))
    assert spec.topic is APPROVAL_ORDERS
