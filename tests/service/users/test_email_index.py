"""Which user holds an e-mail address (ADR 0035 decision 4): the id of an address's claim is a keyed hash of the
address under users' secret (a blind index) and the claim keeps no address, not a ``uuid5`` anyone could compute
from a guessed address; an address claimed before the blind index (under its ``uuid5``) is still refused to anyone
else, and the address is claimed in the blind index when it is next claimed; erasure frees a legacy claim too.
In-memory event store."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import NAMESPACE_URL, UUID, uuid5

import pytest
from pydantic import SecretStr

from kc_runtime.blind_index import IndexSecretMissing
from kc_runtime.tokens import TokenIssuer
from tests.service.users.conftest import World
from tests.service.users.test_http import verify
from tests.support.users import registration, signed_in, unique_email
from users.application import email_changes
from users.application.directory import Directory
from users.domain.errors import EmailTaken
from users.domain.model import UNLIMITED, KeyClaim, User
from users.main import create_app
from users.settings import UsersSettings

OLD_NAMESPACE = uuid5(NAMESPACE_URL, "urn:kundencenter:users:claims")
POPO = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
TOKENS = TokenIssuer(b"test-secret-of-32-bytes-at-least!")


def claim_at(directory: Directory, claim_id: UUID) -> KeyClaim:
    claim = directory.find(claim_id, KeyClaim)
    assert claim is not None
    return claim


def created_before_the_blind_index(world: World, email: str) -> UUID:
    """A user as the release before the blind index stored them: the address claimed under its uuid5."""
    user = User.create(
        company_id=world.company_id,
        email=email,
        first_name="Lea",
        last_name="Alt",
        language="de",
        role_ids=("buyer",),
        resolve=world.directory._resolver(world.company_id),
        budget=UNLIMITED,
        created_at=datetime.now(UTC),
        by=world.main.user_id,
    )
    legacy = KeyClaim(key="email/" + email.strip().lower(), owner_id=user.id)
    assert legacy.id == uuid5(OLD_NAMESPACE, "email/" + email.strip().lower())
    world.directory.save(user, legacy)
    return user.id


def register_with(directory: Directory, email: str) -> list:
    msg = registration()
    return directory.register_company(
        company_id=msg.company_id,
        customer_number=msg.company.customer_number,
        name=msg.company.name,
        currency=msg.company.currency,
        main_contact_email=email,
        main_contact_first_name="Max",
        main_contact_last_name="Muster",
        main_contact_language="de",
        erp_contacts=[],
        registration_id=msg.registration_id,
        registered_at=msg.completed_at,
    )


def test_an_address_claim_id_is_a_keyed_hash_not_the_uuid5_of_the_address(world: World):
    user = world.user()
    blind, legacy = world.directory.email_claim_ids(user.email)
    assert legacy == uuid5(OLD_NAMESPACE, "email/" + user.email.lower())
    assert blind != legacy and blind.version == 8
    assert claim_at(world.directory, blind).owner_id == user.user_id
    assert world.directory.find(legacy) is None  # nothing is stored under the id a guess of the address gives
    # and the claim keeps no address
    assert not any(user.email in repr(vars(e)) for e in world.directory.events.get(blind))


def test_the_claim_id_differs_under_another_secret_and_is_the_same_under_the_same():
    email = "lea@example.com"
    one = Directory(env=POPO, index_secret=b"a" * 32)
    same = Directory(env=POPO, index_secret=b"a" * 32)
    other = Directory(env=POPO, index_secret=b"b" * 32)
    assert one.email_claim_ids(email)[0] == same.email_claim_ids(" Lea@Example.COM ")[0]
    assert one.email_claim_ids(email)[0] != other.email_claim_ids(email)[0]
    assert one.email_claim_ids(email)[1] == other.email_claim_ids(email)[1]  # the legacy id needs no secret


def test_a_short_index_secret_is_refused():
    with pytest.raises(ValueError, match="32 bytes"):
        Directory(env=POPO, index_secret=b"short")


def test_an_address_held_in_the_blind_index_is_refused_to_another_user_in_any_case(world: World):
    user = world.user()
    with pytest.raises(EmailTaken):
        world.user(email=f"  {user.email.upper()} ")


def test_an_address_claimed_before_the_blind_index_is_still_taken(world: World):
    email = unique_email("lea-old")
    holder = created_before_the_blind_index(world, email)
    other = world.user()
    with pytest.raises(EmailTaken):
        world.user(email=email.upper())
    with pytest.raises(EmailTaken):
        world.directory.change_email(world.main, other.user_id, email)
    with pytest.raises(EmailTaken):
        email_changes.start(world.directory, TOKENS, world.main, other.user_id, email)
    with pytest.raises(EmailTaken):
        register_with(world.directory, email)
    assert world.directory.authenticate(signed_in(email)).user_id == holder
    blind, legacy = world.directory.email_claim_ids(email)
    assert world.directory.find(blind) is None  # read, not written: nothing moved
    assert claim_at(world.directory, legacy).owner_id == holder


def test_a_legacy_claim_moves_to_the_blind_index_when_its_holder_claims_it_again(world: World):
    email = unique_email("lea-again")
    holder = created_before_the_blind_index(world, email)
    world.directory.save(*world.directory._claim_email(email, holder))

    blind, legacy = world.directory.email_claim_ids(email)
    assert claim_at(world.directory, blind).owner_id == holder
    assert claim_at(world.directory, legacy).owner_id is None  # released in the same save: the blind claim decides
    with pytest.raises(EmailTaken):
        world.user(email=email)


def test_a_legacy_address_changed_away_is_free_and_claimed_in_the_blind_index_next(world: World):
    before, after = unique_email("before"), unique_email("after")
    holder = created_before_the_blind_index(world, before)
    world.directory.change_email(world.main, holder, after)

    blind, legacy = world.directory.email_claim_ids(before)
    assert claim_at(world.directory, legacy).owner_id is None
    assert claim_at(world.directory, world.directory.email_claim_ids(after)[0]).owner_id == holder
    newcomer = world.user(email=before)
    assert claim_at(world.directory, blind).owner_id == newcomer.user_id
    assert claim_at(world.directory, legacy).owner_id is None
    with pytest.raises(EmailTaken):
        world.user(email=before)


def test_a_legacy_address_changed_by_confirmation_is_released(world: World):
    before, after = unique_email("before"), unique_email("after")
    holder = created_before_the_blind_index(world, before)
    change = email_changes.start(world.directory, TOKENS, world.main, holder, after)
    email_changes.confirm(world.directory, change.id, TOKENS.token_for(change.user_id, change.token_nonce))

    assert claim_at(world.directory, world.directory.email_claim_ids(before)[1]).owner_id is None
    assert claim_at(world.directory, world.directory.email_claim_ids(after)[0]).owner_id == holder
    assert world.user(email=before).email == before


def test_a_company_registers_with_an_address_freed_from_a_legacy_claim(world: World):
    before = unique_email("before")
    holder = created_before_the_blind_index(world, before)
    world.directory.change_email(world.main, holder, unique_email("after"))

    aggregates = register_with(world.directory, before)
    world.directory.save(*aggregates)
    claims = [a for a in aggregates if isinstance(a, KeyClaim)]
    assert [c.id for c in claims] == [world.directory.email_claim_ids(before)[0]]


def test_an_erasure_frees_an_address_claimed_before_the_blind_index(world: World):
    email = unique_email("gone")
    holder = created_before_the_blind_index(world, email)
    world.directory.deactivate_user(world.main, holder)
    world.directory.erase_user(world.main, holder)

    blind, legacy = world.directory.email_claim_ids(email)
    assert claim_at(world.directory, legacy).owner_id is None
    assert world.directory.find(blind) is None  # an erased person's address gets no blind claim either
    assert world.user(email=email).email == email


def test_an_erasure_frees_an_address_of_the_blind_index(world: World):
    user = world.user()
    world.directory.deactivate_user(world.main, user.user_id)
    world.directory.erase_user(world.main, user.user_id)
    assert claim_at(world.directory, world.directory.email_claim_ids(user.email)[0]).owner_id is None
    assert world.user(email=user.email).email == user.email


def test_users_refuses_to_start_in_production_without_its_index_secret():
    production = UsersSettings(
        database_url="memory://", process_roles=["api"], log_format="console", profile="production",
        ops_token=SecretStr("o" * 40),
    )  # fmt: skip
    with pytest.raises(IndexSecretMissing, match="USERS_INDEX_SECRET"):
        create_app(production, verify_token=verify)


def test_users_uses_the_configured_index_secret():
    configured = UsersSettings(database_url="memory://", index_secret=SecretStr("c" * 40))
    from users.main import build_directory

    directory = build_directory(configured)
    assert directory.email_claim_ids("lea@example.com")[0] == Directory(
        env=POPO, index_secret=b"c" * 40
    ).email_claim_ids("lea@example.com")[0]
    assert directory.email_claim_ids("lea@example.com")[0] != Directory(env=POPO).email_claim_ids("lea@example.com")[0]

