"""Who decides an order over budget: the company's approvers, any one of them — never the buyer; while an approver is
away, also their substitute (:func:`deciders`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING
from uuid import UUID

if TYPE_CHECKING:
    from approval.domain.absences import Absence


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


def deciders(
    approvers: Sequence[UUID], buyer_id: UUID, absences_in_force: Iterable[Absence]
) -> dict[UUID, UUID | None]:
    """Who may decide an order routed to ``approvers`` while ``absences_in_force`` are in force, and on whose
    behalf: each approver in their own right (None), and the substitute of each absent approver on that
    approver's behalf (the first absent approver in routing order, when one substitutes for several). The
    buyer is never among them: a substitute's own orders need someone else (four eyes). An absence offers the
    order to one more person; it takes nobody away: the absent approver still decides. Substitution does not
    chain: the substitute of an absent substitute is not offered the orders of the first absent approver."""
    out: dict[UUID, UUID | None] = {a: None for a in approvers if a != buyer_id}
    by_approver: dict[UUID, list[UUID]] = {}
    for absence in absences_in_force:
        by_approver.setdefault(absence.approver_id, []).append(absence.substitute_id)
    for approver in [a for a in out if out[a] is None]:
        for substitute in by_approver.get(approver, ()):
            if substitute != buyer_id and substitute not in out:
                out[substitute] = approver
    return out
