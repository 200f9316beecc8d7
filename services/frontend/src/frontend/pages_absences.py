"""Abwesenheiten (ADR 0020): the absences the caller may see, recording one (who is away, who decides meanwhile,
from when until when) and withdrawing one. The API decides who may do what; the page only hides what the caller
cannot do."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from frontend.api import ApiProblem
from frontend.i18n import TIMEZONE
from frontend.web import Page, Web, user_label

APPROVE_ORDERS = "approve_orders"
MANAGE_USERS = "manage_users"
WITHDRAWABLE = ("upcoming", "in_force")
LOCAL_MINUTE = "%Y-%m-%dT%H:%M"  # the value of an <input type="datetime-local">
DEFAULT_LENGTH = timedelta(days=7)
USERS_MAX = 200
YEARS = (2000, 2999)  # the users API's page limit


def local_moment(value: Any) -> datetime | None:
    """A ``datetime-local`` value (wall time in Europe/Berlin) as an aware moment; None if it is not one.

    A time the clocks skip in spring or repeat in autumn is read with the offset before the change (``fold=0``); a
    year outside 2000–2999 is not taken."""
    text = str(value or "").strip()
    if not text or len(text) > 32:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if not YEARS[0] <= moment.year <= YEARS[1]:  # far from now the zone's offset is local mean time, not ISO's
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=TIMEZONE)


def may_manage(page: Page) -> bool:
    """The main contact and who manages users record and withdraw anyone's absence (``Page.can`` counts the main
    contact in)."""
    return page.can(MANAGE_USERS)


def may_approve(page: Page) -> bool:
    return page.can(APPROVE_ORDERS) or bool(page.me.get("is_approver"))


def router(web: Web) -> APIRouter:
    r = APIRouter()
    u = web.url

    async def candidates(page: Page) -> list[dict[str, str]]:
        """The company's active users who may approve, as ``{"id", "name"}``: who may be named absent or substitute.
        Who manages users sees the whole list; anyone else sees the named approvers and the main contact (the users
        list is not theirs to read)."""
        if may_manage(page):
            company = page.me.get("company", {})
            approvers = set(company.get("approver_ids") or [])
            users = await web.call(page, "GET", "/api/users", params={"status": "active", "limit": USERS_MAX})
            chosen = [
                x for x in users.get("items") or []
                if APPROVE_ORDERS in (x.get("permissions") or []) or x.get("is_main_contact") or x["id"] in approvers
            ]  # fmt: skip
        else:
            named = await web.call(page, "GET", "/api/company/approvers")
            chosen = [*(named.get("approvers") or []), *([named["main_contact"]] if named.get("main_contact") else [])]
        seen: dict[str, dict[str, str]] = {}
        for x in chosen:
            if x.get("status", "active") == "active" and not x.get("erased") and x["id"] not in seen:
                seen[x["id"]] = {"id": x["id"], "name": user_label(x, page.t)}
        return sorted(seen.values(), key=lambda p: p["name"].casefold())

    def blank(page: Page) -> dict[str, str]:
        now = datetime.now(TIMEZONE).replace(second=0, microsecond=0)
        return {"approver_id": page.me.get("user", {}).get("id", ""), "substitute_id": "",
                "from": now.strftime(LOCAL_MINUTE), "until": (now + DEFAULT_LENGTH).strftime(LOCAL_MINUTE)}  # fmt: skip

    async def show(
        page: Page,
        include_past: bool,
        status: int = 200,
        error: str | None = None,
        values: dict[str, str] | None = None,
        errors: dict[str, str] | None = None,
    ) -> Response:
        listed = await web.call(page, "GET", "/api/absences", params={"include_past": "true" if include_past else None})
        me_id = page.me.get("user", {}).get("id")
        people = await candidates(page) if may_approve(page) or may_manage(page) else []
        others = people if may_manage(page) else [p for p in people if p["id"] != me_id]
        return web.render(
            page,
            "absences.html.j2",
            status=status,
            error=error,
            absences=listed.get("items") or [],
            include_past=include_past,
            manages=may_manage(page),
            may_record=may_manage(page) or may_approve(page),
            people=people,
            substitutes=others,
            withdrawable=WITHDRAWABLE,
            me_id=me_id,
            values=values or blank(page),
            errors=errors or {},
        )

    @r.get(u("/absences"))
    async def absences(request: Request, include_past: bool = False) -> Response:
        return await show(await web.signed_in(request), include_past)

    @r.post(u("/absences"))
    async def record(request: Request) -> Response:
        page = await web.signed_in(request)
        form = await web.form(page)
        values = {k: str(form.get(k) or "").strip() for k in ("approver_id", "substitute_id", "from", "until")}
        errors: dict[str, str] = {}
        substitute = _uuid(values["substitute_id"])
        if substitute is None:
            errors["substitute_id"] = page.t("common.required")
        approver = _uuid(values["approver_id"]) if values["approver_id"] else None
        if values["approver_id"] and approver is None:
            errors["approver_id"] = page.t("error.invalid_request")
        starts, ends = local_moment(values["from"]), local_moment(values["until"])
        for name, moment in (("from", starts), ("until", ends)):
            if moment is None:
                errors[name] = page.t("common.required") if not values[name] else page.t("absences.not_a_time")
        if starts is not None and ends is not None and ends <= starts:
            errors["until"] = page.t("error.invalid_period")
        if errors or starts is None or ends is None:
            return await show(page, False, 422, page.t("error.validation_failed"), values, errors)
        body: dict[str, Any] = {"substitute_id": str(substitute), "from": starts.isoformat(), "until": ends.isoformat()}
        if approver is not None:  # else the caller's own absence (the API's default); whose it may be, the API says
            body["approver_id"] = str(approver)
        try:
            await web.call(page, "POST", "/api/absences", json=body)
        except ApiProblem as problem:
            return await show(page, False, _shown(problem), page.t.error(problem.code, problem.message), values)
        return web.redirect(page, "/absences", flash=("info", "absences.recorded"))

    @r.post(u("/absences/{absence_id}/withdraw"))
    async def withdraw(request: Request, absence_id: UUID) -> Response:
        page = await web.signed_in(request)
        await web.form(page)
        try:
            await web.call(page, "DELETE", f"/api/absences/{absence_id}")
        except ApiProblem as problem:
            return await show(page, False, _shown(problem), page.t.error(problem.code, problem.message))
        return web.redirect(page, "/absences", flash=("info", "absences.withdrawn"))

    return r


def _uuid(value: Any) -> UUID | None:
    try:
        return UUID(str(value))
    except ValueError:
        return None


def _shown(problem: ApiProblem) -> int:
    """The status of a page that shows a refusal again: the API's for a 4xx; 503 when a service was away."""
    return problem.status if problem.status < 500 else 503
