"""The users read model on PostgreSQL: written in the events' transaction, guarding the cross-aggregate
invariants under concurrency, and rebuildable from the events."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError
from pydantic import SecretStr

from kc_runtime.migrations import history, upgrade
from kc_runtime.sealing import is_sealed, unseal
from kc_runtime.tokens import TokenIssuer
from tests.service.users.conftest import World, make_world, register
from tests.service.users.test_registrant_keys import erase_main_contact, naming
from tests.support.erasure import found_in_tables, holds_any
from tests.support.users import registration, signed_in, signed_in_user, unique_email
from users.application import email_changes
from users.application.directory import Directory
from users.domain.errors import EmailTaken, NotFound, PersonErased, UsersError
from users.domain.model import Budget, ErpContact
from users.domain.permissions import APPROVER
from users.main import build_directory
from users.settings import UsersSettings

pytestmark = pytest.mark.integration

TOKENS = TokenIssuer(b"test-secret-of-32-bytes-at-least!")


@pytest.fixture
async def dsn(database) -> str:
    dsn = await database("users")
    versions = history("users")
    assert versions is not None
    await asyncio.to_thread(upgrade, versions, dsn)  # as the db-init Job does: person_keys comes with 0002
    return dsn


@pytest.fixture
def open_directory(dsn: str) -> Iterator[Callable[[], Directory]]:
    opened: list[Directory] = []

    def make() -> Directory:
        directory = build_directory(UsersSettings(database_url=SecretStr(dsn), db_pool_size=8))
        opened.append(directory)
        return directory

    yield make
    for directory in opened:
        directory.close()


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls at the same moment in threads; each result is its return value or its exception."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[i] = call()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def snapshot(world: World) -> tuple:
    d = world.directory
    return (
        d.list_users(world.main, limit=200),
        d.company(world.main),
        d.roles(world.main),
        d.audit(world.main, limit=500),
    )


def test_a_command_is_visible_to_the_next_query_at_once(open_directory):
    world = make_world(open_directory())
    user = world.user()
    assert world.directory.read_model.user(user.user_id) == user
    world.directory.deactivate_user(world.main, user.user_id)
    assert world.directory.read_model.user_by_email(user.email.upper()).status == "inactive"


def test_a_save_breaking_a_company_invariant_leaves_neither_events_nor_rows(open_directory):
    world = make_world(open_directory())
    d = world.directory
    main = d.repository.get(world.main.user_id)
    version, top = main.version, d.max_notification_id()
    main._deactivated(company_id=world.company_id, by=None)  # bypass the domain's own check on purpose
    with pytest.raises(IntegrityError, match="exactly one active main contact"):
        d.save(main)
    assert d.repository.get(world.main.user_id).version == version
    assert d.max_notification_id() == top
    assert d.read_model.user(world.main.user_id).status == "active"
    assert d.read_model.position() == top


def test_racing_creations_of_one_email_make_one_user(open_directory):
    world = make_world(open_directory())
    email = unique_email("race")
    results = race(*(lambda i=i: world.user(email=email if i % 2 else email.upper()) for i in range(8)))
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, EmailTaken) for r in results if isinstance(r, Exception)), results
    assert world.directory.list_users(world.main).total == 2


def test_racing_approver_naming_and_deactivation_never_leave_an_inactive_approver(open_directory):
    world = make_world(open_directory())
    d = world.directory
    outcomes = set()
    for _ in range(15):
        user = world.user(role_ids=[APPROVER])
        results = race(
            lambda u=user: d.set_approvers(world.main, [u.user_id]),
            lambda u=user: d.deactivate_user(world.main, u.user_id),
        )
        outcomes.add(tuple(type(r).__name__ for r in results))
        for r in results:
            assert not isinstance(r, Exception) or isinstance(r, IntegrityError | UsersError), r
        company = d.company(world.main)
        row = d.read_model.user(user.user_id)
        assert not (row.status == "inactive" and user.user_id in company.approver_ids), outcomes
        aggregate = d.repository.get(world.company_id)
        assert tuple(aggregate.approver_ids) == company.approver_ids
        d.set_approvers(world.main, [])


def test_many_concurrent_commands_are_all_in_the_read_model(open_directory):
    world = make_world(open_directory())
    results = race(*(lambda i=i: world.user(last_name=f"Many{i:02d}") for i in range(24)))
    assert not [r for r in results if isinstance(r, Exception)]
    page = world.directory.list_users(world.main, limit=200)
    assert page.total == 25
    assert world.directory.read_model.position() == world.directory.max_notification_id()


def test_the_read_model_is_rebuilt_from_the_events_and_caught_up_at_start(open_directory):
    d = open_directory()
    world = make_world(d)
    role = d.define_role(world.main, name="R", permissions=["approve_orders"])
    a = world.user(role_ids=[role.role_id])
    d.set_approvers(world.main, [a.user_id])
    d.set_budget(world.main, a.user_id, Budget(3, Decimal("9.99"), "EUR"))
    d.change_email(world.main, a.user_id, unique_email())
    d.change_role(world.main, role.role_id, name="R2", permissions=["view_reports"])
    d.transfer_main_contact(world.main, a.user_id)
    world.main = d.authenticate(signed_in_user(d, a.user_id))  # the new main contact
    before = snapshot(world)

    assert d.rebuild_read_model() == d.max_notification_id()
    assert snapshot(world) == before

    d.read_model.clear()
    with pytest.raises(NotFound):
        d.get_user(world.main, a.user_id)
    restarted = open_directory()  # a new process: catches up at start
    world.directory = restarted
    assert snapshot(world) == before


def test_the_erps_contacts_and_master_data_are_in_the_read_model_and_rebuilt(open_directory):
    d = open_directory()
    world = make_world(d)
    at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    nora = ErpContact("C-1", unique_email("nora"), "Nora", "Neu", "+49 30 1", changed_at=at)
    user_contact = ErpContact("C-2", None, "Udo", "User", user_id=uuid4(), changed_at=at)
    d.save(*d.erp_contact_changed(world.company_id, nora))
    d.save(*d.erp_contact_changed(world.company_id, user_contact))
    d.save(*d.erp_master_data_changed(world.company_id, "Muster AG", "EUR", at))
    company = d.company(world.main)
    assert company.name == "Muster AG"
    assert company.erp_contacts == (nora, user_contact)
    assert [c.erp_contact_id for c in d.erp_contacts(world.main)] == ["C-1"]
    before = snapshot(world)
    d.rebuild_read_model()
    assert snapshot(world) == before


# ---- the persons' keys (ADR 0035) ----------------------------------------------------------------------------


def key_rows(dsn: str, *user_ids: Any) -> dict[Any, tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT user_id, company_id, key, created_at, erased_at FROM person_keys WHERE user_id = ANY(%s)",
            (list(user_ids),),
        ).fetchall()
    return {r[0]: r[1:] for r in rows}


def test_a_key_is_stored_with_the_save_that_creates_the_user_and_not_with_one_that_fails(open_directory, dsn):
    world = make_world(open_directory())
    user = world.user()
    rows = key_rows(dsn, world.main.user_id, user.user_id)
    assert set(rows) == {world.main.user_id, user.user_id}
    for company_id, key, _, erased_at in rows.values():
        assert company_id == world.company_id and len(key) == 32 and erased_at is None
    assert rows[world.main.user_id][1] != rows[user.user_id][1]
    assert world.directory.person_key(user.user_id) == bytes(rows[user.user_id][1])

    email = unique_email("race")
    results = race(*(lambda: world.user(email=email) for _ in range(4)))
    made = [r for r in results if not isinstance(r, Exception)]
    with psycopg.connect(dsn) as conn:
        (n,) = conn.execute("SELECT count(*) FROM person_keys WHERE company_id = %s", (world.company_id,)).fetchone()
    assert len(made) == 1 and n == 3  # the refused saves left no key behind


def test_an_erasure_deletes_the_key_keeps_when_and_survives_a_rebuild_of_the_read_model(open_directory, dsn):
    d = open_directory()
    world = make_world(d)
    user = world.user(first_name="Gerda", last_name="Gelöscht")
    d.deactivate_user(world.main, user.user_id)
    erased = d.erase_user(world.main, user.user_id)
    assert (erased.email, erased.first_name, erased.last_name) == (None, None, None) and erased.is_erased
    (_, key, _, erased_at) = key_rows(dsn, user.user_id)[user.user_id]
    assert key is None and erased_at == erased.erased_at
    with pytest.raises(PersonErased):
        d.person_key(user.user_id)
    again = d.erase_user(world.main, user.user_id)
    assert again == erased and key_rows(dsn, user.user_id)[user.user_id][3] == erased_at

    with psycopg.connect(dsn) as conn:
        found = conn.execute(
            "SELECT count(*) FROM rm_users WHERE user_id = %s AND (email IS NOT NULL OR first_name IS NOT NULL)"
            " UNION ALL SELECT count(*) FROM rm_audit WHERE subject_id = %s AND details::text LIKE '%%Gerda%%'",
            (user.user_id, user.user_id),
        ).fetchall()
    assert [n for (n,) in found] == [0, 0]

    before = snapshot(world)
    d.rebuild_read_model()
    assert snapshot(world) == before
    assert key_rows(dsn, user.user_id)[user.user_id][1] is None
    assert d.get_user(world.main, user.user_id).is_erased


def test_after_an_erasure_no_table_of_users_holds_the_persons_names_or_addresses_not_even_the_event_store(
    open_directory, dsn
):
    """ADR 0035: users' events hold a person's names and addresses sealed with their key — with the key destroyed,
    the whole database (event store, read model, audit, claims) holds nothing readable of them."""
    d = open_directory()
    world = make_world(d)
    first, last = f"Sealfirst{uuid4().hex[:8]}", f"Seallast{uuid4().hex[:8]}"
    email, renamed, changed = unique_email("sealed"), f"Resealed{uuid4().hex[:8]}", unique_email("moved")
    user = world.user(first_name=first, last_name=last, email=email)
    d.rename_user(world.main, user.user_id, renamed, last)
    change = email_changes.start(d, TOKENS, world.main, user.user_id, changed)
    email_changes.confirm(d, change.id, TOKENS.token_for(user.user_id, change.token_nonce))
    markers = [first, last, renamed, email.split("@")[0], changed.split("@")[0]]
    assert asyncio.run(found_in_tables(dsn, markers, skip=set())) != []  # the read model holds them while active
    with psycopg.connect(dsn) as conn:
        events = conn.execute("SELECT state FROM directory_events").fetchall()
    assert not any(holds_any(bytes(state).decode(), markers) for (state,) in events)  # sealed already
    assert d.get_user(world.main, user.user_id).first_name == renamed  # and read plain

    d.deactivate_user(world.main, user.user_id)
    d.erase_user(world.main, user.user_id)
    assert asyncio.run(found_in_tables(dsn, markers, skip=set())) == []

    fresh = open_directory()  # another process: nothing cached, the events opened without the key
    d.rebuild_read_model()
    assert fresh.get_user(world.main, user.user_id).is_erased
    assert asyncio.run(found_in_tables(dsn, markers, skip=set())) == []


# ---- a key reserved for registration's future main contact (ADR 0040) ----------------------------------------


def test_a_reserved_key_is_pending_until_the_registrations_main_contact_takes_it_and_goes_with_their_erasure(
    open_directory, dsn
):
    d, person = open_directory(), uuid4()
    reserved = d.reserve_person_key(person)
    company_id, key, reserved_at, erased_at = key_rows(dsn, person)[person]
    assert (company_id, bytes(key), erased_at) == (None, reserved, None)
    assert open_directory().reserve_person_key(person) == reserved  # another process: the same key

    msg = naming(registration(), person)
    register(d, msg)
    company_id, key, created_at, erased_at = key_rows(dsn, person)[person]
    assert (company_id, bytes(key), created_at, erased_at) == (msg.company_id, reserved, reserved_at, None)
    with psycopg.connect(dsn) as conn:
        (state,) = conn.execute(
            "SELECT state FROM directory_events WHERE originator_id = %s AND originator_version = 1", (person,)
        ).fetchone()
    email = json.loads(bytes(state))["email"]
    assert is_sealed(email) and unseal(reserved, "users/user/email", email) == str(msg.main_contact.email)

    fresh = open_directory()  # nothing cached: the key ring finds the (no longer pending) row
    main = fresh.authenticate(signed_in(str(msg.main_contact.email)))
    assert main.user_id == person and fresh.get_user(main, person).first_name == msg.main_contact.first_name
    erase_main_contact(World(fresh, msg.company_id, main, str(msg.main_contact.email), msg))
    company_id, key, _, erased_at = key_rows(dsn, person)[person]
    assert (company_id, key) == (msg.company_id, None) and erased_at is not None
    with pytest.raises(PersonErased):
        fresh.reserve_person_key(person)


def test_a_registration_naming_another_companys_user_creates_a_new_person_and_leaves_their_key(open_directory, dsn):
    d = open_directory()
    world = make_world(d)
    user = world.user()
    before = key_rows(dsn, user.user_id)[user.user_id]
    msg = naming(registration(), user.user_id)
    register(d, msg)
    newcomer = d.authenticate(signed_in(str(msg.main_contact.email)))
    assert newcomer.user_id != user.user_id
    rows = key_rows(dsn, user.user_id, newcomer.user_id)
    assert rows[user.user_id] == before and rows[newcomer.user_id][0] == msg.company_id
    assert bytes(rows[newcomer.user_id][1]) != bytes(before[1])


def test_a_created_users_save_fails_when_another_key_is_stored_for_their_id_and_leaves_nothing(
    open_directory, dsn, monkeypatch
):
    """A reservation that comes in between reading the created users' rows and the save: their values would be
    sealed with a key that is not stored — the save fails instead, and its retry takes the stored key."""
    d, person = open_directory(), uuid4()
    reserved = d.reserve_person_key(person)
    msg = naming(registration(), person)
    with monkeypatch.context() as m:
        m.setattr(d.person_keys, "get_many", lambda user_ids: {})  # as if read before the reservation
        with pytest.raises(IntegrityError):
            register(d, msg)
    assert key_rows(dsn, person)[person][:2] == (None, reserved)
    with psycopg.connect(dsn) as conn:
        (n,) = conn.execute("SELECT count(*) FROM directory_events WHERE originator_id = %s", (person,)).fetchone()
    assert n == 0 and d.read_model.company(msg.company_id) is None
    register(d, msg)  # the retry reads the row: the stored key, given to the ring over the failed save's
    assert key_rows(dsn, person)[person][:2] == (msg.company_id, reserved)
    with psycopg.connect(dsn) as conn:
        (state,) = conn.execute(
            "SELECT state FROM directory_events WHERE originator_id = %s AND originator_version = 1", (person,)
        ).fetchone()
    assert unseal(reserved, "users/user/last_name", json.loads(bytes(state))["last_name"]) == "Main"
