"""The frontend's composition root: create_app(settings) builds the pages, the session store and the API client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import quote

import httpx
import structlog
import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from frontend import (
    pages_absences,
    pages_account,
    pages_deadlines,
    pages_decisions,
    pages_notifications,
    pages_orders,
    pages_policy,
    pages_users,
)
from frontend.api import Api, ApiProblem
from frontend.auth import DevSignIn, OidcSignIn
from frontend.session import Sessions
from frontend.settings import DEVELOPMENT_SESSION_SECRET, FrontendSettings
from frontend.web import SECURITY_HEADERS, STATIC, STATIC_FILES, CsrfRejected, NotSignedIn, SignedOut, Web
from kc_runtime.logging import configure_logging
from kc_runtime.serve import KEEP_ALIVE_S
from kc_runtime.serve import run as run_server

log = structlog.get_logger("frontend")

STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


def create_app(settings: FrontendSettings | None = None, transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """``transport``: the API's (tests pass an in-process one); default: HTTP to ``settings.api_base_url``."""
    settings = settings or FrontendSettings()
    if settings.auth_mode == "dev" and settings.profile == "production":
        raise ValueError("FRONTEND_AUTH_MODE=dev is the local stack's sign-in and is refused in production")
    client = httpx.AsyncClient(base_url=settings.api_base_url, timeout=settings.api_timeout_s, transport=transport)
    sign_in: DevSignIn | OidcSignIn = (
        DevSignIn(settings, client) if settings.auth_mode == "dev" else OidcSignIn(settings, client)
    )
    if settings.profile == "production" and settings.session_secret.get_secret_value() == DEVELOPMENT_SESSION_SECRET:
        raise ValueError("FRONTEND_SESSION_SECRET must be set in production (the default is public)")
    sessions = Sessions(
        settings.session_secret.get_secret_value().encode(), settings.session_ttl_s, settings.session_idle_s
    )
    web = Web(settings, sessions, Api(client))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await client.aclose()

    app = FastAPI(title="Kundencenter frontend", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.web = web

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response: Response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.exception_handler(NotSignedIn)
    async def _not_signed_in(request: Request, _: NotSignedIn) -> Response:
        page = web.page(request)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return web.redirect(page, f"/login?next={quote(target, safe='/')}")

    @app.exception_handler(SignedOut)
    async def _signed_out(request: Request, exc: SignedOut) -> Response:
        page = web.page(request)
        page.session.sign_out()
        key = "error.user_inactive" if exc.reason == "user_inactive" else "signin.ended"
        log.info("signed out by the API", reason=exc.reason)
        return web.redirect(page, "/login", flash=("error", key))

    @app.exception_handler(CsrfRejected)
    async def _csrf(request: Request, _: CsrfRejected) -> Response:
        page = web.page(request)
        return web.render(page, "error.html.j2", status=403, message=page.t("error.csrf"))

    @app.exception_handler(RequestValidationError)
    async def _bad_address(request: Request, _: RequestValidationError) -> Response:
        # a page address with a malformed id or parameter: there is no such page
        page = web.page(request)
        return web.render(page, "error.html.j2", status=404, message=page.t("error.not_found"))

    @app.exception_handler(ApiProblem)
    async def _problem(request: Request, exc: ApiProblem) -> Response:
        page = web.page(request)
        status = exc.status if exc.status in (403, 404, 409, 422, 429, 503) else 502
        return web.render(page, "error.html.j2", status=status, message=page.t.error(exc.code, exc.message))

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.get(web.base, include_in_schema=False)
    async def bare() -> RedirectResponse:
        return RedirectResponse(web.url("/"), status_code=308)

    assets = {name: (STATIC / name).read_bytes() for name in STATIC_FILES}

    @app.get(web.url("/static/{version}/{name}"), include_in_schema=False)
    async def static(version: str, name: str) -> Response:
        if name not in assets:
            return HTMLResponse("not found", status_code=404)
        # the address changes with the content (its digest), so a browser may keep it for a year
        cache = "public, max-age=31536000, immutable" if version == web.static_version else "no-cache"
        media = STATIC_TYPES["." + name.rsplit(".", 1)[-1]]
        return Response(assets[name], media_type=media, headers={"Cache-Control": cache})

    app.include_router(pages_account.router(web, sign_in))
    app.include_router(pages_orders.router(web))
    app.include_router(pages_users.router(web))
    app.include_router(pages_absences.router(web))
    app.include_router(pages_policy.router(web))
    app.include_router(pages_notifications.router(web))
    app.include_router(pages_deadlines.router(web))
    app.include_router(pages_decisions.router(web))
    return app


def run() -> None:
    settings = FrontendSettings()
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    try:
        app = create_app(settings)
    except ValueError as exc:
        raise SystemExit(f"frontend: {exc}") from exc
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        timeout_keep_alive=KEEP_ALIVE_S,
        timeout_graceful_shutdown=10,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )
    run_server(config)
