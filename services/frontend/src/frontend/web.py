"""What every page shares: the session of a request, CSRF checks, calling the API as the signed-in person,
rendering a template in the person's language, and the security headers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context

from frontend.api import Api, ApiProblem
from frontend.i18n import Texts, from_accept_language
from frontend.session import COOKIE, Session, Sessions
from frontend.settings import FrontendSettings

R = TypeVar("R", bound=Response)

PACKAGE = Path(__file__).parent
STATIC = PACKAGE / "static"
STATIC_FILES = ("app.css", "app.js")

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # the confirmation link carries a token in its query: never pass it on to another site
    "Referrer-Policy": "same-origin",
}


class NotSignedIn(Exception):
    pass


class SignedOut(Exception):
    """The API no longer accepts the session's token (deactivated, unknown, expired): the session ends."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


class CsrfRejected(Exception):
    pass


@dataclass
class Page:
    """A request's view of the person: session, texts and the caller's ``/api/me`` (when signed in)."""

    request: Request
    session: Session
    t: Texts

    @property
    def me(self) -> dict[str, Any]:
        return self.session.me or {}

    def can(self, permission: str) -> bool:
        return permission in (self.me.get("permissions") or []) or bool(self.me.get("is_main_contact"))


def _texts(context: Context) -> Texts:
    t = context.get("t")
    return t if isinstance(t, Texts) else Texts(None)


@pass_context
def person_name(context: Context, person: Any) -> str:
    """A person of approval's API (``{"id", "name", "erased"}``) as plain text for a sentence
    (``t(…, name=p | name)``), which the template escapes once: "an erased user" for an erased person (ADR 0035),
    the beginning of the id when the name is not known."""
    if not isinstance(person, dict):
        return "–"
    if person.get("erased"):
        return _texts(context)("person.erased")
    return str(person.get("name") or str(person.get("id") or "")[:8] or "–")


def user_label(user: Any, t: Texts) -> str:
    """A user of users' API (``first_name``, ``last_name``, ``erased``) as plain text: "an erased user" once erased
    (names and e-mail are null then), the beginning of the id when no name is there."""
    if not isinstance(user, dict):
        return "–"
    if user.get("erased"):
        return t("person.erased")
    name = f"{user.get('first_name') or ''} {user.get('last_name') or ''}".strip()
    return name or str(user.get("id") or "")[:8] or "–"


@pass_context
def user_name(context: Context, user: Any) -> str:
    return user_label(user, _texts(context))


def static_version() -> str:
    digest = hashlib.sha256()
    for name in STATIC_FILES:
        digest.update((STATIC / name).read_bytes())
    return digest.hexdigest()[:12]


class Web:
    def __init__(self, settings: FrontendSettings, sessions: Sessions, api: Api) -> None:
        self.settings = settings
        self.sessions = sessions
        self.api = api
        self.base = settings.base_path.rstrip("/")
        self.static_version = static_version()
        self.env = Environment(
            loader=FileSystemLoader(PACKAGE / "templates"),
            autoescape=select_autoescape(["html", "j2"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["name"] = person_name
        self.env.filters["user_name"] = user_name

    # --- addresses
    def url(self, path: str = "/") -> str:
        return self.base + path

    def static(self, name: str) -> str:
        return self.url(f"/static/{self.static_version}/{name}")

    def safe_next(self, target: str | None) -> str:
        """Only a path of this frontend (never another host) is a place to go back to."""
        if not target or not target.startswith(self.base + "/") or target.startswith("//") or "\\" in target:
            return self.url("/")
        parts = urlsplit(target)
        if parts.scheme or parts.netloc:
            return self.url("/")
        return target

    # --- the session of a request
    def page(self, request: Request) -> Page:
        session = getattr(request.state, "session", None) or self.sessions.open(request.cookies.get(COOKIE))
        if session is None:
            session = self.sessions.new()
        if session.language is None:
            session.language = from_accept_language(request.headers.get("accept-language"))
        request.state.session = session
        return Page(request, session, Texts(session.language))

    async def signed_in(self, request: Request) -> Page:
        """The page of a signed-in person, whose ``/api/me`` is read afresh (a deactivated person is signed out on
        their next page, permissions shown are the current ones)."""
        page = self.page(request)
        if not page.session.signed_in:
            raise NotSignedIn()
        page.session.me = await self.call(page, "GET", "/api/me")
        return page

    async def call(self, page: Page, method: str, path: str, **kwargs: Any) -> Any:
        try:
            return await self.api.call(
                method, path, token=page.session.access_token, client_ip=self.client_ip(page.request), **kwargs
            )
        except ApiProblem as problem:
            if problem.signs_out and page.session.signed_in:
                raise SignedOut(problem.code) from problem
            raise

    @staticmethod
    def client_ip(request: Request) -> str | None:
        return request.client.host if request.client else None

    # --- forms
    async def form(self, page: Page) -> dict[str, Any]:
        """The submitted form, once its CSRF token is the session's and its Origin (if sent) is this site."""
        origin = page.request.headers.get("origin")
        if origin is not None and origin != "null":
            host = page.request.headers.get("host", "")
            if urlsplit(origin).netloc != host:
                raise CsrfRejected()
        elif origin == "null":
            raise CsrfRejected()
        form = await page.request.form()
        values: dict[str, Any] = {}
        for key, value in form.multi_items():
            if isinstance(value, str):
                if key in values:
                    existing = values[key]
                    values[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
                else:
                    values[key] = value
        if not page.session.check_csrf(values.pop("csrf", None) if isinstance(values.get("csrf"), str) else None):
            raise CsrfRejected()
        return values

    # --- responses
    def render(self, page: Page, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        session = page.session
        flashes, session.flash = session.flash, []
        html = self.env.get_template(template).render(
            t=page.t,
            lang=page.t.language,
            page=page,
            me=page.me,
            signed_in=session.signed_in,
            csrf=session.csrf,
            url=self.url,
            static=self.static,
            flashes=flashes,
            dev_sign_in=self.settings.auth_mode == "dev",
            current=page.request.url.path,
            **context,
        )
        return self.finish(HTMLResponse(html, status_code=status), session)

    def redirect(self, page: Page, path: str, flash: tuple[str, str] | None = None) -> RedirectResponse:
        if flash is not None:
            page.session.flash.append(flash)
        target = path if path.startswith(self.base + "/") or path == self.base else self.url(path)
        return self.finish(RedirectResponse(target, status_code=303), page.session)

    def finish(self, response: R, session: Session) -> R:
        response.set_cookie(
            COOKIE,
            self.sessions.seal(session),
            httponly=True,
            secure=self.settings.cookie_secure,
            samesite="lax",
            path=self.base + "/",
            max_age=int(self.settings.session_ttl_s),
        )
        response.headers["Cache-Control"] = "no-store"
        return response
