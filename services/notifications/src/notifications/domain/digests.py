"""The daily digest: the mails a user chose to receive once a day, collected and sent as one mail (ADR 0027).

One Digest per user and *digest day*. A digest day ``D`` is sent at ``hour`` o'clock on ``D`` in the shop's time
zone (Europe/Berlin by default): a mail deferred before that hour joins the same day's digest, one deferred at or
after it joins the next day's. Its id derives from the user and the day, so two deferrals on the same day find the
same digest, and the store's version check makes racing writers retry rather than overwrite each other.

Sending is claimed first (an event saved under the version check: of two senders only one wins), then the mail
goes out with a Message-ID derived from the digest, then it is recorded sent. A sender that dies after its claim
leaves the digest claimed and unsent: the next sweep claims it again and sends it with the same Message-ID. A
digest that is claimed or sent takes no more mails: they go to the next day's.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

_NS = uuid5(NAMESPACE_URL, "urn:kundencenter:notifications:digest")


def digest_day(now: datetime, hour: int, zone: tzinfo) -> date:
    """The day of the next digest to be sent after ``now``: today's before ``hour`` local time, else tomorrow's."""
    local = now.astimezone(zone)
    return local.date() if local.hour < hour else local.date() + timedelta(days=1)


def due_at(day: date, hour: int, zone: tzinfo) -> datetime:
    """When ``day``'s digest is due, in UTC. An hour the clocks skip (spring) is read with the offset before the
    change (``fold=0``), i.e. one hour later in wall time; an hour they repeat (autumn) is its first occurrence."""
    return datetime.combine(day, time(hour), tzinfo=zone).astimezone(UTC)


class DigestStatus(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    SENT = "sent"
    FAILED = "failed"
    """refused for good by the mail server: not sent again"""


class DigestClosed(Exception):
    """The digest is being sent or was sent: a mail deferred now goes to the next day's."""


class Digest(Aggregate):
    @staticmethod
    def create_id(user_id: UUID, day: date) -> UUID:
        return uuid5(_NS, f"{user_id}/{day.isoformat()}")

    @classmethod
    def open(cls, user_id: UUID, day: date, due: datetime) -> Digest:
        return cls._create(cls.Opened, id=cls.create_id(user_id, day), user_id=user_id, day=day.isoformat(), due_at=due)

    class Opened(Aggregate.Created):
        user_id: UUID
        day: str
        due_at: datetime

    def __init__(self, user_id: UUID, day: str, due_at: datetime) -> None:
        self.user_id = user_id
        self.day = day
        self.due_at = due_at
        self.mail_ids: list[UUID] = []
        self.status = DigestStatus.OPEN
        self.attempts = 0
        self.sent_to: str | None = None
        self.sent_at: datetime | None = None

    @property
    def message_id(self) -> str:
        """Stable Message-ID: a digest sent again after a crash is recognisable as the same mail."""
        return f"<digest-{self.id}@kundencenter.invalid>"

    def add(self, mail_id: UUID) -> None:
        if mail_id in self.mail_ids:
            return
        if self.status is not DigestStatus.OPEN:
            raise DigestClosed(str(self.id))
        self._added(mail_id=mail_id)

    class MailAdded(Aggregate.Event):
        mail_id: UUID

    @event(MailAdded)
    def _added(self, mail_id: UUID) -> None:
        self.mail_ids = [*self.mail_ids, mail_id]

    def claim(self, at: datetime) -> None:
        """Begin (or, after a sender died, begin again) sending; refused once sent or failed for good."""
        if self.status in (DigestStatus.SENT, DigestStatus.FAILED):
            raise DigestClosed(str(self.id))
        self._claimed(attempt=self.attempts + 1, at=at)

    class Claimed(Aggregate.Event):
        attempt: int
        at: datetime

    @event(Claimed)
    def _claimed(self, attempt: int, at: datetime) -> None:
        self.status = DigestStatus.CLAIMED
        self.attempts = attempt

    def mark_sent(self, to: str, subject: str, at: datetime) -> None:
        if self.status is DigestStatus.SENT:
            return
        self._sent(to=to, subject=subject, at=at, user_id=self.user_id)

    class Sent(Aggregate.Event):
        to: str
        subject: str
        at: datetime
        user_id: UUID | None = None
        """whose address ``to`` is (None for digests sent before it was recorded): the person whose key seals it
        (ADR 0035)"""

    @event(Sent)
    def _sent(self, to: str, subject: str, at: datetime, user_id: UUID | None = None) -> None:
        self.status = DigestStatus.SENT
        self.sent_to = to
        self.sent_at = at

    def mark_failed(self, reason: str, at: datetime) -> None:
        if self.status is not DigestStatus.SENT:
            self._failed(reason=reason[:1000], at=at)

    class Failed(Aggregate.Event):
        reason: str
        at: datetime

    @event(Failed)
    def _failed(self, reason: str, at: datetime) -> None:
        self.status = DigestStatus.FAILED
