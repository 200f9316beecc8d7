"""What the ERP keeps about a registered company reaches the users service on erp-sync.customers.v1: its master
data and its contact persons (added, changed, deactivated), also what the ERP sent before the registration."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

from contracts.erp import v1 as erp
from contracts.erp_sync import v1 as sync_wire
from contracts.topics import (
    ERP_INBOUND_CONTACTS,
    ERP_INBOUND_CUSTOMERS,
    ERP_SYNC_CUSTOMERS,
    REGISTRATION_REGISTRATIONS,
    USERS_USERS,
)
from tests.service.erp_sync.test_erp_exchange import T0, ErpSync, registration, user_created


def contact(number: str, contact_id: str, minutes: int = 0, **kw) -> erp.ErpContactChanged:
    fields = dict(
        idempotency_key=f"erp-contact/{contact_id}/{minutes}", customer_number=number, contact_id=contact_id,
        email=f"{contact_id.lower()}@example.com", first_name="Nora", last_name="Neu", phone="+49 30 1",
        changed_at=T0 + timedelta(minutes=minutes),
    )  # fmt: skip
    return erp.ErpContactChanged(**{**fields, **kw})


def master(number: str, minutes: int, name: str, allowed: bool = True) -> erp.CustomerMasterDataChanged:
    return erp.CustomerMasterDataChanged(
        idempotency_key=f"customer/{number}/{minutes}", customer_number=number,
        customer=erp.ErpCustomer(customer_number=number, name=name, vat_id="DE1", currency="EUR"),
        customer_center_allowed=allowed, changed_at=T0 + timedelta(minutes=minutes),
    )  # fmt: skip


def for_users(sync: ErpSync, cls: type) -> list:
    return [m for m in sync.sent(ERP_SYNC_CUSTOMERS) if isinstance(m, cls)]


async def test_a_contact_the_erp_adds_changes_and_deactivates_reaches_users_once_each():
    sync, company = ErpSync(), uuid4()
    await sync.deliver(REGISTRATION_REGISTRATIONS, "10001", registration(company))
    for msg in (
        contact("10001", "C-1", 1),
        contact("10001", "C-1", 1),  # the ERP sent the same change twice
        contact("10001", "C-1", 2, last_name="Neumann"),
        contact("10001", "C-1", 0, last_name="Alt"),  # older than what erp-sync has: changes nothing
        contact("10001", "C-1", 3, last_name="Neumann", active=False),
    ):
        await sync.deliver(ERP_INBOUND_CONTACTS, "10001", msg, producer="erp")

    changes = for_users(sync, sync_wire.ErpContactPersonChanged)
    assert [(c.change, c.last_name, c.active) for c in changes] == [
        ("added", "Neu", True),
        ("changed", "Neumann", True),
        ("deactivated", "Neumann", False),
    ]
    assert {(c.company_id, c.customer_number, c.contact_id) for c in changes} == {(company, "10001", "C-1")}
    first = changes[0]
    assert (first.email, first.phone, first.changed_at) == ("c-1@example.com", "+49 30 1", T0 + timedelta(minutes=1))


async def test_contacts_of_a_customer_that_has_not_registered_reach_users_with_the_registration():
    sync, company = ErpSync(), uuid4()
    await sync.deliver(ERP_INBOUND_CUSTOMERS, "30003", master("30003", 1, "Früh GmbH"), producer="erp")
    await sync.deliver(ERP_INBOUND_CONTACTS, "30003", contact("30003", "C-8", 2), producer="erp")
    assert for_users(sync, object) == []  # no company yet

    await sync.deliver(REGISTRATION_REGISTRATIONS, "30003", registration(company, "30003"))
    (data,) = for_users(sync, sync_wire.CompanyMasterDataChanged)
    assert (data.company_id, data.name, data.vat_id) == (company, "Früh GmbH", "DE1")
    assert data.changed_at == T0 + timedelta(minutes=1)
    (person,) = for_users(sync, sync_wire.ErpContactPersonChanged)
    assert (person.company_id, person.contact_id, person.change) == (company, "C-8", "added")
    assert person.changed_at == T0 + timedelta(minutes=2)
    assert for_users(sync, sync_wire.CustomerCenterAccessChanged) == []  # allowed: nothing to say


async def test_the_erps_master_data_of_a_registered_company_reaches_users():
    sync, company = ErpSync(), uuid4()
    await sync.deliver(REGISTRATION_REGISTRATIONS, "10001", registration(company))
    await sync.deliver(ERP_INBOUND_CUSTOMERS, "10001", master("10001", 1, "Muster AG"), producer="erp")
    await sync.deliver(ERP_INBOUND_CUSTOMERS, "10001", master("10001", 1, "Muster AG"), producer="erp")
    (data,) = for_users(sync, sync_wire.CompanyMasterDataChanged)
    assert (data.company_id, data.customer_number, data.name, data.customer_center_allowed) == (
        company, "10001", "Muster AG", True,
    )  # fmt: skip


async def test_the_erps_answer_to_our_contact_message_is_not_repeated_but_its_own_change_of_a_user_is():
    sync, company = ErpSync(), uuid4()
    await sync.deliver(REGISTRATION_REGISTRATIONS, "10001", registration(company))
    bea = user_created(company)
    await sync.deliver(USERS_USERS, str(company), bea)
    answer = contact("10001", "C-7", 1, user_id=bea.user_id, in_reply_to=f"contact/{bea.user_id}/1")
    await sync.deliver(ERP_INBOUND_CONTACTS, "10001", answer, producer="erp")
    assert for_users(sync, sync_wire.ErpContactPersonChanged) == []

    changed_in_erp = contact("10001", "C-7", 2, user_id=bea.user_id, last_name="Anders")
    await sync.deliver(ERP_INBOUND_CONTACTS, "10001", changed_in_erp, producer="erp")
    (person,) = for_users(sync, sync_wire.ErpContactPersonChanged)
    assert (person.user_id, person.contact_id, person.last_name) == (bea.user_id, "C-7", "Anders")
