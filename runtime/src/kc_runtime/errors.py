"""HTTP error bodies: ``{"error": {"code": "...", "message": "...", "details": [...]}}``, never a stack trace."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import asyncpg
import orjson
import psycopg
import structlog
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from eventsourcing.persistence import InterfaceError as StoreInterfaceError
from eventsourcing.persistence import OperationalError as StoreOperationalError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = structlog.get_logger("kc.http")


class JsonResponse(JSONResponse):
    """Starlette's JSON response rendered by orjson: the same bytes (compact, UTF-8, not ASCII-escaped) for the
    JSON types the error bodies and runtime views hold, at a fraction of the cost. Routes with a response model
    keep FastAPI's own serialisation (pydantic's, which already writes bytes without the stdlib; a default response
    class would switch that off)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, default=_jsonable)


def _jsonable(value: Any) -> Any:
    """What orjson leaves to a default: amounts as strings, as pydantic writes them."""
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


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


def error_response(status: int, code: str, message: str, details: list[Any] | None = None) -> JsonResponse:
    return JsonResponse(status_code=status, content=error_body(code, message, details))


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


# A dependency that is away for a moment (PostgreSQL restarting, a pool without a free connection, a connection
# cut): the request did not happen or was rolled back, and the same request will work again soon. Answered
# 503 with Retry-After, never 500: the client (or the gateway) should retry, and it is no bug of ours.
UNAVAILABLE: tuple[type[Exception], ...] = (
    StoreOperationalError,
    StoreInterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    ConnectionError,
    TimeoutError,
)
RETRY_AFTER_S = 2


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
        if any(d["type"] == "control_character" for d in details):
            # Names, references and comments refuse control and bidi-formatting characters (contracts.common)
            return error_response(
                422,
                "invalid_characters",
                "Text may not contain control characters or bidirectional formatting characters.",
                details,
            )
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
                return error_response(
                    status, getattr(exc, "code", "domain_error"), str(exc), getattr(exc, "details", None)
                )

            return _domain

        app.add_exception_handler(exc_class, make())

    async def _unavailable(_: Request, exc: Exception) -> JSONResponse:
        log.warning("dependency unavailable", error=repr(exc)[:300])
        response = error_response(
            503, "service_unavailable", "A database this service needs is unavailable for a moment; retry shortly."
        )
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response

    for exc_class in UNAVAILABLE:
        app.add_exception_handler(exc_class, _unavailable)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", error=repr(exc))
        return error_response(500, "internal_error", "Something went wrong on our side; it has been logged.")


ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "description": "Every 4xx and 5xx answer. `error.code` is machine-readable and stable (e.g. `invalid_request`, "
    "`unauthenticated`, `user_inactive`, `not_found`, `version_mismatch`, `wrong_state`, `ordering_blocked`, "
    "`too_many_attempts`, `service_unavailable`); `error.message` is a sentence for people; `error.details` (optional) says more, "
    "e.g. which fields of the request are invalid.",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "examples": ["invalid_request"]},
                "message": {"type": "string", "examples": ["The request is not valid."]},
                "details": {
                    "type": "array",
                    "items": {},
                    "examples": [[{"field": "body.lines.0.quantity", "problem": "Input should be greater than 0"}]],
                },
            },
        }
    },
}


class DocumentedErrors(FastAPI):
    """A FastAPI app whose OpenAPI document says what errors really look like: FastAPI documents its own validation
    body (``HTTPValidationError``) for 422, which this service never sends; every operation answers client errors
    with :data:`ERROR_SCHEMA` instead (``4XX``), validation errors included."""

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema:
            return self.openapi_schema
        schema = super().openapi()
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        schemas["Error"] = ERROR_SCHEMA
        content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                if "422" in responses:
                    responses["422"] = {
                        "description": "The request is not valid (`invalid_request`; `details` name the fields), "
                        "or the service refuses it for a reason `error.code` names.",
                        "content": content,
                    }
                responses.setdefault(
                    "4XX", {"description": "Refused: `error.code` says why (see the Error schema).", "content": content}
                )
                responses.setdefault(
                    "503",
                    {
                        "description": "`service_unavailable`: a database the service needs is away for a moment; "
                        "nothing was changed — retry after `Retry-After` seconds.",
                        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                        "content": content,
                    },
                )
        self.openapi_schema = schema
        return schema
