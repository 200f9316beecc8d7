"""Overview, language, signing in and out, registration and its confirmation from the mail."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from frontend.api import ApiProblem
from frontend.auth import DevSignIn, OidcSignIn, SignInFailed
from frontend.i18n import LANGUAGES
from frontend.web import Web

log = structlog.get_logger("frontend")

REGISTRATION_FIELDS = ("customer_number", "invoice_number", "email", "first_name", "last_name", "language")


def router(web: Web, sign_in: DevSignIn | OidcSignIn) -> APIRouter:
    r = APIRouter()
    u = web.url

    @r.get(u("/"))
    async def home(request: Request) -> Response:
        page = web.page(request)
        if not page.session.signed_in:
            return web.render(page, "home.html.j2")
        page = await web.signed_in(request)
        pending = None
        if page.can("approve_orders") or page.me.get("is_approver"):
            inbox = await web.call(page, "GET", "/api/approvals", params={"limit": 1})
            pending = inbox["total"]
        return web.render(page, "home.html.j2", pending=pending)

    @r.post(u("/language"))
    async def language(request: Request) -> Response:
        page = web.page(request)
        form = await web.form(page)
        if form.get("language") in LANGUAGES:
            page.session.language = form["language"]
        return web.redirect(page, web.safe_next(form.get("next")))

    # --- signing in and out
    @r.get(u("/login"))
    async def login_form(request: Request, next: str | None = None) -> Response:
        page = web.page(request)
        return web.render(page, "login.html.j2", next=web.safe_next(next), email="")

    @r.post(u("/login"))
    async def login(request: Request) -> Response:
        page = web.page(request)
        form = await web.form(page)
        after = web.safe_next(form.get("next"))
        if isinstance(sign_in, OidcSignIn):
            try:
                return web.finish(RedirectResponse(await sign_in.start(page.session, after), 303), page.session)
            except SignInFailed as exc:
                log.warning("sign-in could not start", reason=str(exc))
                return web.render(
                    page, "login.html.j2", status=502, next=after, email="", error=page.t("signin.failed")
                )
        email = str(form.get("email") or "").strip()
        if not email or "@" not in email or len(email) > 254:
            return web.render(page, "login.html.j2", status=422, next=after, email=email,
                              error=page.t("error.invalid_email"))  # fmt: skip
        try:
            tokens = await sign_in.token_for(email)
        except SignInFailed as exc:
            log.warning("dev sign-in failed", reason=str(exc))
            return web.render(page, "login.html.j2", status=502, next=after, email=email, error=page.t("signin.failed"))
        return await _signed_in(page, tokens.access_token, tokens.expires_in, after, email=email)

    @r.get(u("/auth/callback"))
    async def callback(request: Request, code: str | None = None, state: str | None = None) -> Response:
        page = web.page(request)
        if not isinstance(sign_in, OidcSignIn) or not code or not state:
            return web.redirect(page, "/login", flash=("error", "signin.failed"))
        try:
            tokens = await sign_in.finish(page.session, code, state)
        except SignInFailed as exc:
            log.warning("sign-in refused", reason=str(exc))
            return web.redirect(page, "/login", flash=("error", "signin.failed"))
        return await _signed_in(page, tokens.access_token, tokens.expires_in, web.safe_next(tokens.after))

    async def _signed_in(page: Any, token: str, expires_in: float, after: str, email: str = "") -> Response:
        try:
            me = await web.api.call("GET", "/api/me", token=token, client_ip=web.client_ip(page.request))
        except ApiProblem as problem:
            return web.render(page, "login.html.j2", status=403 if problem.status < 500 else 502, next=after,
                              email=email, error=page.t.error(problem.code, problem.message))  # fmt: skip
        page.session.sign_in(token, expires_in, me)
        return web.redirect(page, after)

    @r.post(u("/logout"))
    async def logout(request: Request) -> Response:
        page = web.page(request)
        await web.form(page)
        page.session.sign_out()
        if web.settings.oidc_logout_url:
            return web.finish(RedirectResponse(web.settings.oidc_logout_url, 303), page.session)
        return web.redirect(page, "/login", flash=("info", "signin.signed_out"))

    # --- registration
    @r.get(u("/registration"))
    async def registration_form(request: Request) -> Response:
        page = web.page(request)
        return web.render(page, "registration.html.j2", values={"language": page.t.language}, errors={})

    @r.post(u("/registration"))
    async def register(request: Request) -> Response:
        page = web.page(request)
        form = await web.form(page)
        values = {k: str(form.get(k) or "").strip() for k in REGISTRATION_FIELDS}
        if values["language"] not in LANGUAGES:
            values["language"] = page.t.language
        missing = {k: page.t("common.required") for k in REGISTRATION_FIELDS if not values[k]}
        if missing:
            return web.render(page, "registration.html.j2", status=422, values=values, errors=missing,
                              error=page.t("error.validation_failed"))  # fmt: skip
        try:
            answer = await web.call(page, "POST", "/api/registrations", json=values)
        except ApiProblem as problem:
            errors = _field_errors(page, problem)
            return web.render(page, "registration.html.j2", status=problem.status if problem.status < 500 else 502,
                              values=values, errors=errors, error=page.t.error(problem.code, problem.message))  # fmt: skip
        page.session.language = values["language"]
        return web.redirect(page, f"/registration/{answer['id']}")

    @r.get(u("/registration/confirm"))
    async def confirm_form(request: Request, registration: str | None = None, token: str | None = None) -> Response:
        page = web.page(request)
        ok = _uuid(registration) is not None and bool(token) and len(token or "") <= 200
        return web.render(page, "confirm.html.j2", status=200 if ok else 400, registration=registration, token=token,
                          bad_link=not ok)  # fmt: skip

    @r.post(u("/registration/confirm"))
    async def confirm(request: Request) -> Response:
        page = web.page(request)
        form = await web.form(page)
        rid, token = _uuid(form.get("registration")), str(form.get("token") or "")
        if rid is None or not token:
            return web.render(page, "confirm.html.j2", status=400, bad_link=True)
        try:
            await web.call(page, "POST", f"/api/registrations/{rid}/confirm", json={"token": token})
        except ApiProblem as problem:
            return web.render(page, "confirm.html.j2", status=problem.status if problem.status < 500 else 502,
                              registration=str(rid), token=token,
                              error=page.t.error(problem.code, problem.message))  # fmt: skip
        return web.redirect(page, f"/registration/{rid}")

    @r.get(u("/registration/{registration_id}"))
    async def registration_status(request: Request, registration_id: UUID) -> Response:
        page = web.page(request)
        status = await web.call(page, "GET", f"/api/registrations/{registration_id}")
        return web.render(page, "registration_status.html.j2", registration=status)

    @r.get(u("/registration/{registration_id}/status"))
    async def registration_status_json(request: Request, registration_id: UUID) -> Response:
        """For the status page's script: has the ERP answered yet?"""
        page = web.page(request)
        try:
            status = await web.call(page, "GET", f"/api/registrations/{registration_id}")
        except ApiProblem as problem:
            return JSONResponse({"status": "unknown", "code": problem.code}, status_code=problem.status)
        return JSONResponse({"status": status["status"]}, headers={"Cache-Control": "no-store"})

    # --- an e-mail change, confirmed from the new mailbox (users' mail links here)
    @r.get(u("/account/email/confirm"))
    async def email_change_form(request: Request, change: str | None = None, token: str | None = None) -> Response:
        page = web.page(request)
        ok = _uuid(change) is not None and bool(token) and len(token or "") <= 200
        return web.render(page, "email_confirm.html.j2", status=200 if ok else 400, change=change, token=token,
                          bad_link=not ok)  # fmt: skip

    @r.post(u("/account/email/confirm"))
    async def email_change(request: Request) -> Response:
        page = web.page(request)
        form = await web.form(page)
        change, token = _uuid(form.get("change")), str(form.get("token") or "")
        if change is None or not token:
            return web.render(page, "email_confirm.html.j2", status=400, bad_link=True)
        try:
            await web.api.call("POST", f"/api/email-changes/{change}/confirm", json={"token": token})
        except ApiProblem as problem:
            return web.render(page, "email_confirm.html.j2", status=problem.status if problem.status < 500 else 502,
                              change=str(change), token=token, error=page.t.error(problem.code, problem.message))  # fmt: skip
        return web.render(page, "email_confirm.html.j2", done=True)

    return r


def _uuid(value: Any) -> UUID | None:
    try:
        return UUID(str(value))
    except ValueError:
        return None


def _field_errors(page: Any, problem: ApiProblem) -> dict[str, str]:
    """The fields a 422 names (``details[].field`` like ``body.email``), each with the problem in the page's words."""
    errors: dict[str, str] = {}
    if isinstance(problem.details, list):
        for detail in problem.details:
            if isinstance(detail, dict) and isinstance(detail.get("field"), str):
                name = detail["field"].split(".")[-1]
                errors[name] = page.t("error.invalid_request")
    return errors
