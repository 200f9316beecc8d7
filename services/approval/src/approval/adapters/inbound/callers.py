"""Who is calling, for the routers added beside the orders' (reports, explanations): the token verified, the users
topics' fence waited for (ADR 0012), the member resolved from approval's own view of users."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from approval.application.orders import Orders
from approval.domain.members import Member
from kc_runtime.auth import Caller
from kc_runtime.fence import ReadFence


class Callers:
    """``caller``: the dependency that verifies the JWT; ``fence``: wait for the users topics before judging the
    caller, so a right taken away is in force once users answered."""

    def __init__(self, orders: Orders, caller: Any, fence: ReadFence | None = None) -> None:
        self.orders, self.caller, self.fence = orders, caller, fence

    async def fenced(self, request: Request) -> Caller:
        """The request's dependency: the verified caller, once the fence let them through."""
        who: Caller = await self.caller(request)
        if self.fence is not None:
            await self.fence.before((who.issuer, who.subject))
        return who

    def resolve(self, who: Caller) -> Member:
        """The member the token names (in the worker pool), remembered for the fence of their next request."""
        found = self.orders.caller(who)
        if self.fence is not None:
            self.fence.remember((who.issuer, who.subject), found.company_id)
        return found
