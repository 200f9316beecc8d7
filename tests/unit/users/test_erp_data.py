"""What the ERP keeps about a company reaches its Company: master data and the ERP's contact persons, in the
ERP's order, never changing a user (the shop is the master of its users)."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from users.domain.errors import NotFound
from users.domain.model import Company, ErpContact, ErpInbox

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def a_company(contacts=()) -> Company:
    company = Company(
        company_id=uuid4(), customer_number="K-1", name="Muster GmbH", currency="EUR", main_contact_id=uuid4(),
        erp_contacts=tuple(contacts), registration_id=uuid4(), registered_at=T0,
    )  # fmt: skip
    company.collect_events()
    return company


def nora(minutes: int | None = 0, **kw) -> ErpContact:
    at = T0 + timedelta(minutes=minutes) if minutes is not None else None
    return ErpContact(**{"erp_contact_id": "C-1", "email": "nora@example.com", "first_name": "Nora",
                         "last_name": "Neu", "changed_at": at, **kw})  # fmt: skip


def test_a_contact_the_erp_adds_joins_the_list_and_a_newer_state_replaces_it():
    company = a_company([ErpContact("C-0", "otto@example.com", "Otto", "Alt")])
    company.record_erp_contact(nora(1))
    company.record_erp_contact(nora(2, last_name="Neumann"))
    assert [(c.erp_contact_id, c.last_name) for c in company.erp_contacts] == [("C-0", "Alt"), ("C-1", "Neumann")]
    assert len(company.collect_events()) == 2


def test_the_same_state_again_or_an_older_one_changes_nothing():
    company = a_company()
    company.record_erp_contact(nora(2))
    company.collect_events()
    company.record_erp_contact(nora(2))
    company.record_erp_contact(nora(1, last_name="Alt"))
    assert company.collect_events() == []
    assert company.erp_contact("C-1").last_name == "Neu"


def test_a_contact_deactivated_in_the_erp_is_no_candidate_any_more():
    company = a_company([nora(None)])
    assert company.candidate("C-1").first_name == "Nora"
    company.record_erp_contact(nora(1, active=False))
    with pytest.raises(NotFound):
        company.candidate("C-1")


def test_a_contact_the_erp_names_as_a_user_is_no_candidate():
    company = a_company()
    company.record_erp_contact(nora(1, user_id=uuid4()))
    with pytest.raises(NotFound):
        company.candidate("C-1")


def test_the_erps_master_data_is_applied_in_the_erps_order_once():
    company = a_company()
    company.change_erp_master_data("Muster AG", "CHF", T0 + timedelta(minutes=2))
    company.change_erp_master_data("Muster AG", "CHF", T0 + timedelta(minutes=2))
    company.change_erp_master_data("Muster KG", "EUR", T0 + timedelta(minutes=1))
    assert (company.name, company.currency) == ("Muster AG", "CHF")
    assert len(company.collect_events()) == 1


def test_what_the_erp_sent_before_the_company_was_known_is_handed_to_it():
    company = a_company()
    inbox = ErpInbox(company_id=company.id)
    inbox.hold_contact(nora(1))
    inbox.hold_contact(nora(0, last_name="Alt"))  # older: not held
    inbox.hold_master_data("Muster AG", "EUR", T0)
    inbox.deliver_to(company)
    assert company.name == "Muster AG" and company.erp_contact("C-1").last_name == "Neu"
    assert inbox.delivered
