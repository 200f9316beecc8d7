"""Fristen (ADR 0033): the company's deadlines for orders waiting for approval — remind the approvers after so many
hours, escalate after so many hours, expire after so many days — set by the main contact. The API decides who may
and whether the deadlines are sound (later steps later, within its bounds); the page converts what is typed into
durations and shows the API's refusals in words."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import TypeAdapter

from frontend.api import ApiProblem
from frontend.web import Page, Web

API = "/api/approvals/deadlines"
FIELDS = {"remind_after": 3600, "escalate_after": 3600, "expire_after": 86400}
"""Each field and the seconds of its unit: hours for the reminder and the escalation, days for the expiry."""
_DURATION = TypeAdapter(timedelta)


def seconds(text: str, unit: int) -> int | None:
    """A number of units as typed (``4``, ``1,5``, ``0.5``) in seconds; None when it is not a positive number."""
    try:
        value = Decimal(text.strip().replace(",", "."))
    except InvalidOperation:
        return None
    if not value.is_finite() or value <= 0:
        return None
    return int(value * unit)


def shown(duration: str | None, unit: int) -> str:
    """A duration from the API in the field's unit (``PT4H`` → ``4``; ``PT1S`` in hours → ``0.0003``)."""
    if not duration:
        return ""
    value = Decimal(int(_DURATION.validate_python(duration).total_seconds())) / unit
    return f"{value.normalize():f}" if value == value.quantize(Decimal("0.0001")) else f"{value:.4f}"


def router(web: Web) -> APIRouter:
    r = APIRouter()
    u = web.url

    async def show(
        page: Page, status: int = 200, error: str | None = None, typed: dict[str, str] | None = None
    ) -> Response:
        current = await web.call(page, "GET", API)
        values = typed if typed is not None else {f: shown(current.get(f), unit) for f, unit in FIELDS.items()}
        return web.render(page, "deadlines.html.j2", status=status, error=error, values=values, kept=current)

    @r.get(u("/deadlines"))
    async def deadlines(request: Request) -> Response:
        return await show(await web.signed_in(request))

    @r.post(u("/deadlines"))
    async def save(request: Request) -> Response:
        page = await web.signed_in(request)
        form = await web.form(page)
        typed = {f: str(form.get(f) or "").strip() for f in FIELDS}
        body: dict[str, Any] = {}
        for field, unit in FIELDS.items():
            if not typed[field]:
                body[field] = None  # this step is not taken
                continue
            s = seconds(typed[field], unit)
            if s is None:
                return await show(page, 422, page.t("deadlines.error.number"), typed)
            body[field] = f"PT{s}S"
        try:
            await web.call(page, "PUT", API, json=body)
        except ApiProblem as problem:
            status = problem.status if problem.status < 500 else 503
            return await show(page, status, page.t.error(problem.code, problem.message), typed)
        return web.redirect(page, "/deadlines", flash=("info", "deadlines.saved"))

    return r
