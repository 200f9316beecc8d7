"""E-mail changes (users): started by the user themselves or the main contact, in force only when the new
address confirms with the single-use token mailed to it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from contracts.users import v1
from kc_runtime.tokens import TokenIssuer
from tests.service.users.conftest import World
from tests.support.users import signed_in, unique_email
from users.adapters.outbound.translator import make_translator
from users.application import email_changes
from users.domain.email_change import ChangeSuperseded, ConfirmationExpired, ConfirmationUsed, InvalidConfirmation
from users.domain.errors import EmailTaken, Invalid, MissingPermission, NotFound, Unauthenticated

TOKENS = TokenIssuer(b"test-secret-of-32-bytes-at-least!")


def token_of(change) -> str:
    return TOKENS.token_for(change.user_id, change.token_nonce)


def test_until_confirmed_the_old_address_stays(world: World):
    user = world.user()
    change = email_changes.start(world.directory, TOKENS, world.main, user.user_id, unique_email())
    assert world.directory.read_model.user(user.user_id).email == user.email
    assert world.directory.authenticate(signed_in(user.email)).user_id == user.user_id
    with pytest.raises(Unauthenticated):
        world.directory.authenticate(signed_in(change.email))


def test_the_token_from_the_new_mailbox_makes_the_change(world: World):
    user = world.user()
    new = unique_email()
    change = email_changes.start(world.directory, TOKENS, world.main, user.user_id, new)
    changed = email_changes.confirm(world.directory, change.id, token_of(change))
    assert changed.email == new
    assert world.directory.read_model.user(user.user_id).email == new
    assert world.user(email=user.email).email == user.email  # the old address is free again


def test_a_user_changes_their_own_address(world: World):
    user = world.user()
    me = world.actor(user)
    change = email_changes.start(world.directory, TOKENS, me, user.user_id, unique_email())
    assert email_changes.confirm(world.directory, change.id, token_of(change)).email == change.email


def test_a_user_manager_who_is_not_the_main_contact_cannot_change_anothers_address(world: World):
    manager = world.actor(world.user(role_ids=["buyer"]))
    admin_role = world.directory.define_role(world.main, name="Verwaltung", permissions=["manage_users"])
    world.directory.set_roles(world.main, manager.user_id, [admin_role.role_id])
    manager = world.directory.authenticate(signed_in(world.directory.read_model.user(manager.user_id).email))
    other = world.user()
    for target in (other.user_id, world.main.user_id):
        with pytest.raises(MissingPermission) as refused:
            email_changes.start(world.directory, TOKENS, manager, target, unique_email())
        assert refused.value.code == "email_change_not_allowed"


def test_nobody_but_the_main_contact_starts_a_change_of_the_main_contacts_address(world: World):
    buyer = world.actor(world.user())
    with pytest.raises(MissingPermission):
        email_changes.start(world.directory, TOKENS, buyer, world.main.user_id, unique_email())
    change = email_changes.start(world.directory, TOKENS, world.main, world.main.user_id, unique_email())
    assert world.directory.read_model.user(world.main.user_id).email == world.main_email
    email_changes.confirm(world.directory, change.id, token_of(change))
    assert world.directory.read_model.user(world.main.user_id).email == change.email


def test_another_companys_user_is_not_found(world: World, directory):
    from tests.service.users.conftest import make_world

    other = make_world(directory)
    with pytest.raises(NotFound):
        email_changes.start(directory, TOKENS, other.main, world.user().user_id, unique_email())


def test_a_taken_address_is_refused_at_the_start_and_at_the_confirmation(world: World):
    user, other = world.user(), world.user()
    with pytest.raises(EmailTaken):
        email_changes.start(world.directory, TOKENS, world.main, user.user_id, other.email.upper())
    new = unique_email()
    change = email_changes.start(world.directory, TOKENS, world.main, user.user_id, new)
    world.user(email=new)  # somebody got the address meanwhile
    with pytest.raises(EmailTaken):
        email_changes.confirm(world.directory, change.id, token_of(change))
    assert world.directory.read_model.user(user.user_id).email == user.email


def test_the_same_address_is_no_change(world: World):
    user = world.user()
    with pytest.raises(Invalid) as refused:
        email_changes.start(world.directory, TOKENS, world.main, user.user_id, user.email)
    assert refused.value.code == "email_unchanged"


def test_a_wrong_token_changes_nothing(world: World):
    user = world.user()
    change = email_changes.start(world.directory, TOKENS, world.main, user.user_id, unique_email())
    with pytest.raises(InvalidConfirmation):
        email_changes.confirm(world.directory, change.id, "guessed")
    with pytest.raises(InvalidConfirmation):  # another change's token
        other = email_changes.start(world.directory, TOKENS, world.main, world.user().user_id, unique_email())
        email_changes.confirm(world.directory, change.id, token_of(other))
    assert world.directory.read_model.user(user.user_id).email == user.email


def test_a_token_works_once(world: World):
    user = world.user()
    change = email_changes.start(world.directory, TOKENS, world.main, user.user_id, unique_email())
    email_changes.confirm(world.directory, change.id, token_of(change))
    with pytest.raises(ConfirmationUsed):
        email_changes.confirm(world.directory, change.id, token_of(change))


def test_an_expired_token_changes_nothing(world: World):
    user = world.user()
    change = email_changes.start(
        world.directory, TOKENS, world.main, user.user_id, unique_email(), ttl=timedelta(seconds=-1)
    )
    with pytest.raises(ConfirmationExpired):
        email_changes.confirm(world.directory, change.id, token_of(change))
    assert world.directory.read_model.user(user.user_id).email == user.email


def test_an_older_change_cannot_be_confirmed_after_a_newer_one(world: World):
    user = world.user()
    first = email_changes.start(world.directory, TOKENS, world.main, user.user_id, unique_email())
    second = email_changes.start(world.directory, TOKENS, world.main, user.user_id, unique_email())
    email_changes.confirm(world.directory, second.id, token_of(second))
    with pytest.raises(ChangeSuperseded):
        email_changes.confirm(world.directory, first.id, token_of(first))


def test_the_confirmation_request_goes_to_the_new_address_with_the_token(world: World):
    user = world.user()
    change = email_changes.start(world.directory, TOKENS, world.main, user.user_id, unique_email())
    translate = make_translator(TOKENS, "/account/email/confirm?change={change_id}&token={token}")
    requested = [
        o.message
        for _, event, _ in world.directory.notifications(0, 1000)
        for o in translate(event)
        if isinstance(o.message, v1.UserEmailChangeRequested)
    ]
    assert len(requested) == 1
    m = requested[0]
    assert (m.change_id, m.user_id, m.email, m.previous_email) == (change.id, user.user_id, change.email, user.email)
    assert m.token == token_of(change)
    assert m.confirm_path == f"/account/email/confirm?change={change.id}&token={m.token}"
    assert m.changed_by == world.main.user_id
    assert change.token_hash != m.token and m.token not in repr(vars(change))  # only the hash is stored
