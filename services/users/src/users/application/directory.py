"""Use cases of the users service, one method each; ids in and out.

Every use case takes the :class:`Actor` — who is asking, resolved from the token's (issuer, subject) in our own
state (``users.application.identity``) —
and is scoped to the actor's company: another company's user, role or contact is reported as not found.
Permissions come from the actor's roles here, never from the token.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from eventsourcing.persistence import IntegrityError, JSONTranscoder

from kc_runtime.blind_index import DEVELOPMENT_INDEX_SECRET, BlindIndex
from kc_runtime.eventstore import ServiceApplication
from kc_runtime.sealing import UNKNOWN, KeyRing, Personal, new_key
from kc_runtime.transcoding import dataclass_transcoding
from users.application.identity import BoundSubjects, Identity, identify
from users.application.person_keys import (
    PERSON_KEYS_KWARG,
    InMemoryPersonKeys,
    KeyErased,
    PersonKey,
    PersonKeys,
    created_users,
    key_changes,
)
from users.application.read_model import (
    READ_MODEL_KWARG,
    AuditEntry,
    CompanyRow,
    InMemoryReadModel,
    ReadModel,
    RoleRow,
    UserPage,
    UserRow,
    project,
    role_row,
    user_row,
)
from users.domain.email_change import EmailChange
from users.domain.errors import (
    EmailTaken,
    Invalid,
    KeyTaken,
    MissingPermission,
    NotFound,
    PersonErased,
    RoleInUse,
    RoleNameTaken,
    UnknownRole,
    VersionMismatch,
)
from users.domain.model import (
    UNLIMITED,
    Budget,
    Company,
    ErpContact,
    ErpInbox,
    KeyClaim,
    PeriodBudget,
    Resolve,
    Role,
    User,
    clean_email,
    email_key,
    role_name_key,
)
from users.domain.permissions import (
    BUYER,
    MAIN_CONTACT,
    PREDEFINED_ROLES,
    Permission,
    effective_permissions,
    sorted_permissions,
)
from users.domain.policy import Action, Target, Who, check

A = TypeVar("A")

KEY_TTL_S = 30.0
"""How long users keeps a person's key in memory for its event store: another replica's erasure takes effect here
within it (users reads its own table; the other services keep keys for 10 minutes, ADR 0035)."""


@dataclass(frozen=True)
class Actor:
    """The caller of a use case, as our own state knows them."""

    user_id: UUID
    company_id: UUID
    permissions: frozenset[str]
    is_main_contact: bool

    def require(self, permission: Permission) -> None:
        if permission.value not in self.permissions:
            raise MissingPermission(f"This needs the permission {permission.value}.")

    def may(self, action: Action, target: Target | None = None, granted: Iterable[str] = ()) -> None:
        """Refuse what the delegation policy (``users.domain.policy``) does not allow."""
        check(action, Who(self.user_id, self.permissions, self.is_main_contact), target, granted)


def _target(user: User) -> Target:
    return Target(user.id, user.is_main_contact)


@dataclass(frozen=True)
class RoleView:
    role_id: str
    name: str
    description: str
    permissions: tuple[str, ...]
    predefined: bool
    version: int | None = None


@dataclass(frozen=True)
class Me:
    user: UserRow
    company: CompanyRow
    roles: list[RoleView]
    is_approver: bool


@dataclass(frozen=True)
class Approvers:
    users: list[UserRow]
    main_contact: UserRow | None

    @property
    def main_contact_decides(self) -> bool:
        return not self.users


def predefined_views() -> list[RoleView]:
    return [
        RoleView(r.id, r.name, r.description, sorted_permissions(r.permissions), True)
        for r in PREDEFINED_ROLES.values()
    ]


def custom_view(row: RoleRow) -> RoleView:
    return RoleView(str(row.role_id), row.name, row.description, tuple(row.permissions), False, row.version)


def _legacy_email_claim(app: Any, state: dict[str, Any]) -> int:
    """The re-seal's step (``kc_runtime.reseal``, ADR 0035 "Upcasting") for a claim of an e-mail address made before
    the blind index: its ``Claimed`` event kept the address (``email/<address>``) as its key, which nothing reads
    (the claim is found by its ``uuid5`` id): it keeps what a blind claim keeps instead, :data:`KeyClaim.EMAIL_INDEX`.
    Claims of role names and sign-ins are no one's address and keep their keys."""
    key = state.get("key")
    if not isinstance(key, str) or not key.startswith(email_key("")):
        return 0
    state["key"] = KeyClaim.EMAIL_INDEX
    return 1


class Directory(ServiceApplication):
    """Companies, users, roles, approvers: the users service's eventsourcing application."""

    name = "Directory"
    personal_data: ClassVar[Mapping[type, Personal]] = {
        User.Created: Personal("users/user", ("email", "first_name", "last_name")),
        User.Renamed: Personal("users/user", ("first_name", "last_name")),
        User.EmailChanged: Personal("users/user", ("email", "previous_email")),
        EmailChange.Requested: Personal(
            "users/email-change", ("email", "previous_email", "first_name", "last_name"), owner="user_id"
        ),
    }
    """A user's names and addresses, stored sealed with their own key (ADR 0035): once the key is destroyed, the
    event store holds nothing readable of them."""
    legacy_personal_data: ClassVar[Mapping[type, Callable[[Any, dict[str, Any]], int]]] = {
        KeyClaim.Claimed: _legacy_email_claim
    }

    def __init__(
        self,
        env: dict[str, str] | None = None,
        read_model_factory: Callable[[Any], ReadModel] | None = None,
        person_keys_factory: Callable[[Any], PersonKeys] | None = None,
        index_secret: bytes | None = None,
    ) -> None:
        """``index_secret``: the service's blind index secret (``kc_runtime.blind_index.index_secret``; None: the
        development secret, for tests and the local stack)."""
        # The persons' keys for the event store, from users' own table (a replica's erasure reaches the others
        # within the ring's time to live).
        super().__init__(env=env, key_ring=KeyRing(self._key_to_seal, ttl_s=KEY_TTL_S))
        self._email_index = BlindIndex(index_secret or DEVELOPMENT_INDEX_SECRET, KeyClaim.EMAIL_INDEX)
        self.read_model: ReadModel = read_model_factory(self.recorder) if read_model_factory else InMemoryReadModel()
        self.person_keys: PersonKeys = (
            person_keys_factory(self.recorder) if person_keys_factory else InMemoryPersonKeys()
        )
        self.bound_subjects = BoundSubjects()

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        for cls in (Budget, PeriodBudget, ErpContact):
            transcoder.register(dataclass_transcoding(cls))

    # ---- the read model follows every save --------------------------------------------------------------

    def rows_with_events(self, events: Sequence[Any]) -> dict[str, Any]:
        rows: dict[str, Any] = {}
        changes = project(events)
        if changes:
            rows[READ_MODEL_KWARG] = changes
        # Keys are random: made here, when the save is recorded, never where events are replayed (ADR 0035). A user
        # created with a reserved id takes its pending key (ADR 0040): one query for the created users' rows.
        created = created_users(events)
        keys = key_changes(events, pending=self.person_keys.get_many(created) if created else None)
        if keys:
            rows[PERSON_KEYS_KWARG] = keys
            ring = self.key_ring
            assert ring is not None
            for change in keys:
                if isinstance(change, PersonKey) and change.key is not None:
                    ring.give(change.user_id, change.key)  # the new person's events are sealed with it below
        return rows

    def rows_recorded(self, rows: dict[str, Any], notification_ids: Sequence[int]) -> None:
        if READ_MODEL_KWARG in rows:
            self.read_model.record(rows[READ_MODEL_KWARG], notification_ids)
        if PERSON_KEYS_KWARG in rows:
            self.person_keys.record(rows[PERSON_KEYS_KWARG])
            ring = self.key_ring
            assert ring is not None
            for change in rows[PERSON_KEYS_KWARG]:
                if isinstance(change, KeyErased):
                    ring.forget(change.user_id)

    def catch_up_read_model(self, batch_size: int = 500) -> int:
        """Apply what the read model has not seen of the notification log (all of it after a ``clear``).

        Every change names the aggregate version it leads to and applies only to older rows, so applying a
        notification twice changes nothing. Returns the number of notifications applied.
        """
        position = self.read_model.position()
        applied = 0
        while True:
            batch = self.notifications(position, batch_size)
            if not batch:
                return applied
            ids = [n.id for n, _, _ in batch]
            self.read_model.write(project([event for _, event, _ in batch]), ids)
            position = ids[-1]
            applied += len(batch)

    def rebuild_read_model(self) -> int:
        self.read_model.clear()
        return self.catch_up_read_model()

    # ---- who is asking ----------------------------------------------------------------------------------

    def authenticate(self, caller: Identity) -> Actor:
        """The user bound to the token's (issuer, subject); at a first sign-in the invited user with the token's
        verified e-mail, bound now (``users.application.identity``). Unknown → 401, inactive → 403."""
        row = identify(self, caller)
        return Actor(row.user_id, row.company_id, frozenset(row.permissions), row.is_main_contact)

    def me(self, actor: Actor) -> Me:
        user = self._user_row(actor, actor.user_id)
        company = self._company_row(actor.company_id)
        custom = {str(r.role_id): r for r in self.read_model.roles(actor.company_id)}
        predefined = {v.role_id: v for v in predefined_views()}
        roles = [
            predefined[r] if r in predefined else custom_view(custom[r])
            for r in user.role_ids
            if r in predefined or r in custom
        ]
        return Me(user=user, company=company, roles=roles, is_approver=user.user_id in company.approver_ids)

    # ---- users ------------------------------------------------------------------------------------------

    def list_users(
        self, actor: Actor, *, status: str | None = None, role_id: str | None = None, limit: int = 50, offset: int = 0
    ) -> UserPage:
        actor.may(Action.VIEW_USERS)
        return self.read_model.users(actor.company_id, status=status, role_id=role_id, limit=limit, offset=offset)

    def get_user(self, actor: Actor, user_id: UUID) -> UserRow:
        actor.may(Action.VIEW_USERS)
        return self._user_row(actor, user_id)

    def create_user(
        self,
        actor: Actor,
        *,
        email: str,
        first_name: str,
        last_name: str,
        language: str = "de",
        role_ids: Sequence[str] = (BUYER,),
        budget: Budget | None = None,
    ) -> UserRow:
        actor.may(Action.CREATE_USER)
        if budget is not None and budget != UNLIMITED:
            actor.require(Permission.MANAGE_BUDGETS)
        user = User.create(
            company_id=actor.company_id,
            email=email,
            first_name=first_name,
            last_name=last_name,
            language=language,
            role_ids=role_ids,
            resolve=self._resolver(actor.company_id),
            budget=budget or UNLIMITED,
            created_at=datetime.now(UTC),
            by=actor.user_id,
        )
        actor.may(Action.CREATE_USER, granted=user.permissions)
        claims = self._claim_email(user.email, user.id)
        self._save_with_email(user.email, user.id, user, *claims)
        return user_row(user)

    def rename_user(
        self, actor: Actor, user_id: UUID, first_name: str, last_name: str, expected_version: int | None = None
    ) -> UserRow:
        actor.may(Action.RENAME_USER)
        user = self._user(actor, user_id, expected_version)
        actor.may(Action.RENAME_USER, _target(user))
        user.rename(first_name, last_name, by=actor.user_id)
        self.save(user)
        return user_row(user)

    def change_email(self, actor: Actor, user_id: UUID, email: str, expected_version: int | None = None) -> UserRow:
        actor.require(Permission.MANAGE_USERS)
        user = self._user(actor, user_id, expected_version)
        email = clean_email(email)
        aggregates: list[Any] = [user]
        if email_key(email) != email_key(user.email):
            aggregates.extend(self._claim_email(email, user.id))
            aggregates.extend(self._release_email(user.email, user.id))
        user.change_email(email, by=actor.user_id)
        self._save_with_email(email, user.id, *aggregates)
        return user_row(user)

    def activate_user(self, actor: Actor, user_id: UUID, expected_version: int | None = None) -> UserRow:
        actor.may(Action.ACTIVATE_USER)
        user = self._user(actor, user_id, expected_version)
        actor.may(Action.ACTIVATE_USER, _target(user))
        user.activate(by=actor.user_id)
        self.save(user)
        return user_row(user)

    def deactivate_user(self, actor: Actor, user_id: UUID, expected_version: int | None = None) -> UserRow:
        """Refused for oneself and for the main contact. An approver leaves the approver list with it."""
        actor.may(Action.DEACTIVATE_USER)
        user = self._user(actor, user_id, expected_version)
        actor.may(Action.DEACTIVATE_USER, _target(user))
        user.deactivate(by=actor.user_id)
        company = self._company(actor.company_id)
        company.remove_approver(user.id, "approver_deactivated", by=actor.user_id)
        self.save(user, company)
        return user_row(user)

    def set_budget(
        self,
        actor: Actor,
        user_id: UUID,
        budget: Budget,
        expected_version: int | None = None,
        keep_period: bool = False,
    ) -> UserRow:
        """The per-order limits and the budget per period (``keep_period``: the user's period budget as it is)."""
        actor.may(Action.SET_BUDGET)
        user = self._user(actor, user_id, expected_version)
        actor.may(Action.SET_BUDGET, _target(user))
        if keep_period:
            budget = replace(budget, period=user.budget.period)
        user.set_budget(budget, by=actor.user_id)
        self.save(user)
        return user_row(user)

    def set_roles(
        self, actor: Actor, user_id: UUID, role_ids: Sequence[str], expected_version: int | None = None
    ) -> UserRow:
        """Replace a user's roles (the main-contact role stays where it is). An approver who loses the approve
        permission leaves the approver list."""
        actor.may(Action.SET_ROLES)
        user = self._user(actor, user_id, expected_version)
        actor.may(Action.SET_ROLES, _target(user))
        before = set(user.permissions)
        user.set_roles(role_ids, self._resolver(actor.company_id), by=actor.user_id)
        actor.may(Action.SET_ROLES, _target(user), granted=set(user.permissions) - before)
        company = self._company(actor.company_id)
        if not user.has(Permission.APPROVE_ORDERS):
            company.remove_approver(user.id, "approve_permission_lost", by=actor.user_id)
        self.save(user, company)
        return user_row(user)

    def erase_user(self, actor: Actor, user_id: UUID) -> UserRow:
        """Erase a user (ADR 0035): their key is destroyed, their names and e-mail address leave the read model
        and the audit, their address is free again, and ``UserErased`` is published. Only the main contact, never
        themselves or the main contact, and only a deactivated user. Repeated: the erased user, nothing new."""
        actor.may(Action.ERASE_USER)
        user = self._user(actor, user_id)
        actor.may(Action.ERASE_USER, _target(user))
        user.erase(at=datetime.now(UTC), by=actor.user_id)
        if user.pending_events:
            self.save(user, *self._release_email(user.email, user.id))
        return self._user_row(actor, user.id)

    # ---- keys (ADR 0035) --------------------------------------------------------------------------------

    def _key_to_seal(self, user_id: UUID) -> bytes | None:
        """The key the event store seals and opens a person's values with: None once erased, ``UNKNOWN`` for an id
        that is no user (values stay plain). A user created before keys existed gets one now."""
        try:
            return self.person_key(user_id)
        except PersonErased:
            return None
        except NotFound:
            return UNKNOWN

    def person_key(self, user_id: UUID) -> bytes:
        """The key of a person, for the other services (the internal endpoint). Unknown → :class:`NotFound`,
        erased → :class:`PersonErased`. A user created before keys existed gets one now."""
        row = self.person_keys.get(user_id)
        if row is None:
            user = self.read_model.user(user_id)
            if user is None:
                raise NotFound("No such person.", code="unknown_person")
            if user.is_erased:
                raise PersonErased("The person was erased.")
            row = self.person_keys.ensure(PersonKey(user_id, user.company_id, new_key(), datetime.now(UTC)))
        if row.key is None:
            raise PersonErased("The person was erased.")
        return row.key

    def reserve_person_key(self, user_id: UUID) -> bytes:
        """The key of a person who is to become a user with ``user_id`` (ADR 0040: registration's future main
        contact, whose id it minted when the attempt was submitted): made now if the person has none, else the
        one they have (idempotent; a user's own key for a user's id). Erased → :class:`PersonErased`.

        The row is pending — no company — until :meth:`register_company` creates the main contact with that id and
        its key; a registration that never completes leaves it so."""
        try:
            return self.person_key(user_id)
        except NotFound:
            pass
        row = self.person_keys.ensure(PersonKey(user_id, None, new_key(), datetime.now(UTC)))
        if row.key is None:
            raise PersonErased("The person was erased.")
        return row.key

    def person_keys_of(self, user_ids: Sequence[UUID]) -> dict[UUID, bytes | None]:
        """The keys of many persons at once (the internal endpoint for a consumer's batch): a person's key, ``None``
        once erased, :data:`~kc_runtime.sealing.UNKNOWN` for an id that is no user. One query for those with a key
        row; a user created before keys existed gets one now, as with :meth:`person_key`."""
        rows = self.person_keys.get_many(user_ids)
        keys: dict[UUID, bytes | None] = {}
        for user_id in user_ids:
            row = rows.get(user_id)
            if row is not None:
                keys[user_id] = row.key
                continue
            try:
                keys[user_id] = self.person_key(user_id)
            except PersonErased:
                keys[user_id] = None
            except NotFound:
                keys[user_id] = UNKNOWN
        return keys

    # ---- roles ------------------------------------------------------------------------------------------

    def roles(self, actor: Actor) -> list[RoleView]:
        actor.may(Action.VIEW_ROLES)
        return predefined_views() + [custom_view(r) for r in self.read_model.roles(actor.company_id)]

    def role(self, actor: Actor, role_id: str) -> RoleView:
        actor.may(Action.VIEW_ROLES)
        for view in predefined_views():
            if view.role_id == role_id:
                return view
        return custom_view(role_row(self._role(actor, role_id)))

    def define_role(self, actor: Actor, *, name: str, description: str = "", permissions: Sequence[str]) -> RoleView:
        actor.may(Action.DEFINE_ROLE)
        role = Role.define(
            company_id=actor.company_id, name=name, description=description, permissions=permissions, by=actor.user_id
        )
        actor.may(Action.DEFINE_ROLE, granted=role.permissions)
        claim = self._claim_role_name(actor.company_id, role.name, role.id)
        self._save_with_role_name(actor.company_id, role.name, role.id, role, claim)
        return custom_view(role_row(role))

    def change_role(
        self,
        actor: Actor,
        role_id: str,
        *,
        name: str,
        description: str = "",
        permissions: Sequence[str],
        expected_version: int | None = None,
    ) -> RoleView:
        """Redefine a custom role. Its holders get their new effective permissions (an event each), and an
        approver who loses the approve permission leaves the approver list."""
        actor.may(Action.CHANGE_ROLE)
        role = self._role(actor, role_id, expected_version)
        old_key = role_name_key(actor.company_id, role.name)
        before = set(role.permissions)
        role.change(name, description, permissions, by=actor.user_id)
        actor.may(Action.CHANGE_ROLE, granted=set(role.permissions) - before)
        aggregates: list[Any] = [role]
        if role_name_key(actor.company_id, role.name) != old_key:
            aggregates.append(self._claim_role_name(actor.company_id, role.name, role.id))
            old = self.find(KeyClaim.create_id(old_key), KeyClaim)
            if old is not None:
                old.release(role.id)
                aggregates.append(old)
        resolve = self._resolver(actor.company_id, overrides={role.role_id: role.permissions})
        company = self._company(actor.company_id)
        for holder_id in self.read_model.user_ids_with_role(actor.company_id, role.role_id):
            holder = self.find(holder_id, User)
            if holder is None:
                continue
            holder.recompute_permissions(resolve, role.role_id, by=actor.user_id)
            if not holder.has(Permission.APPROVE_ORDERS):
                company.remove_approver(holder.id, "approve_permission_lost", by=actor.user_id)
            aggregates.append(holder)
        aggregates.append(company)
        self._save_with_role_name(actor.company_id, role.name, role.id, *aggregates)
        return custom_view(role_row(role))

    def delete_role(self, actor: Actor, role_id: str, expected_version: int | None = None) -> None:
        actor.may(Action.DELETE_ROLE)
        role = self._role(actor, role_id, expected_version)
        holders = self.read_model.user_ids_with_role(actor.company_id, role.role_id)
        if holders:
            raise RoleInUse(f"{len(holders)} user(s) hold this role; take it from them first.")
        role.delete(by=actor.user_id)
        aggregates: list[Any] = [role]
        claim = self.find(KeyClaim.create_id(role_name_key(actor.company_id, role.name)), KeyClaim)
        if claim is not None:
            claim.release(role.id)
            aggregates.append(claim)
        self.save(*aggregates)

    # ---- company ----------------------------------------------------------------------------------------

    def company(self, actor: Actor) -> CompanyRow:
        return self._company_row(actor.company_id)

    def approvers(self, actor: Actor) -> Approvers:
        company = self._company_row(actor.company_id)
        users = self.read_model.users_by_ids(actor.company_id, list(company.approver_ids))
        return Approvers(users=users, main_contact=self.read_model.user(company.main_contact_id))

    def set_approvers(self, actor: Actor, user_ids: Sequence[UUID]) -> Approvers:
        """Name the approvers (none: the main contact decides). Each must be active and hold approve_orders."""
        actor.may(Action.SET_APPROVERS)
        company = self._company(actor.company_id)
        # An unknown id, or another company's, is not found; a user of the company who may not approve is
        # refused by the company (422).
        candidates = [self._user(actor, user_id).as_candidate() for user_id in user_ids]
        if (actor.user_id in user_ids) != (actor.user_id in company.approver_ids):
            actor.may(Action.SET_APPROVERS, Target(actor.user_id, actor.is_main_contact))
        company.set_approvers(candidates, by=actor.user_id)
        self.save(company)
        return self.approvers(actor)

    def transfer_main_contact(
        self, actor: Actor, user_id: UUID, roles_for_previous: Sequence[str] | None = None
    ) -> CompanyRow:
        """Hand the main-contact role to another active user. Only the main contact can. The previous main
        contact keeps their other roles (``buyer`` if they had none) unless ``roles_for_previous`` is given."""
        actor.may(Action.TRANSFER_MAIN_CONTACT)
        company = self._company(actor.company_id)
        target = self._user(actor, user_id)
        previous = self._user(actor, company.main_contact_id)
        company.transfer_main_contact(target.as_candidate(), by=actor.user_id)
        resolve = self._resolver(actor.company_id)
        remaining = (
            list(roles_for_previous)
            if roles_for_previous is not None
            else [r for r in previous.role_ids if r != MAIN_CONTACT] or [BUYER]
        )
        previous.hand_over_main_contact(remaining, resolve, by=actor.user_id)
        target.become_main_contact(resolve, by=actor.user_id)
        if not previous.has(Permission.APPROVE_ORDERS):
            company.remove_approver(previous.id, "approve_permission_lost", by=actor.user_id)
        self.save(company, previous, target)
        return self._company_row(actor.company_id)

    # ---- ERP contacts -----------------------------------------------------------------------------------

    def erp_contacts(self, actor: Actor) -> list[ErpContact]:
        """The contacts the ERP knows for the company that are not users (of this company) yet."""
        actor.may(Action.VIEW_ERP_CONTACTS)
        company = self._company_row(actor.company_id)
        out = []
        for contact in company.erp_contacts:
            if not contact.is_candidate or contact.erp_contact_id in company.taken_over:
                continue
            if contact.email:
                existing = self.read_model.user_by_email(contact.email)
                if existing is not None and existing.company_id == actor.company_id:
                    continue
            out.append(contact)
        return out

    def take_over_erp_contact(
        self,
        actor: Actor,
        erp_contact_id: str,
        *,
        email: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        language: str = "de",
        role_ids: Sequence[str] = (BUYER,),
    ) -> tuple[UserRow, bool]:
        """Make an ERP contact a user, prefilled from the ERP. Idempotent: a contact taken over already
        answers with its user. Returns the user and whether it was created now."""
        actor.may(Action.TAKE_OVER_ERP_CONTACT)
        company = self._company(actor.company_id)
        existing = company.taken_over_by(erp_contact_id)
        if existing is not None:
            return self._user_row(actor, existing), False
        contact = company.candidate(erp_contact_id)
        address = email or contact.email
        if not address:
            raise Invalid("The ERP knows no e-mail address for this contact; give one.", code="email_required")
        user = User.create(
            company_id=actor.company_id,
            email=address,
            first_name=first_name or contact.first_name,
            last_name=last_name or contact.last_name,
            language=language,
            role_ids=role_ids,
            resolve=self._resolver(actor.company_id),
            erp_contact_id=erp_contact_id,
            created_at=datetime.now(UTC),
            by=actor.user_id,
        )
        actor.may(Action.TAKE_OVER_ERP_CONTACT, granted=user.permissions)
        claims = self._claim_email(user.email, user.id)
        company.record_take_over(erp_contact_id, user.id, by=actor.user_id)
        try:
            self._save_with_email(user.email, user.id, user, *claims, company)
        except IntegrityError:
            # Taken over concurrently by the same request repeated? Then answer as the repetition would.
            again = self._company(actor.company_id).taken_over_by(erp_contact_id)
            if again is not None:
                return self._user_row(actor, again), False
            raise
        return user_row(user), True

    # ---- audit ------------------------------------------------------------------------------------------

    def audit(
        self, actor: Actor, *, subject_id: UUID | None = None, before: int | None = None, limit: int = 50
    ) -> list[AuditEntry]:
        actor.may(Action.VIEW_AUDIT)
        return self.read_model.audit(actor.company_id, subject_id=subject_id, before=before, limit=limit)

    # ---- from registration ------------------------------------------------------------------------------

    def register_company(
        self,
        *,
        company_id: UUID,
        customer_number: str,
        name: str,
        currency: str,
        main_contact_email: str,
        main_contact_first_name: str,
        main_contact_last_name: str,
        main_contact_language: str,
        erp_contacts: Sequence[ErpContact],
        registration_id: UUID | None,
        registered_at: datetime,
        main_contact_id: UUID | None = None,
    ) -> list[Any]:
        """The aggregates to save for a completed registration: the company and its main contact (and the
        claim of the main contact's e-mail). None if the company exists already (idempotent by company id).

        ``main_contact_id``: the id registration minted for the main contact and reserved a key for (ADR 0040); the
        main contact is created with it, and the save seals their values with that key and gives the key row the
        company. An id that is taken — anything stored under it (a user of any company), or a key row that is no
        pending person's (erased, or a company's) — is never reused: the main contact gets a fresh id and key, as
        without one (a registration never takes over an existing user).

        Raises :class:`EmailTaken` when the main contact's address belongs to a user already.
        """
        if self.find(company_id, Company) is not None:
            return []
        user = User.create(
            id=self._registrant_id(main_contact_id),
            company_id=company_id,
            email=main_contact_email,
            first_name=main_contact_first_name,
            last_name=main_contact_last_name,
            language=main_contact_language,
            role_ids=(),
            resolve=self._resolver(company_id),
            main_contact=True,
            created_at=datetime.now(UTC),
            by=None,
        )
        claims = self._claim_email(user.email, user.id)
        company = Company(
            company_id=company_id,
            customer_number=customer_number,
            name=name,
            currency=currency,
            main_contact_id=user.id,
            erp_contacts=tuple(erp_contacts),
            registration_id=registration_id,
            registered_at=registered_at,
        )
        # The inbox is saved either way: an ERP message held concurrently collides with it and is retried.
        inbox = self.find(ErpInbox.create_id(company_id), ErpInbox)
        if inbox is None:
            inbox = ErpInbox(company_id=company_id, delivered=True)
        else:
            inbox.deliver_to(company)
        return [company, user, *claims, inbox]

    # ---- from erp-sync: what the ERP keeps about the company --------------------------------------------

    def erp_master_data_changed(self, company_id: UUID, name: str, currency: str, changed_at: datetime) -> list[Any]:
        """The aggregates to save for the ERP's master data of a company: the company's name and currency follow
        the ERP (the newest change wins). Held for a company not registered here yet."""
        company = self.find(company_id, Company)
        target: Company | ErpInbox
        if company is not None:
            target = company
            company.change_erp_master_data(name, currency, changed_at)
        else:
            target = self._inbox(company_id)
            target.hold_master_data(name, currency, changed_at)
        return [target] if target.pending_events else []

    def erp_contact_changed(self, company_id: UUID, contact: ErpContact) -> list[Any]:
        """The aggregates to save for a contact person the ERP added, changed or deactivated: kept in the
        company's list of ERP contacts (a deactivated one leaves the take-over list). Users are never changed:
        the shop is the master of its users. Held for a company not registered here yet."""
        company = self.find(company_id, Company)
        target: Company | ErpInbox
        if company is not None:
            target = company
            company.record_erp_contact(contact)
        else:
            target = self._inbox(company_id)
            target.hold_contact(contact)
        return [target] if target.pending_events else []

    def _registrant_id(self, user_id: UUID | None) -> UUID | None:
        """``user_id`` if a new main contact may have it (see :meth:`register_company`), else None (a fresh id)."""
        if user_id is None or self.find(user_id) is not None:
            return None
        row = self.person_keys.get(user_id)
        return user_id if row is None or row.is_pending else None

    def _inbox(self, company_id: UUID) -> ErpInbox:
        return self.find(ErpInbox.create_id(company_id), ErpInbox) or ErpInbox(company_id=company_id)

    # ---- helpers ----------------------------------------------------------------------------------------

    def _user(self, actor: Actor, user_id: UUID, expected_version: int | None = None) -> User:
        user = self.find(user_id, User)
        if user is None or user.company_id != actor.company_id:
            raise NotFound("Not found.")
        _check_version(user.version, expected_version)
        return user

    def _user_row(self, actor: Actor, user_id: UUID) -> UserRow:
        row = self.read_model.user(user_id)
        if row is None or row.company_id != actor.company_id:
            raise NotFound("Not found.")
        return row

    def _company(self, company_id: UUID) -> Company:
        company = self.find(company_id, Company)
        if company is None:
            raise NotFound("Not found.")
        return company

    def _company_row(self, company_id: UUID) -> CompanyRow:
        row = self.read_model.company(company_id)
        if row is None:
            raise NotFound("Not found.")
        return row

    def _role(self, actor: Actor, role_id: str, expected_version: int | None = None) -> Role:
        role = self._find_role(actor.company_id, role_id)
        if role is None:
            raise NotFound("Not found.")
        _check_version(role.version, expected_version)
        return role

    def _find_role(self, company_id: UUID, role_id: str) -> Role | None:
        try:
            role = self.find(UUID(role_id), Role)
        except ValueError:
            return None
        if role is None or role.company_id != company_id or role.deleted:
            return None
        return role

    def _resolver(self, company_id: UUID, overrides: dict[str, Sequence[str]] | None = None) -> Resolve:
        """Role ids → effective permissions, from the predefined roles and this company's custom roles."""

        def resolve(role_ids: Sequence[str]) -> frozenset[Permission]:
            custom: dict[str, Sequence[str]] = {}
            for role_id in role_ids:
                if role_id in PREDEFINED_ROLES:
                    continue
                if overrides and role_id in overrides:
                    custom[role_id] = overrides[role_id]
                    continue
                role = self._find_role(company_id, role_id)
                if role is None:
                    raise UnknownRole(f"Unknown role {role_id!r}.")
                custom[role_id] = role.permissions
            return effective_permissions(role_ids, custom)

        return resolve

    def _claim(self, key: str, owner_id: UUID) -> KeyClaim:
        claim = self.find(KeyClaim.create_id(key), KeyClaim)
        if claim is None:
            return KeyClaim(key=key, owner_id=owner_id)
        claim.claim(owner_id)
        return claim

    def email_claim_ids(self, email: str) -> tuple[UUID, UUID]:
        """The ids of an address's claim: its blind index (ADR 0035 decision 4), then its legacy ``uuid5`` id
        (claimed before the blind index; read only while the address has no blind claim)."""
        key = email_key(email)
        return self._email_index.id(key), KeyClaim.create_id(key)

    def email_claim(self, email: str) -> KeyClaim | None:
        """The address's claim: its blind claim if stored, else the one under its legacy id (None: neither)."""
        index_id, legacy_id = self.email_claim_ids(email)
        return self.find(index_id, KeyClaim) or self.find(legacy_id, KeyClaim)

    def _claim_email(self, email: str, owner_id: UUID) -> list[KeyClaim]:
        """The claims to save for ``owner_id`` to hold the address, in its blind index. A claim under the
        address's legacy id moves there: released in the same save (from then on the blind claim alone decides;
        a concurrent claim collides on either). Raises :class:`EmailTaken` when another user holds it."""
        index_id, legacy_id = self.email_claim_ids(email)
        try:
            claim = self.find(index_id, KeyClaim)
            if claim is not None:
                claim.claim(owner_id)
                return [claim]
            legacy = self.find(legacy_id, KeyClaim)
            if legacy is None or legacy.owner_id is None:
                return [KeyClaim.blind(index_id, owner_id)]
            legacy.claim(owner_id)  # refuses another holder
            legacy.release(owner_id)
            return [KeyClaim.blind(index_id, owner_id), legacy]
        except KeyTaken:
            raise EmailTaken(f"The e-mail address {email} belongs to another user already.") from None

    def _release_email(self, email: str, owner_id: UUID) -> list[KeyClaim]:
        """The address is no longer ``owner_id``'s: released wherever its claim names them (blind or, not moved
        yet, legacy)."""
        released = []
        for claim_id in self.email_claim_ids(email):
            claim = self.find(claim_id, KeyClaim)
            if claim is not None and claim.owner_id == owner_id:
                claim.release(owner_id)
                released.append(claim)
        return released

    def _claim_role_name(self, company_id: UUID, name: str, owner_id: UUID) -> KeyClaim:
        try:
            return self._claim(role_name_key(company_id, name), owner_id)
        except KeyTaken:
            raise RoleNameTaken(f"The company has a role named {name!r} already.") from None

    def _save_with_email(self, email: str, owner_id: UUID, *aggregates: Any) -> None:
        """Save; if the e-mail was claimed concurrently (the claim collides in the store), say so."""
        try:
            self.save(*aggregates)
        except IntegrityError:
            claim = self.email_claim(email)
            if claim is not None and claim.owner_id not in (None, owner_id):
                raise EmailTaken(f"The e-mail address {email} belongs to another user already.") from None
            raise

    def _save_with_role_name(self, company_id: UUID, name: str, owner_id: UUID, *aggregates: Any) -> None:
        try:
            self.save(*aggregates)
        except IntegrityError:
            claim = self.find(KeyClaim.create_id(role_name_key(company_id, name)), KeyClaim)
            if claim is not None and claim.owner_id not in (None, owner_id):
                raise RoleNameTaken(f"The company has a role named {name!r} already.") from None
            raise


def _check_version(actual: int, expected: int | None) -> None:
    if expected is not None and actual != expected:
        raise VersionMismatch(f"The current version is {actual}, not {expected}.")
