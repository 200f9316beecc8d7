"""Whatever administrators do, in any order: the invariants hold and the read model equals the aggregates."""

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.service.users.conftest import make_world
from tests.support.users import signed_in_user, unique_email
from users.application.directory import Directory
from users.application.read_model import company_row, user_row
from users.domain.errors import UsersError
from users.domain.model import Budget, Company, User
from users.domain.permissions import APPROVER, BUYER, CONTROLLER, MAIN_CONTACT, SERVICE_TECHNICIAN

ROLES = [BUYER, APPROVER, SERVICE_TECHNICIAN, CONTROLLER]
OPS = [
    "create",
    "rename",
    "email",
    "deactivate",
    "activate",
    "budget",
    "roles",
    "approvers",
    "define_role",
    "change_role",
    "transfer",
    "take_email",
]

operation = st.tuples(
    st.sampled_from(OPS),
    st.integers(min_value=0, max_value=20),
    st.lists(st.integers(min_value=0, max_value=20), max_size=3),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operation, min_size=8, max_size=40))
def test_any_sequence_of_administration_keeps_every_invariant(ops):
    directory = Directory(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    world = make_world(directory)
    d = directory
    users = [world.main.user_id]
    custom_roles: list[str] = []

    def pick(i: int, items: list):
        return items[i % len(items)] if items else None

    def roles_for(picks: list[int]) -> list[str]:
        pool = ROLES + custom_roles
        return [pool[i % len(pool)] for i in picks]

    for op, i, picks in ops:
        main = d.authenticate(signed_in_user(d, d.company(world.main).main_contact_id))
        target = pick(i, users)
        try:
            if op == "create":
                users.append(world.user(role_ids=roles_for(picks) or [BUYER]).user_id)
            elif op == "rename":
                d.rename_user(main, target, "Name", f"N{i}")
            elif op == "email":
                d.change_email(main, target, unique_email())
            elif op == "take_email":
                other = d.read_model.user(pick(i + 1, users))
                d.change_email(main, target, other.email.upper())
            elif op == "deactivate":
                d.deactivate_user(main, target)
            elif op == "activate":
                d.activate_user(main, target)
            elif op == "budget":
                d.set_budget(main, target, Budget(i, Decimal(i) / 4, "EUR"))
            elif op == "roles":
                d.set_roles(main, target, roles_for(picks))
            elif op == "approvers":
                d.set_approvers(main, [users[p % len(users)] for p in picks])
            elif op == "define_role":
                perms = ["approve_orders", "place_orders", "view_reports"][: 1 + i % 3]
                custom_roles.append(d.define_role(main, name=f"Rolle {i}", permissions=perms).role_id)
            elif op == "change_role" and custom_roles:
                perms = ["view_reports"] if i % 2 else ["approve_orders"]
                d.change_role(main, pick(i, custom_roles), name=f"Rolle x{i}", permissions=perms)
            elif op == "transfer":
                d.transfer_main_contact(main, target)
        except UsersError:
            pass  # refused commands change nothing; what matters is what holds afterwards

    company: Company = d.repository.get(world.company_id)
    aggregates: list[User] = [d.repository.get(u) for u in users]
    mains = [u for u in aggregates if MAIN_CONTACT in u.role_ids]
    assert [u.id for u in mains] == [company.main_contact_id]
    assert mains[0].is_active
    for approver_id in company.approver_ids:
        approver = d.repository.get(approver_id)
        assert approver.is_active and "approve_orders" in approver.permissions
    assert len({u.email.lower() for u in aggregates}) == len(aggregates)

    for u in aggregates:
        assert d.read_model.user(u.id) == user_row(u)
        if u.is_active:
            assert d.authenticate(signed_in_user(d, u.id)).user_id == u.id
    assert d.read_model.company(company.id) == company_row(company)
    before = (d.read_model.users(company.id, status=None, role_id=None, limit=500, offset=0), d.audit(main, limit=1000))
    d.rebuild_read_model()
    after = (d.read_model.users(company.id, status=None, role_id=None, limit=500, offset=0), d.audit(main, limit=1000))
    assert before == after
