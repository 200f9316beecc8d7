"""The page a one-click link of the approval-request mail opens (issue 17 item 4, ADR 0031): no sign-in, the link's
token is the credential. Opening it changes nothing (mail scanners follow links): it shows the order and asks for
the confirmation; only the confirming POST decides."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from frontend.api import ApiProblem
from frontend.web import Web

TOKEN_MAX = 2000


def router(web: Web) -> APIRouter:
    r = APIRouter()
    u = web.url

    @r.get(u("/decision"))
    async def decision_form(request: Request, token: str | None = None) -> Response:
        page = web.page(request)
        if not token or len(token) > TOKEN_MAX:
            return web.render(page, "decision.html.j2", status=400, bad_link=True)
        try:
            link = await web.api.call("POST", "/api/decision-links/preview", json={"token": token})
        except ApiProblem as problem:
            return _refused(web, page, problem)
        return web.render(page, "decision.html.j2", link=link, order=link["order"], token=token)

    @r.post(u("/decision"))
    async def decide(request: Request) -> Response:
        page = web.page(request)
        form = await web.form(page)
        token = str(form.get("token") or "")
        comment = str(form.get("comment") or "").strip() or None
        if not token or len(token) > TOKEN_MAX:
            return web.render(page, "decision.html.j2", status=400, bad_link=True)
        try:
            order = await web.api.call("POST", "/api/decision-links/decide", json={"token": token, "comment": comment})
        except ApiProblem as problem:
            if problem.code in ("invalid_order", "invalid_request"):  # a rejection without a comment: ask again
                link = await web.api.call("POST", "/api/decision-links/preview", json={"token": token})
                return web.render(page, "decision.html.j2", status=422, link=link, order=link["order"], token=token,
                                  error=page.t.error(problem.code, problem.message))  # fmt: skip
            return _refused(web, page, problem)
        return web.render(page, "decision.html.j2", done=True, order=order)

    return r


def _refused(web: Web, page: Any, problem: ApiProblem) -> Response:
    status = problem.status if problem.status < 500 else 502
    details = problem.details if isinstance(problem.details, list) else []
    now = next((d.get("status") for d in details if isinstance(d, dict) and d.get("status")), None)
    return web.render(page, "decision.html.j2", status=status, refused=page.t.error(problem.code, problem.message),
                      code=problem.code, order_status=now)  # fmt: skip
