"""The User aggregate: names, e-mail, status, budget and roles; the main-contact rules."""

from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

import pytest

from users.domain.errors import (
    CannotDeactivateMainContact,
    CannotDeactivateSelf,
    InvalidEmail,
    InvalidName,
    MainContactRoleReserved,
    UnknownRole,
)
from users.domain.model import Budget, User, UserStatus
from users.domain.permissions import APPROVER, BUYER, MAIN_CONTACT, SERVICE_TECHNICIAN, effective_permissions


def resolve(role_ids):
    return effective_permissions(role_ids, {})


def a_user(role_ids=(BUYER,), main_contact=False, **kw) -> User:
    defaults = dict(
        company_id=uuid4(),
        email="Anna.Buyer@example.com",
        first_name="Anna",
        last_name="Buyer",
        language="de",
        role_ids=role_ids,
        resolve=resolve,
        main_contact=main_contact,
        created_at=datetime.now(UTC),
        by=None,
    )
    return User.create(**{**defaults, **kw})


def test_a_new_user_is_active_with_the_permissions_of_their_roles():
    user = a_user(role_ids=(BUYER, SERVICE_TECHNICIAN))
    assert user.status is UserStatus.ACTIVE
    assert user.permissions == ("place_orders", "view_data_sheets")
    assert not user.is_main_contact


def test_the_main_contact_holds_every_permission():
    user = a_user(role_ids=(), main_contact=True)
    assert user.role_ids == (MAIN_CONTACT,)
    assert len(user.permissions) == 7


def test_nobody_is_made_main_contact_by_naming_the_role():
    with pytest.raises(MainContactRoleReserved):
        a_user(role_ids=(MAIN_CONTACT,))


def test_an_unknown_role_is_refused():
    with pytest.raises(UnknownRole):
        a_user(role_ids=("wizard",))


@pytest.mark.parametrize("email", ["", "no-at-sign", "a@b", "a b@example.com", "x" * 250 + "@example.com"])
def test_an_implausible_email_is_refused(email):
    with pytest.raises(InvalidEmail):
        a_user(email=email)


def test_names_are_trimmed_and_must_not_be_empty():
    user = a_user(first_name="  Anna   Maria ")
    assert user.first_name == "Anna Maria"
    with pytest.raises(InvalidName):
        user.rename(" ", "Buyer", by=None)


def test_renaming_to_the_same_name_records_nothing():
    user = a_user()
    user.collect_events()
    user.rename("Anna", "Buyer", by=None)
    assert user.collect_events() == []


def test_changing_the_email_remembers_the_previous_one():
    user = a_user()
    user.collect_events()
    user.change_email("anna@example.org", by=None)
    (event,) = user.collect_events()
    assert event.previous_email == "Anna.Buyer@example.com"
    assert user.email == "anna@example.org"


def test_nobody_deactivates_themselves():
    user = a_user()
    with pytest.raises(CannotDeactivateSelf):
        user.deactivate(by=user.id)


def test_the_main_contact_cannot_be_deactivated():
    user = a_user(role_ids=(), main_contact=True)
    with pytest.raises(CannotDeactivateMainContact):
        user.deactivate(by=uuid4())


def test_deactivating_and_activating_are_idempotent():
    user = a_user()
    admin = uuid4()
    user.deactivate(by=admin)
    user.deactivate(by=admin)
    user.activate(by=admin)
    user.activate(by=admin)
    names = [type(e).__name__ for e in user.collect_events()]
    assert names == ["Created", "Deactivated", "Activated"]


def test_the_main_contact_keeps_the_role_when_their_other_roles_are_replaced():
    user = a_user(role_ids=(BUYER,), main_contact=True)
    user.set_roles([APPROVER], resolve, by=None)
    assert user.role_ids == (MAIN_CONTACT, APPROVER)


def test_setting_roles_records_the_new_effective_permissions():
    user = a_user()
    user.set_roles([APPROVER, BUYER, APPROVER], resolve, by=None)
    assert user.role_ids == (APPROVER, BUYER)
    assert user.permissions == ("place_orders", "approve_orders", "view_company_orders", "view_data_sheets")


def test_handing_over_the_main_contact_role_removes_it():
    user = a_user(role_ids=(BUYER,), main_contact=True)
    user.hand_over_main_contact([BUYER], resolve, by=None)
    assert user.role_ids == (BUYER,)
    assert not user.is_main_contact


def test_a_budget_is_recorded_once_per_change():
    user = a_user()
    user.collect_events()
    budget = Budget(10, Decimal("250.00"), "EUR")
    user.set_budget(budget, by=None)
    user.set_budget(Budget(10, Decimal("250.00"), "EUR"), by=None)
    assert [type(e).__name__ for e in user.collect_events()] == ["BudgetSet"]
    assert user.budget == budget
