"""Who is asking: the user bound to the token's (issuer, subject), or — at a first sign-in — the invited user
with the token's verified e-mail, who is bound to that subject now (see :mod:`users.domain.identity`).

| token                                                     | answer                                   |
|-----------------------------------------------------------|------------------------------------------|
| (issuer, subject) bound to a user                         | that user (whatever the e-mail claim)    |
| unbound subject, verified e-mail of a user not bound yet  | that user, bound to the subject from now |
| unbound subject, e-mail of a user bound to another one    | 401 ``identity_mismatch``                |
| unbound subject, e-mail of an unbound user, not verified  | 401 ``email_not_verified``               |
| anything else                                             | 401 ``unknown_user``                     |

A deactivated user is 403 ``user_inactive`` (and is not bound while deactivated).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from users.application.read_model import UserRow
from users.domain.errors import Unauthenticated, UserInactive
from users.domain.identity import SignIn, sign_in_key
from users.domain.model import KeyClaim

if TYPE_CHECKING:
    from users.application.directory import Directory


class Identity(Protocol):
    """What a verified token says (``kc_runtime.auth.Caller``)."""

    @property
    def issuer(self) -> str: ...

    @property
    def subject(self) -> str: ...

    @property
    def email(self) -> str | None: ...

    @property
    def email_verified(self) -> bool: ...


class BoundSubjects:
    """(issuer, subject) → user id of bindings seen. A binding never changes, so this never goes stale."""

    def __init__(self, maxsize: int = 100_000) -> None:
        self._ids: dict[tuple[str, str], UUID] = {}
        self._maxsize = maxsize
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> UUID | None:
        return self._ids.get(key)

    def put(self, key: tuple[str, str], user_id: UUID) -> None:
        with self._lock:
            if len(self._ids) >= self._maxsize:
                self._ids.clear()
            self._ids[key] = user_id


def _unknown() -> Unauthenticated:
    return Unauthenticated("The token names no user of the customer center.")


def bound_user(directory: Directory, issuer: str, subject: str) -> UUID | None:
    key = (issuer, subject)
    cache: BoundSubjects = directory.bound_subjects
    user_id = cache.get(key)
    if user_id is None:
        claim = directory.find(KeyClaim.create_id(sign_in_key(issuer, subject)), KeyClaim)
        user_id = claim.owner_id if claim is not None else None
        if user_id is not None:
            cache.put(key, user_id)
    return user_id


def identify(directory: Directory, caller: Identity) -> UserRow:
    """The user row of the caller (binding them at their first sign-in); see the module's table."""
    issuer, subject = getattr(caller, "issuer", None), getattr(caller, "subject", None)
    if not isinstance(issuer, str) or not isinstance(subject, str) or not subject:
        raise _unknown()
    user_id = bound_user(directory, issuer, subject)
    row = directory.read_model.user(user_id) if user_id is not None else _first_sign_in(directory, caller)
    if row is None:
        raise _unknown()
    if not row.is_active:
        raise UserInactive("This user has been deactivated.")
    return row


def _first_sign_in(directory: Directory, caller: Identity) -> UserRow:
    email = caller.email
    row = directory.read_model.user_by_email(email) if isinstance(email, str) and email.strip() else None
    if row is None:
        raise _unknown()
    if directory.find(SignIn.create_id(row.user_id), SignIn) is not None:
        raise Unauthenticated(
            "This e-mail address belongs to a user who signs in with another account.", code="identity_mismatch"
        )
    if caller.email_verified is not True:
        raise Unauthenticated(
            "The identity provider has not verified this e-mail address; a first sign-in needs a verified one.",
            code="email_not_verified",
        )
    if not row.is_active:
        raise UserInactive("This user has been deactivated.")
    sign_in = SignIn.bind(
        user_id=row.user_id,
        company_id=row.company_id,
        issuer=caller.issuer,
        subject=caller.subject,
        bound_at=datetime.now(UTC),
    )
    claim = KeyClaim(key=sign_in_key(caller.issuer, caller.subject), owner_id=row.user_id)
    try:
        directory.save(sign_in, claim)
    except IntegrityError:
        # Two first sign-ins at once: the one saved first decides.
        if bound_user(directory, caller.issuer, caller.subject) == row.user_id:
            return row
        raise Unauthenticated(
            "This e-mail address belongs to a user who signs in with another account.", code="identity_mismatch"
        ) from None
    directory.bound_subjects.put((caller.issuer, caller.subject), row.user_id)
    return row


def sign_in_of(directory: Directory, user_id: UUID) -> Any:
    """The user's binding, if they have signed in."""
    return directory.find(SignIn.create_id(user_id), SignIn)
