"""Who a user is at the shop's identity provider: the (issuer, subject) they are bound to at first sign-in.

A user is created with an e-mail address (by a registration, an administrator or an ERP take-over) and is
*invited* until their first sign-in. At that sign-in the token's e-mail — only if the provider says it is
verified — finds the invited user, and the token's (issuer, subject) is bound to them for good. From then on
the binding alone identifies the user: a token with the user's e-mail but another subject is refused, so
changing a user's e-mail (or registering an address somebody else holds) cannot hand the account to whoever
controls that address.

The binding is an aggregate of its own (not an event of the User), so a first sign-in does not change the
user's version that administrators send back as ``If-Match``. Its id derives from the user id, so a user is
bound once even when two first sign-ins race; the subject's uniqueness is a ``KeyClaim`` on
:func:`sign_in_key`, so one subject never names two users.
"""

from __future__ import annotations

from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

_SIGN_INS = uuid5(NAMESPACE_URL, "urn:kundencenter:users:sign-ins")


def sign_in_key(issuer: str, subject: str) -> str:
    """The unique key of an identity at the provider (subjects are case-sensitive and unique per issuer)."""
    return f"sign-in/{issuer}|{subject}"


class SignIn(Aggregate):
    """The binding of one user to the identity provider's (issuer, subject)."""

    @staticmethod
    def create_id(user_id: UUID) -> UUID:
        return uuid5(_SIGN_INS, str(user_id))

    class Bound(Aggregate.Created):
        user_id: UUID
        company_id: UUID
        issuer: str
        subject: str
        bound_at: datetime

    @event(Bound)
    def __init__(self, user_id: UUID, company_id: UUID, issuer: str, subject: str, bound_at: datetime) -> None:
        self.user_id = user_id
        self.company_id = company_id
        self.issuer = issuer
        self.subject = subject
        self.bound_at = bound_at

    @classmethod
    def bind(cls, *, user_id: UUID, company_id: UUID, issuer: str, subject: str, bound_at: datetime) -> SignIn:
        return cls(user_id=user_id, company_id=company_id, issuer=issuer, subject=subject, bound_at=bound_at)

    def names(self, issuer: str, subject: str) -> bool:
        return (self.issuer, self.subject) == (issuer, subject)
