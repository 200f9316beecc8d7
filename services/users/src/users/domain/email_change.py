"""A change of a user's e-mail address, waiting for the new address to confirm it.

The address a user signs in with is the one that finds them at their first sign-in and the one their mail goes
to, so it only changes when whoever asked for it proves control of the new mailbox: the change is started (a
single-use token, derived from a secret and a nonce, is mailed to the new address; only its hash is kept) and
takes effect when the token comes back before ``expires_at``. Until then the old address stays. A change that
was confirmed, or whose user's address changed meanwhile, cannot be confirmed (again).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from users.domain.errors import Conflict, Invalid


class InvalidConfirmation(Invalid):
    code = "invalid_confirmation_token"


class ConfirmationExpired(Conflict):
    code = "confirmation_token_expired"


class ConfirmationUsed(Conflict):
    code = "confirmation_token_used"


class ChangeSuperseded(Conflict):
    code = "email_change_superseded"


class EmailChangeStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", errors="surrogatepass")).hexdigest()


class EmailChange(Aggregate):
    """One requested change of one user's address."""

    class Requested(Aggregate.Created):
        user_id: UUID
        company_id: UUID
        email: str
        previous_email: str
        first_name: str
        last_name: str
        language: str
        token_nonce: str
        token_hash: str
        expires_at: datetime
        by: UUID | None

    @event(Requested)
    def __init__(
        self,
        user_id: UUID,
        company_id: UUID,
        email: str,
        previous_email: str,
        first_name: str,
        last_name: str,
        language: str,
        token_nonce: str,
        token_hash: str,
        expires_at: datetime,
        by: UUID | None,
    ) -> None:
        self.user_id = user_id
        self.company_id = company_id
        self.email = email
        self.previous_email = previous_email
        self.first_name = first_name
        self.last_name = last_name
        self.language = language
        self.token_nonce = token_nonce
        self.token_hash = token_hash
        self.expires_at = expires_at
        self.by = by
        self.status = EmailChangeStatus.PENDING
        self.confirmed_at: datetime | None = None

    class Confirmed(Aggregate.Event):
        company_id: UUID
        at: datetime

    def confirm(self, token: str, *, current_email: str, now: datetime) -> None:
        """Check the token (wrong → invalid; used; expired; the user's address changed since) and record it."""
        if not hmac.compare_digest(_hash(token), self.token_hash):
            raise InvalidConfirmation("The confirmation token is not valid.")
        if self.status is EmailChangeStatus.CONFIRMED:
            raise ConfirmationUsed("This change has been confirmed already.")
        if now > self.expires_at:
            raise ConfirmationExpired("The confirmation link has expired; start the change again.")
        if current_email != self.previous_email:
            raise ChangeSuperseded("The user's address changed since this change was started; start it again.")
        self._confirmed(company_id=self.company_id, at=now)

    @event(Confirmed)
    def _confirmed(self, company_id: UUID, at: datetime) -> None:
        self.status = EmailChangeStatus.CONFIRMED
        self.confirmed_at = at
