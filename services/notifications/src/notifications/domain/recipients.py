"""Who the mails go to: the users service's users, as far as mails need them (address, language, name)."""

from __future__ import annotations

from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

_EMAILS = uuid5(NAMESPACE_URL, "urn:kundencenter:notifications:recipient-emails")
_SIGN_INS = uuid5(NAMESPACE_URL, "urn:kundencenter:notifications:sign-ins")


class Recipient(Aggregate):
    """A user of a customer company. Its id is the user's id. Once erased (ADR 0035) it keeps only the id: no
    address, names or language, never active again, and no later event of users brings any of them back."""

    erased = False
    """(a class default too: a recipient loaded from before erasure existed reads as not erased)"""
    email_index: UUID | None = None
    """the id of their address's index (:class:`RecipientEmail`, a keyed hash): found again when the address itself no
    longer opens (ADR 0035), so their erasure releases it. None for a recipient recorded before it was kept"""

    def __init__(
        self, email: str, first_name: str, last_name: str, language: str, active: bool, email_index: UUID | None = None
    ) -> None:
        self.email = email
        self.first_name = first_name
        self.last_name = last_name
        self.language = language
        self.active = active
        self.email_index = email_index
        self.signed_in = False
        """bound by users to an identity provider's (issuer, subject): from then on only that identifies them"""

    @classmethod
    def known(
        cls, user_id: UUID, email: str, first_name: str, last_name: str, language: str, active: bool,
        email_index: UUID | None = None,
    ) -> Recipient:  # fmt: skip
        return cls._create(
            cls.Known, id=user_id, email=email, first_name=first_name, last_name=last_name, language=language,
            active=active, email_index=email_index,
        )  # fmt: skip

    class Known(Aggregate.Created):
        email: str
        first_name: str
        last_name: str
        language: str
        active: bool
        email_index: UUID | None = None

    class Changed(Aggregate.Event):
        email: str
        first_name: str
        last_name: str
        language: str
        active: bool
        email_index: UUID | None = None

    @event(Changed)
    def change(
        self, email: str, first_name: str, last_name: str, language: str, active: bool, email_index: UUID | None = None
    ) -> None:
        self.email, self.first_name, self.last_name = email, first_name, last_name
        self.language, self.active = language, active
        if email_index is not None:  # a change recorded before the index was kept leaves it as it was
            self.email_index = email_index

    @property
    def name(self) -> str:
        # a name that is no longer there (its person's key destroyed, ADR 0035) is left out, never shown as "None"
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    @property
    def forgotten(self) -> bool:
        """Erased here, or their address unreadable: users destroyed their key (ADR 0035) before its
        ``UserErased`` arrived here. Either way no mail goes to them and nothing of users brings them back."""
        return self.erased or self.email is None

    def erase(self, at: datetime) -> None:
        """users erased the person: forget what mails knew of them (a second erasure changes nothing)."""
        if not self.erased:
            self._erased(at=at)

    class Erased(Aggregate.Event):
        at: datetime

    @event(Erased)
    def _erased(self, at: datetime) -> None:
        self.email = self.first_name = self.last_name = self.language = ""
        self.email_index = None
        self.active = False
        self.erased = True

    class SignedIn(Aggregate.Event):
        issuer: str
        subject: str

    @event(SignedIn)
    def sign_in(self, issuer: str, subject: str) -> None:
        self.signed_in = True


class RecipientEmail(Aggregate):
    """Which user an e-mail address belongs to: finds a user who has not signed in yet by the token's verified
    address (as users does at the first sign-in).

    Its id is a keyed hash of the address (a blind index, ADR 0035 decision 4), which the application computes
    under the service's secret (:data:`INDEX` and :meth:`key`): the id of a guessed address cannot be computed from
    the event store alone. An address claimed before kept its :meth:`legacy_id` (a ``uuid5`` of the address):
    read while the address has no blind index yet, and released when its claim moves to the blind index."""

    INDEX = "notifications/recipient-email"
    """the blind index's namespace"""

    @staticmethod
    def key(email: str) -> str:
        """The address as the index knows it: one address however it is spelt in case or surrounding blanks."""
        return email.strip().lower()

    @staticmethod
    def legacy_id(email: str) -> UUID:
        """The id an address's index had before the blind index (read only: never claimed again)."""
        return uuid5(_EMAILS, RecipientEmail.key(email))

    @classmethod
    def claim(cls, index_id: UUID, user_id: UUID) -> RecipientEmail:
        """The address whose blind index id is ``index_id`` belongs to ``user_id`` (the address itself is not
        stored)."""
        return cls._create(cls.Claimed, id=index_id, user_id=user_id)

    class Claimed(Aggregate.Created):
        user_id: UUID

    def __init__(self, user_id: UUID | None) -> None:
        self.user_id: UUID | None = user_id

    class Reassigned(Aggregate.Event):
        user_id: UUID | None

    @event(Reassigned)
    def reassign(self, user_id: UUID | None) -> None:
        self.user_id = user_id


class RecipientSubject(Aggregate):
    """Which user an identity provider's (issuer, subject) is bound to (users' ``UserSignInBound``)."""

    @staticmethod
    def create_id(issuer: str, subject: str) -> UUID:
        return uuid5(_SIGN_INS, f"{issuer}|{subject}")

    @classmethod
    def bind(cls, issuer: str, subject: str, user_id: UUID) -> RecipientSubject:
        return cls._create(cls.Bound, id=cls.create_id(issuer, subject), user_id=user_id)

    class Bound(Aggregate.Created):
        user_id: UUID

    def __init__(self, user_id: UUID) -> None:
        self.user_id = user_id
