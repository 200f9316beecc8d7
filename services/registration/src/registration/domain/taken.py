"""Registration's own index of the e-mail addresses that belong to a user of the customer center, kept from the
users service's users topic (a user created; an address changed).

A registration with such an address is refused before anything is created: after the ERP verified the
customer (so nobody learns from it whether an address has an account without knowing a customer and one of its
invoices), and again at the confirmation. The race where a user gets the address between that check and the
users service creating the company ends at users, which refuses the completion (``EmailTaken`` is then a
refused registration, never a dead letter).

A user erased (``UserErased``, ADR 0035) frees their address and is remembered as erased (an
:class:`AddressHolder` tombstone): no later or replayed event of users makes the address theirs again.
"""

from __future__ import annotations

from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

_TAKEN = uuid5(NAMESPACE_URL, "urn:kundencenter:registration:taken-addresses")
_HOLDERS = uuid5(NAMESPACE_URL, "urn:kundencenter:registration:address-holders")


def address_key(email: str) -> str:
    return email.strip().lower()


class TakenAddress(Aggregate):
    """Who holds an e-mail address (case-insensitive); ``user_id`` None: free again.

    Its id is a keyed hash of the address (a blind index, ADR 0035 decision 4), which the application computes
    under the service's secret (:data:`INDEX` and :func:`address_key`): the id of a guessed address cannot be
    computed from the event store alone, and an index taken by :meth:`claim` keeps no address. An address taken
    before kept its :meth:`create_id` (a ``uuid5`` of the address, with the address in its ``Taken`` event): read
    while the address has no blind index yet, and released when it is taken there."""

    INDEX = "registration/taken-address"
    """the blind index's namespace"""

    @staticmethod
    def create_id(email: str) -> UUID:
        """The legacy id (before the blind index), of an index made by the constructor (read only: never taken
        again)."""
        return uuid5(_TAKEN, address_key(email))

    @classmethod
    def claim(cls, index_id: UUID, user_id: UUID) -> TakenAddress:
        """The address whose blind index id is ``index_id`` belongs to ``user_id`` (the address itself is not
        stored)."""
        return cls._create(cls.Taken, id=index_id, email="", user_id=user_id)

    class Taken(Aggregate.Created):
        email: str
        user_id: UUID

    @event(Taken)
    def __init__(self, email: str, user_id: UUID) -> None:
        self.email = address_key(email)
        self.user_id: UUID | None = user_id

    @property
    def taken(self) -> bool:
        return self.user_id is not None

    def take(self, user_id: UUID) -> None:
        if self.user_id != user_id:
            self._taken(user_id=user_id)

    class TakenAgain(Aggregate.Event):
        user_id: UUID

    @event(TakenAgain)
    def _taken(self, user_id: UUID) -> None:
        self.user_id = user_id

    def release(self, user_id: UUID) -> None:
        if self.user_id == user_id:
            self._released()

    class Released(Aggregate.Event):
        pass

    @event(Released)
    def _released(self) -> None:
        self.user_id = None

    def erase(self, user_id: UUID, at: datetime) -> None:
        """Its holder was erased (ADR 0035): the address is free again and no longer kept in the state. Nothing
        when another user holds it meanwhile."""
        if self.user_id == user_id:
            self._holder_erased(at=at)

    class HolderErased(Aggregate.Event):
        at: datetime

    @event(HolderErased)
    def _holder_erased(self, at: datetime) -> None:
        self.user_id = None
        self.email = ""


class AddressHolder(Aggregate):
    """A user as registration knows them: which taken address is theirs — by the address's index id, never the
    address itself — and whether users erased them. Once erased it is a tombstone: kept, with no address, so that
    a late or replayed event of users for that person changes nothing."""

    @staticmethod
    def create_id(user_id: UUID) -> UUID:
        return uuid5(_HOLDERS, str(user_id))

    @classmethod
    def known(cls, user_id: UUID, address_id: UUID | None) -> AddressHolder:
        return cls._create(cls.Known, id=cls.create_id(user_id), user_id=user_id, address_id=address_id)

    class Known(Aggregate.Created):
        user_id: UUID
        address_id: UUID | None

    def __init__(self, user_id: UUID, address_id: UUID | None) -> None:
        self.user_id = user_id
        self.address_id = address_id
        self.erased = False

    def hold(self, address_id: UUID) -> None:
        """The user holds the address of index id ``address_id`` now (an erased holder holds nothing)."""
        if not self.erased and self.address_id != address_id:
            self._moved(address_id=address_id)

    class Moved(Aggregate.Event):
        address_id: UUID

    @event(Moved)
    def _moved(self, address_id: UUID) -> None:
        self.address_id = address_id

    def erase(self, at: datetime) -> None:
        """users erased the person: forget which address was theirs (a second erasure records nothing)."""
        if not self.erased:
            self._erased(at=at)

    class Erased(Aggregate.Event):
        at: datetime

    @event(Erased)
    def _erased(self, at: datetime) -> None:
        self.address_id = None
        self.erased = True
