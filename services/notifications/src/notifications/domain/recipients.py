"""Who the mails go to: the users service's users, as far as mails need them (address, language, name)."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event


class Recipient(Aggregate):
    """A user of a customer company. Its id is the user's id."""

    def __init__(self, email: str, first_name: str, last_name: str, language: str, active: bool) -> None:
        self.email = email
        self.first_name = first_name
        self.last_name = last_name
        self.language = language
        self.active = active

    @classmethod
    def known(
        cls, user_id: UUID, email: str, first_name: str, last_name: str, language: str, active: bool
    ) -> Recipient:
        return cls._create(
            cls.Known, id=user_id, email=email, first_name=first_name, last_name=last_name, language=language,
            active=active,
        )  # fmt: skip

    class Known(Aggregate.Created):
        email: str
        first_name: str
        last_name: str
        language: str
        active: bool

    class Changed(Aggregate.Event):
        email: str
        first_name: str
        last_name: str
        language: str
        active: bool

    @event(Changed)
    def change(self, email: str, first_name: str, last_name: str, language: str, active: bool) -> None:
        self.email, self.first_name, self.last_name = email, first_name, last_name
        self.language, self.active = language, active

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()
