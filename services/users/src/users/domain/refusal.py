"""A completed registration users refused: its main contact's address belongs to a user already.

Registration checks the addresses users hold before it completes (from the users topic), but a user may get the
address between that check and the completion reaching users. Then nothing is created — nobody is signed in to a
company through an address somebody else holds — and the refusal is recorded (and published) instead of the
completion being dead-lettered, so registration can tell the applicant. Its id derives from the registration id:
a redelivered completion is refused once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

_REFUSALS = uuid5(NAMESPACE_URL, "urn:kundencenter:users:registration-refusals")


RefusalReason = Literal["email_taken"]
"""Why a verified registration could not become a company (its main contact's address belongs to a user)."""


class RegistrationRefusal(Aggregate):
    @staticmethod
    def create_id(registration_id: UUID) -> UUID:
        return uuid5(_REFUSALS, str(registration_id))

    class Refused(Aggregate.Created):
        registration_id: UUID
        company_id: UUID
        customer_number: str
        reason: RefusalReason
        refused_at: datetime

    @event(Refused)
    def __init__(
        self, registration_id: UUID, company_id: UUID, customer_number: str, reason: RefusalReason, refused_at: datetime
    ) -> None:
        self.registration_id = registration_id
        self.company_id = company_id
        self.customer_number = customer_number
        self.reason = reason
        self.refused_at = refused_at
