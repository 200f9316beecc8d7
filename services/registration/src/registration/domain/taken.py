"""Registration's own index of the e-mail addresses that belong to a user of the customer center, kept from the
users service's users topic (a user created; an address changed).

A registration with such an address is refused before anything is created: after the ERP verified the
customer (so nobody learns from it whether an address has an account without knowing a customer and one of its
invoices), and again at the confirmation. The race where a user gets the address between that check and the
users service creating the company ends at users, which refuses the completion (``EmailTaken`` is then a
refused registration, never a dead letter).
"""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

_TAKEN = uuid5(NAMESPACE_URL, "urn:kundencenter:registration:taken-addresses")


def address_key(email: str) -> str:
    return email.strip().lower()


class TakenAddress(Aggregate):
    """Who holds an e-mail address (case-insensitive); ``user_id`` None: free again."""

    @staticmethod
    def create_id(email: str) -> UUID:
        return uuid5(_TAKEN, address_key(email))

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
