"""HTTP routes of the one-click decisions from the approval-request mail (issue 17 item 4, ADR 0031). Public at the
gateway (the link's token is the credential, its POSTs rate-limited per address); the token travels in the body,
never in a path or query string that access logs keep.

``POST /api/decision-links/preview`` changes nothing: the page the mail links to shows the order with it and asks
for the confirmation; ``POST /api/decision-links/decide`` decides.
"""

# No `from __future__ import annotations` here: FastAPI resolves the dependencies declared in closures.

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field, StringConstraints

from approval.adapters.inbound.http import Comment, OrderOut, PersonOut, present_order
from approval.application.decision_links import DecisionLinks
from approval.application.orders import Orders
from kc_runtime.decision_links import DecisionLink, LinkExpired, LinkInvalid
from kc_runtime.errors import ApiError
from kc_runtime.eventstore import WorkerPool
from kc_runtime.fence import ReadFence
from kc_runtime.models import Strict

Token = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
_ERRORS: dict[int | str, dict] = {
    400: {"description": "`invalid_decision_link`: not a link of the customer center", "content": _ERROR},
    410: {"description": "`decision_link_expired`: open the order in the shop to decide it", "content": _ERROR},
    409: {
        "description": "`decision_link_outdated`: the order changed or was decided since the mail (its status in "
        "`details`); `wrong_state`, `price_changed` as for a decision in the shop",
        "content": _ERROR,
    },
    403: {"description": "`not_allowed`, `user_inactive`: the approver may not decide this order (any more)"},
}


class LinkIn(Strict):
    token: Token = Field(description="The token of the mail's link (its `token` query parameter)")


class DecideIn(Strict):
    token: Token = Field(description="The token of the mail's link (its `token` query parameter)")
    comment: Comment | None = Field(default=None, description="Required for a rejection: the buyer reads it")


class DecisionLinkOut(BaseModel):
    action: Literal["approve", "reject"] = Field(description="What the link decides")
    expires_at: datetime
    approver: PersonOut = Field(description="Who decides through the link (the mail's recipient)")
    order: OrderOut


def decision_links_router(
    orders: Orders, links: DecisionLinks, blocking: WorkerPool, fence: ReadFence | None
) -> APIRouter:
    router = APIRouter(prefix="/api/decision-links", tags=["orders"])

    async def ready(token: str) -> DecisionLink:
        """The link (checked), once approval read the users topics up to now for its approver's company."""
        try:
            link = links.link(token)
        except LinkInvalid as exc:
            raise ApiError(400, LinkInvalid.code, str(exc)) from exc
        except LinkExpired as exc:
            raise ApiError(410, LinkExpired.code, str(exc)) from exc
        if fence is not None:  # a deactivation or a right taken away that users answered counts (ADR 0012)
            known = await blocking.run(links.known_approver, link)
            await fence.wait(known.company_id if known is not None else None)
        return link

    @router.post(
        "/preview",
        response_model=DecisionLinkOut,
        summary="What a mail's decision link would decide (changes nothing)",
        description="The order as the approver sees it, while it is as the mail showed it.",
        responses=_ERRORS,
    )
    async def preview(body: LinkIn) -> DecisionLinkOut:
        link = await ready(body.token)

        def run() -> DecisionLinkOut:
            with orders.one_read():
                member, order = links.preview(link)
                return DecisionLinkOut(
                    action=link.action, expires_at=link.expires_at,
                    approver=PersonOut(id=member.id, name=member.name), order=present_order(orders, order),
                )  # fmt: skip

        return await blocking.run(run)

    @router.post(
        "/decide",
        response_model=OrderOut,
        summary="Decide as a mail's decision link says (approve, or reject with a comment)",
        description="Exactly the checks of the approver's own decision in the shop; once used, or once the order "
        "changed, the link answers 409 `decision_link_outdated`.",
        responses=_ERRORS,
    )
    async def decide(body: DecideIn) -> OrderOut:
        link = await ready(body.token)

        def run() -> OrderOut:
            with orders.one_read():
                return present_order(orders, links.use(link, body.comment))

        return await blocking.run(run)

    return router
