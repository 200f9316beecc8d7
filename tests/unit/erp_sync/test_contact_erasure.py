"""Erasing a contact person (ADR 0035) as plain objects: the exchange forgets names and e-mail, its last message
asks the ERP to erase its contact person — delivered, re-sent, given up and retried like every message, settled
only by the ERP's erasure — and nothing users says later is sent or kept. The ERP's view of the person kept with
the customer keeps ids only. Every object is also rebuilt from its events, as the store would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from erp_sync.domain.customers import Customer
from erp_sync.domain.model import ContactExchange, DeliveryStatus, RetryPolicy

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ERASED_AT = T0 + timedelta(days=30)
POLICY = RetryPolicy(initial_s=10, max_s=40, give_up_after_s=100)
PERSON = {"email": "erika-4711@example.com", "first_name": "Erika4711", "last_name": "Muster4711"}


def later(seconds: float) -> datetime:
    return ERASED_AT + timedelta(seconds=seconds)


def contact(**kw: Any) -> ContactExchange:
    fields = dict(
        user_id=uuid4(), company_id=uuid4(), customer_number="10001", language="de", active=True,
        is_main_contact=False, erp_contact_id="C-7", at=T0, **PERSON,
    )  # fmt: skip
    return ContactExchange(**{**fields, **kw})


def rebuilt(x: ContactExchange, events: list[Any]) -> ContactExchange:
    """The aggregate as the store rebuilds it from ``events`` (all of them, from its creation)."""
    aggregate: Any = None
    for e in events:
        aggregate = e.mutate(aggregate)
    assert aggregate.id == x.id
    return aggregate


def holds_personal_data(value: Any) -> bool:
    return any(marker in repr(value) for marker in PERSON.values())


def test_an_erased_contact_forgets_names_and_email_and_asks_the_erp_to_erase_it():
    x = contact()
    x.erase(ERASED_AT)

    assert (x.email, x.first_name, x.last_name, x.active) == ("", "", "", False)
    assert x.erased and x.erased_at == ERASED_AT
    assert (x.message, x.sequence, x.idempotency_key) == ("erasure_requested", 2, f"contact/{x.user_id}/2")
    assert (x.status, x.attempts) == (DeliveryStatus.REQUESTED, 1)
    x.collect_events()  # (the pending Created event holds them: it is in the store already)
    assert not holds_personal_data(vars(x)) and not holds_personal_data(x.message_state())


def test_the_erasure_event_names_ids_only():
    x = contact()
    x.collect_events()
    x.erase(ERASED_AT)
    (erased,) = x.collect_events()
    assert isinstance(erased, ContactExchange.Erased)
    assert (erased.user_id, erased.erp_contact_id, erased.customer_number, erased.sequence) == (
        x.user_id, "C-7", "10001", 2,
    )  # fmt: skip
    assert not holds_personal_data(erased.__dict__)


def test_erasing_twice_changes_nothing():
    x = contact()
    x.erase(ERASED_AT)
    version = x.version
    x.erase(later(1))
    assert x.version == version and x.erased_at == ERASED_AT


def test_no_later_change_of_users_is_sent_or_kept():
    x = contact()
    x.erase(ERASED_AT)
    version = x.version
    x.change(later(1), first_name="Erika4711", last_name="Neu", email="erika-4711@example.com", active=True)
    x.change(later(2), is_main_contact=True, customer_number="20002")
    assert x.version == version
    assert (x.message, x.email, x.active) == ("erasure_requested", "", False)


def test_an_unanswered_erasure_request_is_sent_again_without_personal_data_and_given_up_after_the_window():
    x = contact()
    x.erase(ERASED_AT)
    x.collect_events()
    x.resend_if_due(later(10), POLICY)
    x.resend_if_due(later(100), POLICY)
    resent, failed = x.collect_events()
    assert isinstance(resent, ContactExchange.Resent) and resent.message["message"] == "erasure_requested"
    assert isinstance(failed, ContactExchange.Failed) and failed.message["sequence"] == 2
    assert not holds_personal_data(resent.__dict__) and not holds_personal_data(failed.__dict__)
    assert x.status is DeliveryStatus.FAILED

    assert x.retry(later(200))  # an operator's retry of the dead letter asks again
    assert (x.status, x.attempts, x.message) == (DeliveryStatus.REQUESTED, 3, "erasure_requested")


def test_only_the_erps_erasure_settles_the_request_and_only_once():
    x = contact()
    x.erase(ERASED_AT)
    x.acknowledge(2, "C-7", later(1))  # an ErpContactChanged naming the request's key does not settle it
    assert x.status is DeliveryStatus.REQUESTED
    x.record_erp_erasure(1, "C-7", later(2))  # an answer to an older message neither
    assert x.status is DeliveryStatus.REQUESTED

    x.record_erp_erasure(2, "C-7", later(3))
    assert (x.status, x.erp_erased_at, x.acknowledged_at) == (DeliveryStatus.ACKNOWLEDGED, later(3), later(3))
    version = x.version
    x.record_erp_erasure(2, "C-7", later(4))  # a copy answered again
    assert x.version == version and x.erp_erased_at == later(3)
    assert not x.retry(later(5))


def test_the_erps_erasure_before_any_erasure_changes_nothing():
    x = contact()
    version = x.version
    x.record_erp_erasure(1, "C-7", later(1))
    assert x.version == version and x.erp_erased_at is None


def test_a_late_answer_to_an_older_message_still_names_the_erps_id():
    x = contact(erp_contact_id=None)
    x.erase(ERASED_AT)
    x.acknowledge(1, "C-9", later(1))
    assert x.erp_contact_id == "C-9" and x.status is DeliveryStatus.REQUESTED


def test_a_person_erased_before_erp_sync_knew_them_is_a_tombstone_that_sends_nothing():
    user_id, company_id = uuid4(), uuid4()
    x = ContactExchange.erased_before_known(user_id, company_id, ERASED_AT)
    assert x.id == ContactExchange.create_id(user_id)
    assert x.erased and (x.email, x.first_name, x.last_name, x.active) == ("", "", "", False)
    assert (x.sequence, x.status) == (0, DeliveryStatus.ACKNOWLEDGED)
    assert x.due_at(POLICY) is None and not x.retry(later(1))
    x.erase(later(2))
    x.change(later(3), **PERSON, active=True)
    (created,) = x.collect_events()
    assert isinstance(created, ContactExchange.ErasedBeforeKnown)
    assert not isinstance(created, ContactExchange.Created)  # so no translator takes it for a contact to create


def test_the_store_rebuilds_the_erased_contact_and_the_tombstone_as_they_were():
    x = contact()
    x.erase(ERASED_AT)
    x.record_erp_erasure(2, "C-7", later(1))
    again = rebuilt(x, x.collect_events())
    assert (again.erased_at, again.erp_erased_at, again.email, again.message, again.status) == (
        ERASED_AT, later(1), "", "erasure_requested", DeliveryStatus.ACKNOWLEDGED,
    )  # fmt: skip

    tomb = ContactExchange.erased_before_known(uuid4(), uuid4(), ERASED_AT)
    again = rebuilt(tomb, tomb.collect_events())
    assert again.erased and again.sequence == 0 and again.status is DeliveryStatus.ACKNOWLEDGED


def test_the_customer_keeps_ids_only_of_the_erps_contact_that_is_the_erased_user():
    user_id, other = uuid4(), uuid4()
    customer = Customer("10001", uuid4(), True, None, T0)
    customer.record_erp_contact({"contact_id": "C-7", "user_id": str(user_id), "active": True, **PERSON}, T0)
    customer.record_erp_contact({"contact_id": "C-8", "user_id": str(other), "email": "o@example.com"}, T0)
    customer.collect_events()

    customer.forget_contacts_of(user_id, ERASED_AT)
    customer.forget_contacts_of(user_id, later(1))  # twice: nothing more

    (erased,) = customer.collect_events()
    assert isinstance(erased, Customer.ErpContactErased) and not holds_personal_data(erased.__dict__)
    assert customer.erp_contacts["C-7"] == {
        "contact_id": "C-7", "user_id": str(user_id), "active": False, "erased": True,
        "changed_at": ERASED_AT.isoformat(),
    }  # fmt: skip
    assert customer.erp_contacts["C-8"]["email"] == "o@example.com"
    assert not holds_personal_data(vars(customer))


def test_an_erased_erp_contact_is_not_handed_on_when_the_customer_registers():
    user_id = uuid4()
    customer = Customer("10001", None, True, None, T0)
    customer.record_erp_contact({"contact_id": "C-7", "user_id": str(user_id), **PERSON}, T0)
    customer.record_erp_contact({"contact_id": "C-8", "email": "o@example.com"}, T0)
    customer.forget_contacts_of(user_id, ERASED_AT)
    customer.collect_events()

    customer.link(uuid4(), later(1))

    handed_on = [e for e in customer.collect_events() if isinstance(e, Customer.ErpContactHandedOn)]
    assert [e.contact["contact_id"] for e in handed_on] == ["C-8"]
