"""The users use cases on the in-memory store: administration, invariants, permissions and company scoping."""

from decimal import Decimal
from uuid import uuid4

import pytest

from tests.service.users.conftest import World, make_world, register
from tests.support.users import erp_contact, registration, signed_in, unique_email
from users.application.directory import Directory
from users.application.read_model import user_row
from users.domain.errors import (
    CannotDeactivateSelf,
    EmailTaken,
    InvalidApprover,
    InvalidTransfer,
    MainContactRoleReserved,
    MissingPermission,
    NotFound,
    RoleInUse,
    RoleNameTaken,
    Unauthenticated,
    UnknownRole,
    UserInactive,
    VersionMismatch,
)
from users.domain.model import Budget
from users.domain.permissions import APPROVER, BUYER, MAIN_CONTACT, SERVICE_TECHNICIAN
from users.domain.policy import MainContactOnly

# ---- registration and identity -------------------------------------------------------------------------


def test_a_completed_registration_creates_the_company_and_its_main_contact(world: World):
    me = world.directory.me(world.main)
    assert me.company.company_id == world.company_id
    assert me.company.main_contact_id == me.user.user_id
    assert me.user.role_ids == (MAIN_CONTACT,)
    assert me.user.email == world.main_email
    assert [r.role_id for r in me.roles] == [MAIN_CONTACT]


def test_a_repeated_registration_creates_nothing(directory: Directory, world: World):
    assert register(directory, world.registration) == []


def test_the_token_email_identifies_the_user_whatever_its_case(world: World):
    assert world.directory.authenticate(signed_in(world.main_email.upper())).user_id == world.main.user_id


def test_an_unknown_email_is_unauthenticated(world: World):
    with pytest.raises(Unauthenticated):
        world.directory.authenticate(signed_in(unique_email()))
    for claim in (None, "", "  ", 42, ["a@example.com"]):
        with pytest.raises(Unauthenticated):
            world.directory.authenticate(signed_in(claim))


def test_a_deactivated_user_is_refused_at_once(world: World):
    user = world.user()
    world.directory.deactivate_user(world.main, user.user_id)
    with pytest.raises(UserInactive):
        world.directory.authenticate(signed_in(user.email))


# ---- users ----------------------------------------------------------------------------------------------


def test_a_created_user_is_listed_with_the_permissions_of_their_roles(world: World):
    user = world.user(role_ids=[BUYER, SERVICE_TECHNICIAN])
    page = world.directory.list_users(world.main)
    assert page.total == 2
    listed = next(u for u in page.items if u.user_id == user.user_id)
    assert listed == user
    assert listed.permissions == ("place_orders", "view_data_sheets")


def test_users_are_filtered_by_status_and_role_and_paged(world: World):
    buyers = [world.user(last_name=f"B{i}") for i in range(3)]
    world.user(role_ids=[APPROVER], last_name="Approver")
    world.directory.deactivate_user(world.main, buyers[0].user_id)
    d, main = world.directory, world.main
    assert d.list_users(main, role_id=BUYER).total == 3
    assert d.list_users(main, role_id=BUYER, status="active").total == 2
    assert d.list_users(main, status="inactive").items == [d.get_user(main, buyers[0].user_id)]
    page = d.list_users(main, limit=2, offset=2)
    assert page.total == 5 and len(page.items) == 2


def test_emails_are_unique_across_companies_whatever_their_case(directory: Directory, world: World):
    other = make_world(directory)
    user = world.user()
    with pytest.raises(EmailTaken):
        other.user(email=user.email.upper())
    with pytest.raises(EmailTaken):
        world.directory.change_email(world.main, world.user().user_id, user.email)


def test_a_changed_email_frees_the_old_one(world: World):
    user = world.user()
    old = user.email
    changed = world.directory.change_email(world.main, user.user_id, unique_email())
    assert world.directory.authenticate(signed_in(changed.email)).user_id == user.user_id
    with pytest.raises(Unauthenticated):
        world.directory.authenticate(signed_in(old))
    assert world.user(email=old).email == old


def test_changing_only_the_case_of_an_email_keeps_the_claim(world: World):
    user = world.user()
    changed = world.directory.change_email(world.main, user.user_id, user.email.upper())
    assert changed.email == user.email.upper()
    assert world.directory.authenticate(signed_in(user.email)).user_id == user.user_id


def test_renaming_a_user(world: World):
    user = world.user()
    renamed = world.directory.rename_user(world.main, user.user_id, "Berta", "Neu")
    assert (renamed.first_name, renamed.last_name, renamed.version) == ("Berta", "Neu", 2)


def test_a_stale_version_is_refused(world: World):
    user = world.user()
    world.directory.rename_user(world.main, user.user_id, "Berta", "Neu", expected_version=1)
    with pytest.raises(VersionMismatch):
        world.directory.rename_user(world.main, user.user_id, "Carla", "Neu", expected_version=1)


def test_nobody_deactivates_themselves(world: World):
    admin = world.user(role_ids=["buyer"])
    world.directory.set_roles(world.main, admin.user_id, [BUYER, _admin_role(world)])
    with pytest.raises(CannotDeactivateSelf):
        world.directory.deactivate_user(world.actor(admin), admin.user_id)


def test_nobody_deactivates_the_main_contact(world: World):
    admin = world.user()
    world.directory.set_roles(world.main, admin.user_id, [_admin_role(world)])
    with pytest.raises(MainContactOnly):
        world.directory.deactivate_user(world.actor(admin), world.main.user_id)


def test_a_deactivated_user_can_be_activated_again(world: World):
    user = world.user()
    world.directory.deactivate_user(world.main, user.user_id)
    world.directory.activate_user(world.main, user.user_id)
    assert world.directory.authenticate(signed_in(user.email)).user_id == user.user_id


def test_a_budget_is_set_and_unset(world: World):
    user = world.user()
    budget = Budget(max_total_quantity=20, max_order_value=Decimal("1500.00"), currency="EUR")
    assert world.directory.set_budget(world.main, user.user_id, budget).budget == budget
    assert world.directory.set_budget(world.main, user.user_id, Budget()).budget.unlimited


def test_roles_are_replaced(world: World):
    user = world.user()
    updated = world.directory.set_roles(world.main, user.user_id, [SERVICE_TECHNICIAN])
    assert updated.role_ids == (SERVICE_TECHNICIAN,)
    assert updated.permissions == ("view_data_sheets",)


def test_the_main_contact_role_cannot_be_given_by_setting_roles(world: World):
    user = world.user()
    with pytest.raises(MainContactRoleReserved):
        world.directory.set_roles(world.main, user.user_id, [MAIN_CONTACT])


def test_an_unknown_role_cannot_be_given(world: World):
    user = world.user()
    with pytest.raises(UnknownRole):
        world.directory.set_roles(world.main, user.user_id, ["wizard"])


# ---- permissions and scoping ---------------------------------------------------------------------------


def test_a_buyer_cannot_administer_users(world: World):
    buyer = world.actor(world.user())
    d = world.directory
    for call in (
        lambda: d.list_users(buyer),
        lambda: d.create_user(buyer, email=unique_email(), first_name="A", last_name="B"),
        lambda: d.set_roles(buyer, buyer.user_id, [APPROVER]),
        lambda: d.set_budget(buyer, buyer.user_id, Budget()),
        lambda: d.set_approvers(buyer, []),
        lambda: d.audit(buyer),
        lambda: d.erp_contacts(buyer),
        lambda: d.define_role(buyer, name="X", permissions=["place_orders"]),
    ):
        with pytest.raises(MissingPermission):
            call()
    with pytest.raises(MainContactOnly):
        d.transfer_main_contact(buyer, buyer.user_id)


def test_a_buyer_sees_themselves_and_the_company(world: World):
    buyer = world.actor(world.user())
    me = world.directory.me(buyer)
    assert me.user.permissions == ("place_orders", "view_data_sheets")
    assert world.directory.company(buyer).company_id == world.company_id


def test_budgets_need_the_manage_budgets_permission(world: World):
    role = world.directory.define_role(world.main, name="Users only", permissions=["manage_users"])
    admin = world.user(role_ids=[role.role_id])
    with pytest.raises(MissingPermission):
        world.directory.set_budget(world.actor(admin), admin.user_id, Budget(1, None, None))
    with pytest.raises(MissingPermission):
        world.directory.create_user(
            world.actor(admin), email=unique_email(), first_name="A", last_name="B", budget=Budget(1, None, None)
        )


def test_another_companys_user_is_not_found(directory: Directory, world: World):
    other = make_world(directory)
    theirs = other.user()
    d = world.directory
    for call in (
        lambda: d.get_user(world.main, theirs.user_id),
        lambda: d.rename_user(world.main, theirs.user_id, "X", "Y"),
        lambda: d.deactivate_user(world.main, theirs.user_id),
        lambda: d.set_budget(world.main, theirs.user_id, Budget()),
        lambda: d.set_roles(world.main, theirs.user_id, [BUYER]),
        lambda: d.transfer_main_contact(world.main, theirs.user_id),
        lambda: d.set_approvers(world.main, [theirs.user_id]),
        lambda: d.get_user(world.main, uuid4()),
    ):
        with pytest.raises(NotFound):
            call()
    assert theirs.user_id not in {u.user_id for u in d.list_users(world.main).items}


def test_another_companys_role_is_not_found(directory: Directory, world: World):
    other = make_world(directory)
    role = other.directory.define_role(other.main, name="Theirs", permissions=["view_reports"])
    with pytest.raises(NotFound):
        world.directory.role(world.main, role.role_id)
    with pytest.raises(UnknownRole):
        world.user(role_ids=[role.role_id])


# ---- approvers and the main contact --------------------------------------------------------------------


def test_approvers_hold_the_approve_permission_and_are_active(world: World):
    approver, buyer = world.user(role_ids=[APPROVER]), world.user()
    approvers = world.directory.set_approvers(world.main, [approver.user_id])
    assert [u.user_id for u in approvers.users] == [approver.user_id]
    assert not approvers.main_contact_decides
    with pytest.raises(InvalidApprover):
        world.directory.set_approvers(world.main, [buyer.user_id])
    with pytest.raises(NotFound):
        world.directory.set_approvers(world.main, [uuid4()])


def test_no_approvers_means_the_main_contact_decides(world: World):
    approvers = world.directory.approvers(world.main)
    assert approvers.main_contact_decides
    assert approvers.main_contact is not None and approvers.main_contact.user_id == world.main.user_id


def test_deactivating_an_approver_removes_them_from_the_list(world: World):
    a, b = world.user(role_ids=[APPROVER]), world.user(role_ids=[APPROVER])
    world.directory.set_approvers(world.main, [a.user_id, b.user_id])
    world.directory.deactivate_user(world.main, a.user_id)
    assert world.directory.company(world.main).approver_ids == (b.user_id,)
    actions = [e.action for e in world.directory.audit(world.main, limit=3)]
    assert actions[:2] == ["company.approver_removed", "user.deactivated"]


def test_an_approver_who_loses_the_approve_permission_leaves_the_list(world: World):
    a = world.user(role_ids=[APPROVER])
    world.directory.set_approvers(world.main, [a.user_id])
    world.directory.set_roles(world.main, a.user_id, [BUYER])
    assert world.directory.company(world.main).approver_ids == ()


def test_redefining_a_role_updates_its_holders_and_the_approvers(world: World):
    role = world.directory.define_role(world.main, name="Freigabe", permissions=["approve_orders"])
    a = world.user(role_ids=[role.role_id, BUYER])
    world.directory.set_approvers(world.main, [a.user_id])
    world.directory.change_role(world.main, role.role_id, name="Freigabe", permissions=["view_reports"])
    user = world.directory.get_user(world.main, a.user_id)
    assert user.permissions == ("place_orders", "view_data_sheets", "view_reports")
    assert world.directory.company(world.main).approver_ids == ()


def test_role_names_are_unique_per_company_and_roles_in_use_stay(directory: Directory, world: World):
    role = world.directory.define_role(world.main, name="Lager", permissions=["view_data_sheets"])
    with pytest.raises(RoleNameTaken):
        world.directory.define_role(world.main, name=" lager ", permissions=["view_reports"])
    other = make_world(directory)
    other.directory.define_role(other.main, name="Lager", permissions=["view_reports"])
    user = world.user(role_ids=[role.role_id])
    with pytest.raises(RoleInUse):
        world.directory.delete_role(world.main, role.role_id)
    world.directory.set_roles(world.main, user.user_id, [BUYER])
    world.directory.delete_role(world.main, role.role_id)
    assert role.role_id not in {r.role_id for r in world.directory.roles(world.main)}
    world.directory.define_role(world.main, name="Lager", permissions=["view_reports"])


def test_the_main_contact_role_is_transferred_to_another_active_user(world: World):
    successor = world.user(role_ids=[BUYER])
    company = world.directory.transfer_main_contact(world.main, successor.user_id)
    assert company.main_contact_id == successor.user_id
    assert world.directory.get_user(world.main, successor.user_id).is_main_contact
    previous = world.directory.authenticate(signed_in(world.main_email))
    assert not previous.is_main_contact
    assert "manage_users" not in previous.permissions  # kept only the buyer role


def test_the_previous_main_contact_can_keep_chosen_roles(world: World):
    successor = world.user()
    admin_role = _admin_role(world)
    world.directory.transfer_main_contact(world.main, successor.user_id, roles_for_previous=[admin_role, APPROVER])
    previous = world.directory.authenticate(signed_in(world.main_email))
    assert "manage_users" in previous.permissions


def test_only_an_active_user_becomes_main_contact(world: World):
    user = world.user()
    world.directory.deactivate_user(world.main, user.user_id)
    with pytest.raises(InvalidTransfer):
        world.directory.transfer_main_contact(world.main, user.user_id)


def test_only_the_main_contact_hands_on_the_role(world: World):
    admin = world.user()
    world.directory.set_roles(world.main, admin.user_id, [_admin_role(world)])
    with pytest.raises(MainContactOnly):
        world.directory.transfer_main_contact(world.actor(admin), admin.user_id)


# ---- ERP contacts --------------------------------------------------------------------------------------


def test_erp_contacts_that_are_not_users_yet_are_listed_and_taken_over_once(directory: Directory):
    c1, c2 = erp_contact("Carla"), erp_contact("Dora")
    world = make_world(directory, erp_contacts=[c1, c2])
    assert {c.erp_contact_id for c in directory.erp_contacts(world.main)} == {c1.erp_contact_id, c2.erp_contact_id}
    user, created = directory.take_over_erp_contact(world.main, c1.erp_contact_id)
    assert (
        created and user.email == c1.email and user.first_name == "Carla" and user.erp_contact_id == c1.erp_contact_id
    )
    again, created_again = directory.take_over_erp_contact(world.main, c1.erp_contact_id)
    assert again.user_id == user.user_id and not created_again
    assert [c.erp_contact_id for c in directory.erp_contacts(world.main)] == [c2.erp_contact_id]


def test_a_contact_already_a_user_by_email_is_not_listed(directory: Directory):
    contact = erp_contact()
    world = make_world(directory, erp_contacts=[contact])
    world.user(email=contact.email)
    assert directory.erp_contacts(world.main) == []


def test_a_contact_without_email_needs_one_given(directory: Directory):
    contact = erp_contact(email=None)
    world = make_world(directory, erp_contacts=[contact])
    with pytest.raises(Exception, match="e-mail"):
        directory.take_over_erp_contact(world.main, contact.erp_contact_id)
    user, _ = directory.take_over_erp_contact(world.main, contact.erp_contact_id, email=unique_email())
    assert user.erp_contact_id == contact.erp_contact_id


def test_an_unknown_erp_contact_is_not_found(world: World):
    with pytest.raises(NotFound):
        world.directory.take_over_erp_contact(world.main, "C-404")


# ---- audit and read model ------------------------------------------------------------------------------


def test_the_audit_log_says_who_changed_what_about_whom(world: World):
    user = world.user()
    world.directory.rename_user(world.main, user.user_id, "Berta", "Neu")
    (entry,) = world.directory.audit(world.main, subject_id=user.user_id, limit=1)
    assert entry.action == "user.renamed"
    assert entry.actor_id == world.main.user_id
    assert entry.subject_id == user.user_id
    assert entry.details == {"first_name": "Berta", "last_name": "Neu"}


def test_the_audit_log_is_paged_newest_first(world: World):
    for i in range(5):
        world.user(last_name=f"U{i}")
    first = world.directory.audit(world.main, limit=3)
    rest = world.directory.audit(world.main, before=first[-1].seq, limit=50)
    seqs = [e.seq for e in first + rest]
    assert seqs == sorted(seqs, reverse=True)
    assert [e.action for e in rest][-2:] == ["user.created", "company.created"]


def test_another_companys_audit_is_invisible(directory: Directory, world: World):
    other = make_world(directory)
    other.user()
    assert {e.company_id for e in world.directory.audit(world.main, limit=200)} == {world.company_id}


def test_the_read_model_rebuilt_from_the_events_equals_the_one_kept_with_every_save(world: World):
    d = world.directory
    role = d.define_role(world.main, name="R", permissions=["approve_orders"])
    a = world.user(role_ids=[role.role_id])
    d.set_approvers(world.main, [a.user_id])
    d.set_budget(world.main, a.user_id, Budget(3, Decimal("9.99"), "EUR"))
    d.change_email(world.main, a.user_id, unique_email())
    d.change_role(world.main, role.role_id, name="R2", permissions=["view_reports"])
    b = world.user()
    d.transfer_main_contact(world.main, b.user_id)
    before = (d.list_users(world.main), d.company(world.main), d.roles(world.main), d.audit(world.main, limit=500))
    d.rebuild_read_model()
    after = (d.list_users(world.main), d.company(world.main), d.roles(world.main), d.audit(world.main, limit=500))
    assert before == after
    for row in after[0].items:
        assert row == user_row(d.repository.get(row.user_id))


def _admin_role(world: World) -> str:
    """A custom role that may manage users and budgets (but is not the main contact)."""
    existing = [r for r in world.directory.roles(world.main) if r.name == "Admin"]
    if existing:
        return existing[0].role_id
    return world.directory.define_role(
        world.main, name="Admin", permissions=["manage_users", "manage_budgets", "place_orders"]
    ).role_id


def test_registration_with_an_email_of_another_user_is_refused(directory: Directory, world: World):
    user = world.user()
    with pytest.raises(EmailTaken):
        register(directory, registration(email=user.email))
