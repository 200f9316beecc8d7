"""Every administrative change reaches the wire, keyed by company id, with the state a read model needs."""

from decimal import Decimal

from contracts.topics import USERS_COMPANIES, USERS_USERS
from kc_runtime.tokens import TokenIssuer
from tests.service.users.conftest import World
from tests.support.users import signed_in_user, unique_email
from users.adapters.outbound.translator import make_translator
from users.application import email_changes
from users.domain.model import Budget, PeriodBudget
from users.domain.permissions import APPROVER, BUYER

TOKENS = TokenIssuer(b"test-secret-of-32-bytes-at-least!")
translate = make_translator(TOKENS, "/account/email/confirm?change={change_id}&token={token}")


def wire(world: World) -> list:
    out = []
    for _, event, _ in world.directory.notifications(0, 1000):
        out.extend(translate(event))
    return out


def test_every_message_is_keyed_by_company_id_and_validates_against_its_topic(world: World):
    d, main = world.directory, world.main
    role = d.define_role(main, name="Freigabe", permissions=["approve_orders"])
    a = world.user(role_ids=[role.role_id, BUYER])
    d.set_approvers(main, [a.user_id])
    d.set_budget(main, a.user_id, Budget(5, Decimal("99.90"), "EUR"))
    d.rename_user(main, a.user_id, "X", "Y")
    change = email_changes.start(d, TOKENS, main, a.user_id, unique_email())
    email_changes.confirm(d, change.id, TOKENS.token_for(a.user_id, change.token_nonce))
    d.authenticate(signed_in_user(d, a.user_id))
    d.change_role(main, role.role_id, name="Freigabe", permissions=["view_reports"])
    d.set_roles(main, a.user_id, [APPROVER])
    d.deactivate_user(main, a.user_id)
    d.activate_user(main, a.user_id)
    gone = world.user()
    d.deactivate_user(main, gone.user_id)
    d.erase_user(main, gone.user_id)
    d.transfer_main_contact(main, a.user_id)
    d.delete_role(main, role.role_id)
    messages = wire(world)
    assert {o.key for o in messages} == {str(world.company_id)}
    for o in messages:
        assert type(o.message) in o.topic.messages
        o.topic.message_type(o.message.event_type).model_validate_json(o.message.model_dump_json())
    types = {o.message.event_type for o in messages}
    every = {m.event_type for m in USERS_USERS.messages} | {m.event_type for m in USERS_COMPANIES.messages}
    # (a refused registration is not administration: test_registration_consumer shows it on the wire)
    assert types == every - {"CompanyRegistrationRefused"}


def test_user_messages_carry_effective_permissions_and_the_whole_budget(world: World):
    d, main = world.directory, world.main
    a = world.user(role_ids=[BUYER])
    d.set_budget(main, a.user_id, Budget(None, Decimal("100.00"), "CHF"))
    d.set_roles(main, a.user_id, [BUYER, APPROVER])
    by_type = {o.message.event_type: o.message for o in wire(world) if getattr(o.message, "user_id", None) == a.user_id}
    assert by_type["UserCreated"].permissions == ["place_orders", "view_data_sheets"]
    assert by_type["UserBudgetSet"].budget.model_dump(mode="json") == {
        "max_total_quantity": None,
        "max_order_value": {"amount": "100.00", "currency": "CHF"},
        "period_budget": None,
    }
    roles = by_type["UserRolesSet"]
    assert roles.role_ids == [BUYER, APPROVER] and "approve_orders" in roles.permissions
    assert roles.changed_by == main.user_id


def test_the_budget_set_message_carries_the_period_budget(world: World):
    d, main = world.directory, world.main
    a = world.user(role_ids=[BUYER])
    d.set_budget(main, a.user_id, Budget(period=PeriodBudget("quarter", Decimal("900.00"), "EUR", 12)))
    by_type = {o.message.event_type: o.message for o in wire(world) if getattr(o.message, "user_id", None) == a.user_id}
    assert by_type["UserBudgetSet"].budget.model_dump(mode="json")["period_budget"] == {
        "period": "quarter",
        "max_value": {"amount": "900.00", "currency": "EUR"},
        "max_total_quantity": 12,
    }


def test_the_main_contacts_creation_names_nobody_as_its_author(world: World):
    created = [o.message for o in wire(world)]
    # (the world's main contact has signed in once: UserSignInBound follows)
    assert [m.event_type for m in created][:2] == ["CompanyCreated", "UserCreated"]
    assert created[1].is_main_contact and created[1].changed_by is None


def test_an_erasure_goes_on_the_users_topic_without_personal_data(world: World):
    d, main = world.directory, world.main
    gone = world.user(first_name="Gerda", last_name="Gelöscht")
    d.deactivate_user(main, gone.user_id)
    d.erase_user(main, gone.user_id)
    d.erase_user(main, gone.user_id)  # repeated: nothing new on the wire
    (erased,) = [o for o in wire(world) if o.message.event_type == "UserErased"]
    assert erased.topic is USERS_USERS and erased.key == str(world.company_id)
    body = erased.message.model_dump(mode="json")
    assert set(body) == {"user_id", "company_id", "erased_at", "changed_by"}
    assert (body["user_id"], body["changed_by"]) == (str(gone.user_id), str(main.user_id))
    assert "Gerda" not in erased.message.model_dump_json() and gone.email not in erased.message.model_dump_json()


def test_a_replay_after_an_erasure_carries_nothing_of_the_persons_names_and_addresses(world: World):
    """The events hold the person's values sealed with a key that is gone (ADR 0035): read again — a replay of the
    topic — they open as nothing, and the messages that would carry them are not made; their ids still go out."""
    d, main = world.directory, world.main
    gone = world.user(first_name="Verena", last_name="Vergessen")
    d.rename_user(main, gone.user_id, "Vera", "Vergessen")
    d.deactivate_user(main, gone.user_id)
    d.erase_user(main, gone.user_id)
    theirs = [o.message for o in wire(world) if getattr(o.message, "user_id", None) == gone.user_id]
    assert [m.event_type for m in theirs] == ["UserDeactivated", "UserErased"]
    assert not any("Verena" in m.model_dump_json() or "Vergessen" in m.model_dump_json() for m in theirs)
