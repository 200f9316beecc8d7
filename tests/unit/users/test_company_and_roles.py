"""Company (approvers, main contact, ERP contacts), custom roles, permissions, and unique keys."""

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from users.domain.errors import (
    InvalidApprover,
    InvalidRole,
    InvalidTransfer,
    KeyTaken,
    NotFound,
    UnknownPermission,
    UnknownRole,
)
from users.domain.model import (
    ApproverCandidate,
    Company,
    ErpContact,
    KeyClaim,
    Role,
    email_key,
    role_name_key,
)
from users.domain.permissions import APPROVER, BUYER, CONTROLLER, Permission, effective_permissions

APPROVE = frozenset({Permission.APPROVE_ORDERS.value})


def a_company(contacts=()) -> Company:
    return Company(
        company_id=uuid4(),
        customer_number="K-1",
        name="Muster GmbH",
        currency="EUR",
        main_contact_id=uuid4(),
        erp_contacts=tuple(contacts),
        registration_id=uuid4(),
        registered_at=datetime.now(UTC),
    )


def candidate(company: Company, active=True, permissions=APPROVE) -> ApproverCandidate:
    return ApproverCandidate(uuid4(), company.id, active, permissions)


def test_the_company_id_is_the_one_registration_chose():
    company_id = uuid4()
    company = Company(
        company_id=company_id,
        customer_number="K",
        name="N",
        currency="EUR",
        main_contact_id=uuid4(),
        erp_contacts=(),
        registration_id=None,
        registered_at=datetime.now(UTC),
    )
    assert company.id == company_id


def test_approvers_are_active_users_of_the_company_holding_the_approve_permission():
    company = a_company()
    a, b = candidate(company), candidate(company)
    company.set_approvers([a, b, a], by=None)
    assert company.approver_ids == (a.user_id, b.user_id)


@pytest.mark.parametrize(
    "make",
    [
        lambda c: candidate(c, active=False),
        lambda c: candidate(c, permissions=frozenset({"place_orders"})),
        lambda c: ApproverCandidate(uuid4(), uuid4(), True, APPROVE),
    ],
    ids=["inactive", "without-approve-permission", "other-company"],
)
def test_an_ineligible_approver_is_refused(make):
    company = a_company()
    with pytest.raises(InvalidApprover):
        company.set_approvers([candidate(company), make(company)], by=None)
    assert company.approver_ids == ()


def test_an_empty_approver_list_means_the_main_contact_decides():
    company = a_company()
    company.set_approvers([candidate(company)], by=None)
    company.set_approvers([], by=None)
    assert company.approver_ids == ()


def test_removing_an_approver_is_an_event_with_the_remaining_list():
    company = a_company()
    a, b = candidate(company), candidate(company)
    company.set_approvers([a, b], by=None)
    company.collect_events()
    company.remove_approver(a.user_id, "approver_deactivated", by=None)
    company.remove_approver(uuid4(), "approver_deactivated", by=None)
    (event,) = company.collect_events()
    assert tuple(event.approver_ids) == (b.user_id,)
    assert event.reason == "approver_deactivated"


def test_the_main_contact_role_goes_only_to_another_active_user_of_the_company():
    company = a_company()
    with pytest.raises(InvalidTransfer):
        company.transfer_main_contact(ApproverCandidate(company.main_contact_id, company.id, True, APPROVE), by=None)
    with pytest.raises(InvalidTransfer):
        company.transfer_main_contact(candidate(company, active=False), by=None)
    with pytest.raises(InvalidTransfer):
        company.transfer_main_contact(ApproverCandidate(uuid4(), uuid4(), True, APPROVE), by=None)
    target = candidate(company)
    company.transfer_main_contact(target, by=None)
    assert company.main_contact_id == target.user_id


def test_an_erp_contact_is_taken_over_once():
    company = a_company([ErpContact("C-1", "c1@example.com", "Carla", "Eins")])
    first, second = uuid4(), uuid4()
    company.record_take_over("C-1", first, by=None)
    company.record_take_over("C-1", second, by=None)
    assert company.taken_over_by("C-1") == first
    with pytest.raises(NotFound):
        company.record_take_over("C-404", first, by=None)


def test_a_custom_role_is_built_from_the_catalogue():
    role = Role.define(
        company_id=uuid4(), name=" Einkauf  Plus ", description="", permissions=["place_orders"], by=None
    )
    assert role.name == "Einkauf Plus"
    assert role.permissions == ("place_orders",)
    with pytest.raises(UnknownPermission):
        Role.define(company_id=uuid4(), name="X", description="", permissions=["fly"], by=None)
    with pytest.raises(InvalidRole):
        Role.define(company_id=uuid4(), name="X", description="", permissions=[], by=None)


@pytest.mark.parametrize("name", ["Buyer", "main_contact", "APPROVER", "Service technician"])
def test_a_custom_role_cannot_take_a_predefined_name(name):
    with pytest.raises(InvalidRole):
        Role.define(company_id=uuid4(), name=name, description="", permissions=["place_orders"], by=None)


def test_a_deleted_role_cannot_be_changed():
    role = Role.define(company_id=uuid4(), name="X", description="", permissions=["place_orders"], by=None)
    role.delete(by=None)
    with pytest.raises(NotFound):
        role.change("Y", "", ["place_orders"], by=None)


def test_effective_permissions_are_the_union_of_the_roles():
    custom = {"r1": ["view_reports", "manage_budgets"]}
    assert effective_permissions([BUYER, APPROVER, "r1"], custom) == {
        Permission.PLACE_ORDERS,
        Permission.APPROVE_ORDERS,
        Permission.VIEW_COMPANY_ORDERS,
        Permission.VIEW_DATA_SHEETS,
        Permission.VIEW_REPORTS,
        Permission.MANAGE_BUDGETS,
    }
    assert Permission.PLACE_ORDERS not in effective_permissions([CONTROLLER], {})


def test_email_keys_ignore_case_and_surrounding_space():
    assert email_key(" Anna@Example.COM ") == email_key("anna@example.com")
    assert KeyClaim.create_id(email_key("A@B.de")) == KeyClaim.create_id(email_key("a@b.DE"))


def test_role_name_keys_are_per_company():
    company = uuid4()
    assert role_name_key(company, "Einkauf") == role_name_key(company, " einkauf ")
    assert role_name_key(company, "Einkauf") != role_name_key(uuid4(), "Einkauf")


def test_a_claimed_key_refuses_another_owner_until_released():
    owner, other = uuid4(), uuid4()
    claim = KeyClaim(key="email/a@b.de", owner_id=owner)
    claim.claim(owner)
    with pytest.raises(KeyTaken):
        claim.claim(other)
    claim.release(other)  # not theirs to release
    assert claim.owner_id == owner
    claim.release(owner)
    claim.claim(other)
    assert claim.owner_id == other


def test_unknown_roles_are_refused_in_effective_permissions():
    with pytest.raises(UnknownRole):
        effective_permissions([BUYER, "nope"], {})
