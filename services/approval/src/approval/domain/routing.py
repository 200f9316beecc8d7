"""Who decides an order over budget: the company's approvers, any one of them — never the buyer."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID


def route(buyer_id: UUID, approvers: Sequence[UUID], main_contact_id: UUID | None) -> tuple[UUID, ...]:
    """The company's approvers other than the buyer; with none, the main contact (unless they are the buyer).

    An empty answer means nobody can decide yet: the order is held until the company names an approver.
    """
    candidates = tuple(dict.fromkeys(a for a in approvers if a != buyer_id))
    if candidates:
        return candidates
    if main_contact_id is not None and main_contact_id != buyer_id:
        return (main_contact_id,)
    return ()
