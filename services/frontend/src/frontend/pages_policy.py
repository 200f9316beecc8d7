"""Freigaberichtlinie (ADR 0025): the company's approval tiers — each with its approvers (people and/or a role) and a
value limit, up to the main contact — shown to who may see them, defined by the main contact and who manages users.
The API decides who may do what and whether a policy is sound; the page only hides what the caller cannot do and
refuses what it can tell before sending."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from frontend.api import ApiProblem
from frontend.pages_absences import USERS_MAX, may_approve, may_manage
from frontend.web import Page, Web, user_label

API = "/api/approvals/policy"
TIERS_MAX = 10
APPROVE_ORDERS = "approve_orders"
ROLE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-")
PAGE_ERRORS = {"not_an_approver": "policy.error.not_an_approver"}
"""API codes whose general sentence speaks of something else (absences)"""


def amount(text: str) -> Decimal | None:
    """An amount as typed in German or English (``1.000,50``, ``1000.50``, ``1 000``); None if it is not one."""
    text = text.replace(" ", "").replace("\xa0", "").replace("€", "")
    if "," in text:
        text = text.replace(".", "").replace(",", ".")
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() and value > 0 and value == value.quantize(Decimal("0.01")) else None


def _ids(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)] if value else []


def router(web: Web) -> APIRouter:
    r = APIRouter()
    u = web.url

    async def candidates(page: Page) -> list[dict[str, str]]:
        """The company's active users who may approve (the API refuses anyone else on a tier)."""
        company = page.me.get("company", {})
        approvers = set(company.get("approver_ids") or [])
        users = await web.call(page, "GET", "/api/users", params={"status": "active", "limit": USERS_MAX})
        chosen = [
            {"id": x["id"], "name": user_label(x, page.t)} for x in users.get("items") or []
            if x.get("status", "active") == "active" and not x.get("erased")
            and (APPROVE_ORDERS in (x.get("permissions") or []) or x.get("is_main_contact") or x["id"] in approvers)
        ]  # fmt: skip
        return sorted(chosen, key=lambda p: p["name"].casefold())

    def rows_of(policy: dict[str, Any]) -> list[dict[str, Any]]:
        rows = [
            {"max_value": str(t["max_value"]["amount"]), "approvers": [a["id"] for a in t["approvers"]],
             "role_id": t.get("role_id") or ""}
            for t in policy.get("tiers") or []
        ]  # fmt: skip
        return rows + [{"max_value": "", "approvers": [], "role_id": ""}] * min(2, TIERS_MAX - len(rows))

    async def show(
        page: Page,
        status: int = 200,
        error: str | None = None,
        rows: list[dict[str, Any]] | None = None,
        escalation: str | None = None,
        errors: dict[str, str] | None = None,
    ) -> Response:
        policy = await web.call(page, "GET", API)
        defines = may_manage(page)
        return web.render(
            page,
            "approval_policy.html.j2",
            status=status,
            error=error,
            policy=policy,
            defines=defines,
            people=await candidates(page) if defines else [],
            rows=rows if rows is not None else rows_of(policy),
            escalation=escalation or policy.get("escalation") or "climb",
            errors=errors or {},
        )

    def refused(page: Page, problem: ApiProblem) -> str:
        key = PAGE_ERRORS.get(problem.code)
        return page.t(key) if key else page.t.error(problem.code, problem.message)

    @r.get(u("/approval-policy"))
    async def approval_policy(request: Request) -> Response:
        page = await web.signed_in(request)
        if not (may_manage(page) or may_approve(page)):
            return web.render(page, "error.html.j2", status=403, message=page.t("error.not_allowed"))
        return await show(page)

    @r.post(u("/approval-policy"))
    async def define(request: Request) -> Response:
        page = await web.signed_in(request)
        form = await web.form(page)
        escalation = "direct" if form.get("escalation") == "direct" else "climb"
        if form.get("reset") == "1":  # back to the default: the approver list, else the main contact
            return await send(page, {"tiers": []}, None, escalation)
        rows: list[dict[str, Any]] = []
        errors: dict[str, str] = {}
        for i in range(TIERS_MAX):
            row: dict[str, Any] = {"max_value": str(form.get(f"max_value_{i}") or "").strip(), "approvers": _ids(form.get(f"approvers_{i}")),
                   "role_id": str(form.get(f"role_id_{i}") or "").strip()}  # fmt: skip
            if not (row["max_value"] or row["approvers"] or row["role_id"]):
                continue  # an empty row
            n = len(rows)
            if amount(row["max_value"]) is None:
                errors[f"max_value_{n}"] = page.t("policy.not_an_amount")
            if row["role_id"] and (len(row["role_id"]) > 64 or not set(row["role_id"]) <= ROLE_CHARS):
                errors[f"role_id_{n}"] = page.t("error.invalid_request")
            if not (row["approvers"] or row["role_id"]):
                errors[f"max_value_{n}"] = page.t("error.no_tier_approvers")
            rows.append(row)
        if errors:
            return await show(page, 422, page.t("error.validation_failed"), rows, escalation, errors)
        body = {
            "escalation": escalation,
            "tiers": [
                {"max_value": str(amount(row["max_value"])), "approver_ids": row["approvers"],
                 **({"role_id": row["role_id"]} if row["role_id"] else {})}
                for row in rows
            ],
        }  # fmt: skip
        return await send(page, body, rows, escalation)

    async def send(page: Page, body: dict[str, Any], rows: list[dict[str, Any]] | None, escalation: str) -> Response:
        try:
            await web.call(page, "PUT", API, json=body)
        except ApiProblem as problem:
            return await show(page, _shown(problem), refused(page, problem), rows, escalation)
        return web.redirect(page, "/approval-policy", flash=("info", "policy.saved"))

    return r


def _shown(problem: ApiProblem) -> int:
    return problem.status if problem.status < 500 else 503
