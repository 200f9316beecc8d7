"""What a user wants of each kind of mail: at once, in a daily digest, or not at all (ADR 0027).

The kinds a user can choose for are a fixed catalogue of the mails that go to users of a customer company. A mail
that needs action from its reader (an order waiting for their decision) can be put into the digest but never
switched off. Mails to an address rather than a user (the registration's double opt-in and welcome, the
confirmation of a new e-mail address) are not in the catalogue: they are always sent at once — they carry a link
to act on, and the first two go out before there is a user who could have chosen anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

_NS = uuid5(NAMESPACE_URL, "urn:kundencenter:notifications:preferences")


class Delivery(StrEnum):
    IMMEDIATELY = "immediately"
    DIGEST = "digest"
    NONE = "none"


DEFAULT = Delivery.IMMEDIATELY


@dataclass(frozen=True)
class MailKind:
    """One kind of mail a user can choose for; ``action_needed``: it asks the reader to do something."""

    name: str
    action_needed: bool

    @property
    def allowed(self) -> tuple[Delivery, ...]:
        if self.action_needed:
            return (Delivery.IMMEDIATELY, Delivery.DIGEST)
        return (Delivery.IMMEDIATELY, Delivery.DIGEST, Delivery.NONE)


CATALOGUE: dict[str, MailKind] = {
    k.name: k
    for k in (
        MailKind("approval_requested", action_needed=True),  # an order over budget waits for their decision
        MailKind("substitute_offer", action_needed=True),  # the same, to the substitute of an absent approver
        MailKind("approval_reassigned", action_needed=True),  # a waiting order was routed to them
        MailKind("order_approved", action_needed=False),  # to the buyer: approved (perhaps modified), sent on
        MailKind("order_rejected", action_needed=False),  # to the buyer: rejected, with the comment
        MailKind("order_expired", action_needed=False),  # to the buyer: nobody decided before the deadline (ADR 0033)
        MailKind("order_released_on_re_evaluation", action_needed=False),  # to the buyer: released on today's budget
        MailKind("order_credit_hold", action_needed=False),  # to the buyer: released, waiting for the company's credit
        # to the main contact: an order waits for the credit, with the figures — only they can cancel it or settle it
        MailKind("order_credit_hold_figures", action_needed=True),
    )
}


def preference_kind(mail_kind: str, data: Mapping[str, Any]) -> str:
    """The catalogue's kind of a queued mail: an approval request to a substitute is a substitute's offer."""
    if mail_kind == "approval_requested" and data.get("on_behalf_of"):
        return "substitute_offer"
    return mail_kind


class PreferenceError(Exception):
    code = "invalid_preferences"

    def __init__(self, message: str, details: list[Any] | None = None) -> None:
        super().__init__(message)
        self.details = details


class UnknownKind(PreferenceError):
    code = "unknown_kind"


class ActionMailCannotBeOff(PreferenceError):
    code = "action_mail_cannot_be_off"


def check_choices(choices: Mapping[str, str]) -> dict[str, Delivery]:
    """The choices as deliveries; an unknown kind or delivery, or ``none`` for a mail that needs action, is refused
    (every problem named in ``details``)."""
    unknown = sorted(k for k in choices if k not in CATALOGUE)
    if unknown:
        raise UnknownKind(
            "There is no such kind of mail: " + ", ".join(unknown) + ".",
            [{"field": f"preferences.{k}", "problem": "unknown kind of mail"} for k in unknown],
        )
    checked: dict[str, Delivery] = {}
    for kind, value in choices.items():
        try:
            checked[kind] = Delivery(value)
        except ValueError:
            raise PreferenceError(
                f"{value!r} is no delivery; choose one of immediately, digest, none.",
                [{"field": f"preferences.{kind}", "problem": "unknown delivery"}],
            ) from None
    off = sorted(k for k, v in checked.items() if v is Delivery.NONE and CATALOGUE[k].action_needed)
    if off:
        raise ActionMailCannotBeOff(
            "Mails that need action from you can come at once or in the daily digest, but not never: "
            + ", ".join(off)
            + ".",
            [{"field": f"preferences.{k}", "problem": "needs action: immediately or digest"} for k in off],
        )
    return checked


class Preferences(Aggregate):
    """One user's choices (absent kinds: at once). Every change records who made it and when."""

    @staticmethod
    def create_id(user_id: UUID) -> UUID:
        return uuid5(_NS, str(user_id))

    @classmethod
    def start(cls, user_id: UUID) -> Preferences:
        return cls._create(cls.Started, id=cls.create_id(user_id), user_id=user_id)

    class Started(Aggregate.Created):
        user_id: UUID

    def __init__(self, user_id: UUID) -> None:
        self.user_id = user_id
        self.choices: dict[str, str] = {}
        self.changed_by: UUID | None = None
        self.changed_at: datetime | None = None

    def delivery(self, kind: str) -> Delivery:
        return Delivery(self.choices.get(kind, DEFAULT))

    def choose(self, choices: Mapping[str, str], by: UUID, at: datetime) -> bool:
        """Set the kinds named in ``choices`` (the others stay); False when nothing changed (no event)."""
        checked = check_choices(choices)
        changed = {k: v.value for k, v in checked.items() if self.delivery(k) is not v}
        if not changed:
            return False
        self._chose(choices=changed, by=by, at=at)
        return True

    class Chose(Aggregate.Event):
        choices: dict[str, str]
        by: UUID
        at: datetime

    @event(Chose)
    def _chose(self, choices: dict[str, str], by: UUID, at: datetime) -> None:
        self.choices = {**self.choices, **choices}
        self.changed_by = by
        self.changed_at = at
