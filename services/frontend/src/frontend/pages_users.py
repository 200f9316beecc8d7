"""Benutzerverwaltung: the users list with filters, creating a user, a user's name, e-mail, access, budget,
roles and approver status, the ERP's contacts to take over, and the audit log."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from frontend.api import ApiProblem
from frontend.i18n import LANGUAGES
from frontend.web import Page, Web, user_label

PAGE_SIZE = 50


def _budget(form: dict[str, Any], currency: str) -> dict[str, Any] | None:
    """``max_quantity`` and ``max_value`` of a form as the API's budget (empty: unlimited); None if not numbers."""
    quantity, value = str(form.get("max_quantity") or "").strip(), str(form.get("max_value") or "").strip()
    budget: dict[str, Any] = {"max_total_quantity": None, "max_order_value": None}
    try:
        if quantity:
            budget["max_total_quantity"] = int(quantity)
        if value:
            amount = Decimal(value.replace(",", "."))
            if not amount.is_finite():
                return None
            budget["max_order_value"] = {"amount": str(amount), "currency": currency}
    except (ValueError, InvalidOperation):
        return None
    return budget


def _roles(form: dict[str, Any]) -> list[str]:
    value = form.get("role_ids", [])
    return [value] if isinstance(value, str) else list(value)


def router(web: Web) -> APIRouter:
    r = APIRouter()
    u = web.url

    async def roles_of(page: Page) -> list[dict[str, Any]]:
        return await web.call(page, "GET", "/api/roles")

    @r.get(u("/users"))
    async def users(request: Request, status: str | None = None, role: str | None = None, offset: int = 0) -> Response:
        page = await web.signed_in(request)
        status = status if status in ("active", "inactive") else None
        result = await web.call(page, "GET", "/api/users",
                                params={"status": status, "role": role or None, "limit": PAGE_SIZE,
                                        "offset": max(offset, 0)})  # fmt: skip
        roles = await roles_of(page)
        company = await web.call(page, "GET", "/api/company")
        contacts = await web.call(page, "GET", "/api/erp-contacts")
        return web.render(page, "users.html.j2", result=result, roles=roles, filter_status=status, role=role,
                          approver_ids=set(company.get("approver_ids") or []), company=company, contacts=contacts,
                          page_size=PAGE_SIZE)  # fmt: skip

    # --- create
    def blank() -> dict[str, Any]:
        return {"first_name": "", "last_name": "", "email": "", "language": "de", "role_ids": ["buyer"],
                "max_quantity": "", "max_value": ""}  # fmt: skip

    @r.get(u("/users/new"))
    async def new_user(request: Request) -> Response:
        page = await web.signed_in(request)
        return web.render(page, "user_new.html.j2", values=blank(), roles=await roles_of(page), errors={})

    @r.post(u("/users/new"))
    async def create_user(request: Request) -> Response:
        page = await web.signed_in(request)
        form = await web.form(page)
        values = {**blank(), **{k: v for k, v in form.items() if k != "role_ids"}, "role_ids": _roles(form)}
        currency = page.me.get("company", {}).get("currency", "EUR")
        errors = {k: page.t("common.required") for k in ("first_name", "last_name", "email") if not values[k].strip()}
        budget = _budget(values, currency)
        if budget is None:
            errors["max_value"] = page.t("error.invalid_budget")
        if errors:
            return web.render(page, "user_new.html.j2", status=422, values=values, roles=await roles_of(page),
                              errors=errors, error=page.t("error.validation_failed"))  # fmt: skip
        body = {"first_name": values["first_name"].strip(), "last_name": values["last_name"].strip(),
                "email": values["email"].strip(), "role_ids": values["role_ids"],
                "language": values["language"] if values["language"] in LANGUAGES else "de", "budget": budget}  # fmt: skip
        try:
            user = await web.call(page, "POST", "/api/users", json=body)
        except ApiProblem as problem:
            return web.render(page, "user_new.html.j2", status=_shown(problem), values=values, roles=await roles_of(page),
                              errors={}, error=page.t.error(problem.code, problem.message))  # fmt: skip
        return web.redirect(page, f"/users/{user['id']}", flash=("info", "users.created"))

    # --- one user
    async def show(page: Page, user_id: UUID, status: int = 200, error: str | None = None) -> Response:
        user = await web.call(page, "GET", f"/api/users/{user_id}")
        company = await web.call(page, "GET", "/api/company")
        return web.render(page, "user.html.j2", status=status, user=user, roles=await roles_of(page), error=error,
                          is_approver=str(user_id) in (company.get("approver_ids") or []), company=company,
                          may_erase=may_erase(page, user))  # fmt: skip

    @r.get(u("/users/{user_id}"))
    async def user_page(request: Request, user_id: UUID) -> Response:
        page = await web.signed_in(request)
        return await show(page, user_id)

    # --- erasure (ADR 0035): the main contact, a deactivated user, a confirmation first
    async def erasure_page(page: Page, user_id: UUID, status: int = 200, error: str | None = None) -> Response:
        user = await web.call(page, "GET", f"/api/users/{user_id}")
        return web.render(page, "user_erasure.html.j2", status=status, user=user, error=error)

    @r.get(u("/users/{user_id}/erasure"))
    async def erasure_form(request: Request, user_id: UUID) -> Response:
        page = await web.signed_in(request)
        return await erasure_page(page, user_id)

    @r.post(u("/users/{user_id}/erasure"))
    async def erase(request: Request, user_id: UUID) -> Response:
        page = await web.signed_in(request)
        form = await web.form(page)
        if form.get("confirm") != "yes":
            return await erasure_page(page, user_id, 422, page.t("users.erasure_unconfirmed"))
        try:
            await web.call(page, "POST", f"/api/users/{user_id}/erasure")
        except ApiProblem as problem:
            if problem.status == 404:
                raise
            return await erasure_page(page, user_id, _shown(problem), page.t.error(problem.code, problem.message))
        return web.redirect(page, f"/users/{user_id}", flash=("info", "users.erased"))

    @r.post(u("/users/{user_id}/{change}"))
    async def change_user(request: Request, user_id: UUID, change: str) -> Response:
        page = await web.signed_in(request)
        form = await web.form(page)
        flash = "users.saved"
        try:
            if change == "name":
                body = {"first_name": str(form.get("first_name", "")).strip(),
                        "last_name": str(form.get("last_name", "")).strip()}  # fmt: skip
                await web.call(page, "PUT", f"/api/users/{user_id}/name", json=body)
            elif change == "email":
                email = str(form.get("email", "")).strip()
                await web.call(page, "PUT", f"/api/users/{user_id}/email", json={"email": email})
                page.session.flash.append(("info", page.t("users.email_pending", email=email)))
                return web.redirect(page, f"/users/{user_id}")
            elif change in ("activate", "deactivate"):
                await web.call(page, "POST", f"/api/users/{user_id}/{change}")
                flash = f"users.{change}d"
            elif change == "budget":
                currency = page.me.get("company", {}).get("currency", "EUR")
                budget = _budget(form, currency)
                if budget is None:
                    return await show(page, user_id, 422, page.t("error.invalid_budget"))
                await web.call(page, "PUT", f"/api/users/{user_id}/budget", json=budget)
            elif change == "roles":
                await web.call(page, "PUT", f"/api/users/{user_id}/roles", json={"role_ids": _roles(form)})
            elif change == "approver":
                company = await web.call(page, "GET", "/api/company")
                ids = [i for i in company.get("approver_ids") or [] if i != str(user_id)]
                if form.get("approver") == "yes":
                    ids.append(str(user_id))
                await web.call(page, "PUT", "/api/company/approvers", json={"user_ids": ids})
            else:
                return await show(page, user_id, 404, page.t("error.not_found"))
        except ApiProblem as problem:
            if problem.status == 404:
                raise
            return await show(page, user_id, _shown(problem), page.t.error(problem.code, problem.message))
        return web.redirect(page, f"/users/{user_id}", flash=("info", flash))

    @r.post(u("/erp-contacts/{contact_id}/take-over"))
    async def take_over(request: Request, contact_id: str) -> Response:
        page = await web.signed_in(request)
        form = await web.form(page)
        if len(contact_id) > 200:
            return web.redirect(page, "/users")
        body = {"role_ids": _roles(form) or ["buyer"], "language": page.t.language}
        user = await web.call(page, "POST", f"/api/erp-contacts/{contact_id}/take-over", json=body)
        return web.redirect(page, f"/users/{user['id']}", flash=("info", "users.taken_over"))

    # --- roles: the predefined ones and the company's own
    async def roles_page(
        page: Page, status: int = 200, error: str | None = None, values: dict[str, Any] | None = None
    ) -> Response:
        catalogue = await web.call(page, "GET", "/api/roles/permissions")
        return web.render(page, "roles.html.j2", status=status, roles=await roles_of(page), error=error,
                          permissions=[p["id"] for p in catalogue], values=values or {"name": "", "description": "",
                                                                                      "permissions": []})  # fmt: skip

    @r.get(u("/roles"))
    async def roles(request: Request) -> Response:
        return await roles_page(await web.signed_in(request))

    @r.post(u("/roles"))
    async def define_role(request: Request) -> Response:
        page = await web.signed_in(request)
        form = await web.form(page)
        chosen = form.get("permissions", [])
        values = {"name": str(form.get("name", "")).strip(), "description": str(form.get("description", "")).strip(),
                  "permissions": [chosen] if isinstance(chosen, str) else list(chosen)}  # fmt: skip
        if not values["name"] or not values["permissions"]:
            return await roles_page(page, 422, page.t("error.validation_failed"), values)
        try:
            await web.call(page, "POST", "/api/roles", json=values)
        except ApiProblem as problem:
            return await roles_page(page, _shown(problem), page.t.error(problem.code, problem.message), values)
        return web.redirect(page, "/roles", flash=("info", "roles.defined"))

    @r.post(u("/roles/{role_id}/delete"))
    async def delete_role(request: Request, role_id: str) -> Response:
        page = await web.signed_in(request)
        await web.form(page)
        try:
            await web.call(page, "DELETE", f"/api/roles/{quote(role_id, safe='')}")
        except ApiProblem as problem:
            return await roles_page(page, _shown(problem), page.t.error(problem.code, problem.message))
        return web.redirect(page, "/roles", flash=("info", "roles.deleted"))

    @r.get(u("/audit"))
    async def audit(request: Request, before: int | None = None, subject: UUID | None = None) -> Response:
        page = await web.signed_in(request)
        result = await web.call(page, "GET", "/api/audit",
                                params={"before": before, "subject_id": str(subject) if subject else None, "limit": 50})  # fmt: skip
        people = await web.call(page, "GET", "/api/users", params={"limit": 200})
        names = {p["id"]: user_label(p, page.t) for p in people["items"]}
        return web.render(page, "audit.html.j2", result=result, names=names, subject=subject)

    return r


def may_erase(page: Page, user: dict[str, Any]) -> bool:
    """Whether the page offers the erasure: users allows it to the main contact only, for a deactivated user who is
    neither the main contact nor the caller (and refuses anything else with its own code, shown if it comes)."""
    me = page.me.get("user") or {}
    return (
        bool(page.me.get("is_main_contact"))
        and user.get("status") == "inactive"
        and not user.get("erased")
        and not user.get("is_main_contact")
        and str(user.get("id")) != str(me.get("id"))
    )


def _shown(problem: ApiProblem) -> int:
    """The status of a page that shows a refusal again: the API's for a 4xx; 503 when a service was away (the form
    is still there with what was typed; sending it again is safe: orders carry their idempotency key)."""
    return problem.status if problem.status < 500 else 503
