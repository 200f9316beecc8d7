"""Benachrichtigungen (ADR 0027): the signed-in person's own choice, per kind of mail, between at once, the daily
digest and none. The API decides what may be chosen (each kind's ``allowed``) and refuses the rest; the page only
offers what the API allows and shows its refusals in words."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from frontend.api import ApiProblem
from frontend.web import Page, Web

API = "/api/me/notification-preferences"
FIELD = "kind."
"""The form's field of a kind: ``kind.<name>`` = its delivery."""


def router(web: Web) -> APIRouter:
    r = APIRouter()
    u = web.url

    async def show(
        page: Page, status: int = 200, error: str | None = None, chosen: dict[str, str] | None = None
    ) -> Response:
        current = await web.call(page, "GET", API)
        kinds: list[dict[str, Any]] = current.get("preferences") or []
        if chosen:  # what the person had chosen when the API refused it, shown again
            kinds = [{**k, "delivery": chosen.get(k["kind"], k["delivery"])} for k in kinds]
        return web.render(
            page,
            "notification_preferences.html.j2",
            status=status,
            error=error,
            kinds=kinds,
            digest=current.get("digest") or {},
            changed_at=current.get("changed_at"),
        )

    @r.get(u("/notification-preferences"))
    async def preferences(request: Request) -> Response:
        return await show(await web.signed_in(request))

    @r.post(u("/notification-preferences"))
    async def choose(request: Request) -> Response:
        page = await web.signed_in(request)
        form = await web.form(page)
        chosen = {
            key[len(FIELD) :]: value
            for key, value in form.items()
            if key.startswith(FIELD) and isinstance(value, str) and value
        }
        if not chosen:
            return await show(page, 422, page.t("error.validation_failed"))
        try:
            await web.call(page, "PUT", API, json={"preferences": chosen})
        except ApiProblem as problem:
            status = problem.status if problem.status < 500 else 503
            return await show(page, status, page.t.error(problem.code, problem.message), chosen)
        return web.redirect(page, "/notification-preferences", flash=("info", "notify.saved"))

    return r
