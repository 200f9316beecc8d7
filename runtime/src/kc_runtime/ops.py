"""Every service's operator API under ``/ops/`` on its own port (never routed by the gateway).

Every route under ``/ops/`` needs ``Authorization: Bearer <PREFIX>OPS_TOKEN``, in every profile. Outside the
development profile (``KC_PROFILE``, ``production`` in the images) a service without a token refuses to start;
in the development profile (the local stack, the tests) the token defaults to a development token.

The runtime's own operator routes are the parked events (:mod:`kc_runtime.parking`): the list, and a retry once
the cause is fixed.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlparse

import asyncpg
from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from kc_runtime.errors import ApiError
from kc_runtime.parking import PARKED_TABLE, retry_requests
from kc_runtime.settings import ServiceSettings

if TYPE_CHECKING:
    from kc_runtime.service import ServiceRuntime


class OpsTokenMissing(SystemExit):
    """A service outside the development profile was started without an operator token."""


def development_ops_token(service_name: str) -> str:
    return f"development-only-{service_name}-ops-token"


def ops_token(settings: ServiceSettings) -> str:
    """The operator token in force: the configured one; in the development profile a development token."""
    if settings.ops_token is not None and settings.ops_token.get_secret_value():
        return settings.ops_token.get_secret_value()
    if settings.profile == "development":
        return development_ops_token(settings.service_name)
    prefix = settings.model_config.get("env_prefix", "")
    raise OpsTokenMissing(
        f"{settings.service_name}: {prefix}OPS_TOKEN is not set and the profile is {settings.profile!r}. The "
        f"operator API (/ops/) needs a token in every deployment; set {prefix}OPS_TOKEN (a secret), or "
        "KC_PROFILE=development on a developer's machine."
    )


def operator_dependency(settings: ServiceSettings) -> Any:
    expected = ops_token(settings).encode()
    prefix = settings.model_config.get("env_prefix", "")

    async def require(request: Request) -> None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected):
            raise ApiError(401, "invalid_ops_token", f"The operator API needs the operator token ({prefix}OPS_TOKEN).")

    return require


class ParkedEventOut(BaseModel):
    follower: str = Field(description="The log follower that parked it (the relay: `<service>:<application>`)")
    notification_id: int
    aggregate_id: str
    aggregate_version: int
    event_type: str
    reason: str = Field(
        description="Why it could not be handled (without the offending values), or whom it waits behind"
    )
    blocked_by: int | None = Field(description="Parked only to keep its aggregate's order, behind this notification")
    attempts: int
    parked_at: datetime
    last_attempt_at: datetime


class ParkedRetryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    aggregate_id: str | None = Field(
        default=None, max_length=100, description="Only this aggregate's parked events (default: every one)"
    )
    follower: str | None = Field(default=None, max_length=200, description="Only this follower's (default: every)")


class ParkedRetryOut(BaseModel):
    requested: int = Field(description="Parked events to be handled again, each in its aggregate's order")


def parked_router(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(prefix="/ops/parked", tags=["operations"])
    dsn = runtime.settings.database_url.get_secret_value()
    in_memory = urlparse(dsn).scheme == "memory"

    async def fetch(sql: str, *args: Any) -> list[asyncpg.Record]:
        if in_memory:
            return []
        conn = await asyncpg.connect(dsn, timeout=10)
        try:
            if await conn.fetchval("SELECT to_regclass($1) IS NULL", PARKED_TABLE):
                return []
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    @router.get("", response_model=list[ParkedEventOut], summary="Events parked by the relay or a projector")
    async def parked(
        aggregate_id: Annotated[str | None, Query(max_length=100)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[ParkedEventOut]:
        rows = await fetch(
            f"SELECT * FROM {PARKED_TABLE} WHERE $1::text IS NULL OR aggregate_id = $1"
            " ORDER BY notification_id LIMIT $2",
            aggregate_id,
            limit,
        )
        return [ParkedEventOut(**dict(r)) for r in rows]

    @router.post(
        "/retry",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=ParkedRetryOut,
        summary="Handle parked events again (after the cause is fixed), each aggregate in its order",
    )
    async def retry(body: ParkedRetryIn | None = None) -> ParkedRetryOut:
        body = body or ParkedRetryIn()
        rows = await fetch(
            f"SELECT follower, aggregate_id, count(*) AS n FROM {PARKED_TABLE}"
            " WHERE ($1::text IS NULL OR aggregate_id = $1) AND ($2::text IS NULL OR follower = $2)"
            " GROUP BY follower, aggregate_id ORDER BY min(notification_id)",
            body.aggregate_id,
            body.follower,
        )
        requests = [r for row in rows for r in retry_requests(row["follower"], row["aggregate_id"], row["n"])]
        if requests:
            await runtime.blocking.run(runtime.app.save, *requests)
        return ParkedRetryOut(requested=len(requests))

    return router
