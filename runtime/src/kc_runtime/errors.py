"""HTTP error bodies: ``{"error": {"code": "...", "message": "...", "details": [...]}}``, never a stack trace."""

from __future__ import annotations

from typing import Any

import structlog
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = structlog.get_logger("kc.http")


class ApiError(Exception):
    """Raise from a route to answer with a status, a machine-readable code and a human sentence."""

    def __init__(self, status: int, code: str, message: str, details: list[Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


def error_body(code: str, message: str, details: list[Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return {"error": body}


def error_response(status: int, code: str, message: str, details: list[Any] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content=error_body(code, message, details))


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
}


def install_error_handlers(app: FastAPI, domain_errors: dict[type[Exception], int] | None = None) -> None:
    """``domain_errors`` maps domain exception classes (carrying ``code`` and a message) to HTTP statuses."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"field": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", ""), "type": e.get("type")}
            for e in exc.errors()
        ][:50]
        return error_response(422, "invalid_request", "The request is not valid.", details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code
        return error_response(exc.status_code, code, message)

    @app.exception_handler(AggregateNotFoundError)
    async def _not_found(_: Request, __: AggregateNotFoundError) -> JSONResponse:
        return error_response(404, "not_found", "Not found.")

    @app.exception_handler(IntegrityError)
    async def _conflict(_: Request, __: IntegrityError) -> JSONResponse:
        return error_response(409, "conflict", "Changed concurrently by another request; reload and try again.")

    for exc_class, status in (domain_errors or {}).items():

        def make(status: int = status):
            async def _domain(_: Request, exc: Exception) -> JSONResponse:
                return error_response(status, getattr(exc, "code", "domain_error"), str(exc))

            return _domain

        app.add_exception_handler(exc_class, make())

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", error=repr(exc))
        return error_response(500, "internal_error", "Something went wrong on our side; it has been logged.")
