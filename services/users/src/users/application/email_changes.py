"""E-mail changes confirmed by the new address (see :mod:`users.domain.email_change`).

``start``: only the user themselves or the company's main contact may start a change (so nobody but the main
contact starts one for the main contact); the new address must not belong to another user. A single-use token
is mailed to the new address (``UserEmailChangeRequested``); the address stays as it is.
``confirm``: the token from that mail, before it expires, makes the change (``UserEmailChanged``). It is public:
holding the token is the proof of controlling the new mailbox.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from kc_runtime.tokens import TokenIssuer
from users.application.read_model import user_row
from users.domain.email_change import EmailChange
from users.domain.errors import EmailTaken, Invalid, MissingPermission, NotFound
from users.domain.model import User, clean_email, email_key

if TYPE_CHECKING:
    from users.application.directory import Actor, Directory
    from users.application.read_model import UserRow

CONFIRMATION_TTL = timedelta(hours=24)


def start(
    directory: Directory,
    tokens: TokenIssuer,
    actor: Actor,
    user_id: UUID,
    email: str,
    expected_version: int | None = None,
    ttl: timedelta = CONFIRMATION_TTL,
) -> EmailChange:
    user = directory._user(actor, user_id, expected_version)
    if actor.user_id != user.id and not actor.is_main_contact:
        raise MissingPermission(
            "Only the user themselves or the main contact may change an e-mail address.",
            code="email_change_not_allowed",
        )
    user.ensure_not_erased()
    email = clean_email(email)
    if email == user.email:
        raise Invalid("This is the user's address already.", code="email_unchanged")
    _check_free(directory, email, user.id)
    issued = tokens.issue(user.id)
    change = EmailChange(
        user_id=user.id,
        company_id=user.company_id,
        email=email,
        previous_email=user.email,
        first_name=user.first_name,
        last_name=user.last_name,
        language=user.language,
        token_nonce=issued.nonce,
        token_hash=issued.token_hash,
        expires_at=datetime.now(UTC) + ttl,
        by=actor.user_id,
    )
    directory.save(change)
    return change


def confirm(directory: Directory, change_id: UUID, token: str) -> UserRow:
    change = directory.find(change_id, EmailChange)
    user = directory.find(change.user_id, User) if change is not None else None
    if change is None or user is None:
        raise NotFound("Not found.")
    change.confirm(token, current_email=user.email, now=datetime.now(UTC))
    aggregates: list[Any] = [change, user]
    if email_key(change.email) != email_key(user.email):
        aggregates.extend(directory._claim_email(change.email, user.id))
        aggregates.extend(directory._release_email(user.email, user.id))
    user.change_email(change.email, by=change.by)
    directory._save_with_email(change.email, user.id, *aggregates)
    return user_row(user)


def pending(directory: Directory, change_id: UUID) -> EmailChange | None:
    return directory.find(change_id, EmailChange)


def _check_free(directory: Directory, email: str, user_id: UUID) -> None:
    claim = directory.email_claim(email)
    if claim is not None and claim.owner_id not in (None, user_id):
        raise EmailTaken(f"The e-mail address {email} belongs to another user already.")
