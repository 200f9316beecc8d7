"""The Customer aggregate of erp-sync: the ERP's contact persons, kept whole, in the ERP's order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from erp_sync.domain.customers import Customer

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def customer(company_id=None) -> Customer:
    c = Customer(customer_number="10001", company_id=company_id, customer_center_allowed=True, master_data=None, at=T0)
    c.collect_events()
    return c


def person(**kw):
    return {"contact_id": "C-1", "email": "c@example.com", "first_name": "Nora", "last_name": "Neu", "phone": None,
            "active": True, **kw}  # fmt: skip


def changes(c: Customer) -> list[str]:
    return [e.change for e in c.collect_events()]


def test_a_contact_is_added_changed_and_deactivated_in_the_erps_order():
    c = customer(uuid4())
    c.record_erp_contact(person(), T0)
    c.record_erp_contact(person(), T0 + timedelta(minutes=1))  # the same state: nothing
    c.record_erp_contact(person(last_name="Neumann"), T0 + timedelta(minutes=2))
    c.record_erp_contact(person(last_name="Alt"), T0 + timedelta(minutes=1))  # older: nothing
    c.record_erp_contact(person(last_name="Neumann", active=False), T0 + timedelta(minutes=3))
    c.record_erp_contact(person(last_name="Neumann"), T0 + timedelta(minutes=4))
    assert changes(c) == ["added", "changed", "deactivated", "changed"]
    assert c.erp_contacts["C-1"]["active"] is True and c.erp_contacts["C-1"]["last_name"] == "Neumann"


def test_the_link_hands_on_what_the_erp_sent_before():
    c = customer()
    c.change_master_data({"name": "Früh GmbH"}, False, T0)
    c.record_erp_contact(person(), T0)
    c.collect_events()
    company = uuid4()
    c.link(company, T0 + timedelta(hours=1))
    linked, master_data, contact = c.collect_events()  # an event each: at most one message per event and topic
    assert (linked.company_id, linked.customer_center_allowed) == (company, False)
    assert (master_data.company_id, master_data.master_data, master_data.changed_at) == (
        company, {"name": "Früh GmbH"}, T0,
    )  # fmt: skip
    assert (contact.company_id, contact.contact["contact_id"]) == (company, "C-1")


def test_a_change_of_flag_and_data_is_two_events():
    c = customer(uuid4())
    c.change_master_data({"name": "Neu GmbH"}, False, T0)
    assert [type(e).__name__ for e in c.collect_events()] == ["AccessChanged", "MasterDataChanged"]
    c.change_master_data({"name": "Neu GmbH"}, False, T0 + timedelta(minutes=1))
    assert c.collect_events() == []


def test_a_contact_recorded_by_the_first_version_is_read_back():
    c = customer(uuid4())
    # As the event store's mapper makes an event of the stored state (which lacks the fields added since).
    old = object.__new__(Customer.ErpContactRecorded)  # type: ignore[attr-defined]
    object.__setattr__(
        old, "__dict__", {"originator_id": c.id, "originator_version": c.version + 1, "timestamp": T0,
                          "contact": person()},
    )  # fmt: skip
    old.mutate(c)
    assert c.erp_contacts["C-1"]["first_name"] == "Nora"
    c.record_erp_contact(person(), T0)
    assert changes(c) == []
