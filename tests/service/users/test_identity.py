"""Who is asking (users): the identity provider's (issuer, subject) bound at the first sign-in, found by a
verified e-mail only for a user not bound yet."""

from __future__ import annotations

import pytest

from contracts.users import v1
from kc_runtime.tokens import TokenIssuer
from tests.service.users.conftest import World
from tests.support.users import TEST_ISSUER, signed_in, signed_in_user, unique_email
from users.adapters.outbound.translator import make_translator
from users.application import email_changes
from users.application.identity import sign_in_of
from users.domain.errors import Unauthenticated, UserInactive

TOKENS = TokenIssuer(b"test-secret-of-32-bytes-at-least!")


def test_the_first_sign_in_binds_the_user_to_the_tokens_subject(world: World):
    user = world.user()
    assert world.directory.authenticate(signed_in(user.email, subject="idp|anna")).user_id == user.user_id
    binding = sign_in_of(world.directory, user.user_id)
    assert (binding.issuer, binding.subject) == (TEST_ISSUER, "idp|anna")


def test_once_bound_the_subject_identifies_the_user_whatever_the_email_claim_says(world: World):
    user = world.user()
    world.directory.authenticate(signed_in(user.email, subject="idp|anna"))
    caller = signed_in("somebody-else@example.org", subject="idp|anna")
    assert world.directory.authenticate(caller).user_id == user.user_id
    assert world.directory.authenticate(signed_in(None, subject="idp|anna")).user_id == user.user_id


def test_the_email_of_a_bound_user_with_another_subject_is_identity_mismatch(world: World):
    user = world.user()
    world.directory.authenticate(signed_in(user.email, subject="idp|anna"))
    with pytest.raises(Unauthenticated) as refused:
        world.directory.authenticate(signed_in(user.email, subject="idp|mallory"))
    assert refused.value.code == "identity_mismatch"


def test_the_same_subject_at_another_issuer_is_another_identity(world: World):
    user = world.user()
    world.directory.authenticate(signed_in(user.email, subject="idp|anna"))
    with pytest.raises(Unauthenticated) as refused:
        world.directory.authenticate(signed_in(user.email, subject="idp|anna", issuer="https://other-idp.test"))
    assert refused.value.code == "identity_mismatch"


def test_an_unverified_email_does_not_bind(world: World):
    user = world.user()
    with pytest.raises(Unauthenticated) as refused:
        world.directory.authenticate(signed_in(user.email, subject="idp|anna", verified=False))
    assert refused.value.code == "email_not_verified"
    assert sign_in_of(world.directory, user.user_id) is None
    assert world.directory.authenticate(signed_in(user.email, subject="idp|anna")).user_id == user.user_id


@pytest.mark.parametrize("claim", [None, "", "  ", 42, ["a@example.com"]])
def test_an_unbound_subject_without_a_usable_email_is_unknown(world: World, claim: object):
    with pytest.raises(Unauthenticated) as refused:
        world.directory.authenticate(signed_in(claim, subject="idp|nobody"))
    assert refused.value.code == "unknown_user"


def test_an_unknown_email_is_unknown_user(world: World):
    with pytest.raises(Unauthenticated) as refused:
        world.directory.authenticate(signed_in(unique_email()))
    assert refused.value.code == "unknown_user"


def test_a_deactivated_user_is_refused_and_not_bound(world: World):
    user = world.user()
    world.directory.deactivate_user(world.main, user.user_id)
    with pytest.raises(UserInactive):
        world.directory.authenticate(signed_in(user.email))
    assert sign_in_of(world.directory, user.user_id) is None


def test_a_deactivated_bound_user_is_refused(world: World):
    user = world.user()
    world.directory.authenticate(signed_in(user.email))
    world.directory.deactivate_user(world.main, user.user_id)
    with pytest.raises(UserInactive):
        world.directory.authenticate(signed_in(user.email))


def test_one_subject_never_names_two_users(world: World):
    a, b = world.user(), world.user()
    world.directory.authenticate(signed_in(a.email, subject="idp|shared"))
    # b's verified e-mail with a's subject: the subject is a's, so the caller is a, never b
    assert world.directory.authenticate(signed_in(b.email, subject="idp|shared")).user_id == a.user_id
    assert sign_in_of(world.directory, b.user_id) is None


def test_an_email_change_keeps_the_binding(world: World):
    user = world.user()
    world.directory.authenticate(signed_in(user.email, subject="idp|anna"))
    change = email_changes.start(world.directory, TOKENS, world.main, user.user_id, unique_email())
    email_changes.confirm(world.directory, change.id, TOKENS.token_for(user.user_id, change.token_nonce))
    assert world.directory.authenticate(signed_in(change.email, subject="idp|anna")).user_id == user.user_id
    with pytest.raises(Unauthenticated) as refused:
        world.directory.authenticate(signed_in(change.email, subject="idp|mallory"))
    assert refused.value.code == "identity_mismatch"


def test_the_binding_is_published_for_approval(world: World):
    user = world.user()
    world.directory.authenticate(signed_in(user.email, subject="idp|anna"))
    translate = make_translator(TOKENS, "/c?change={change_id}&token={token}")
    bound = [
        o
        for _, event, _ in world.directory.notifications(0, 1000)
        for o in translate(event)
        if isinstance(o.message, v1.UserSignInBound) and o.message.user_id == user.user_id
    ]
    assert len(bound) == 1
    assert bound[0].key == str(world.company_id)
    assert (bound[0].message.issuer, bound[0].message.subject) == (TEST_ISSUER, "idp|anna")


def test_a_first_sign_in_does_not_change_the_users_version(world: World):
    user = world.user()
    world.directory.authenticate(signed_in(user.email))
    assert world.directory.read_model.user(user.user_id).version == user.version
    assert world.directory.authenticate(signed_in_user(world.directory, user.user_id)).user_id == user.user_id


def test_the_first_sign_in_and_an_email_change_request_are_in_the_audit(world: World):
    user = world.user()
    world.directory.authenticate(signed_in(user.email, subject="idp|anna"))
    email_changes.start(world.directory, TOKENS, world.main, user.user_id, unique_email())
    entries = world.directory.audit(world.main, subject_id=user.user_id)
    by_action = {e.action: e for e in entries}
    assert by_action["user.sign_in_bound"].details == {"issuer": TEST_ISSUER, "subject": "idp|anna"}
    assert by_action["user.sign_in_bound"].actor_id == user.user_id
    requested = by_action["user.email_change_requested"]
    assert requested.actor_id == world.main.user_id and "token_hash" not in requested.details
