"""users' internal API for the other services (ADR 0035): ``GET /internal/person-keys/{user_id}``, and
``POST /internal/person-keys`` for many at once; ``PUT /internal/person-keys/{user_id}`` reserves a key for a person
who is no user yet (ADR 0040: registration's future main contact).

On the service's own port only: the gateway routes ``/api/…`` paths and nothing else, and the network policy lets
only the services in. Every call needs ``Authorization: Bearer <USERS_INTERNAL_TOKEN>`` (the development profile
falls back to a development token; elsewhere an unset token refuses every call). Not in the shop-facing OpenAPI
document. The answer is never logged.
"""

from __future__ import annotations

import base64
import hmac
from typing import Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from kc_runtime.errors import ApiError
from kc_runtime.eventstore import WorkerPool
from kc_runtime.person_keys import MANY_AT_MOST
from kc_runtime.sealing import UNKNOWN
from users.application.directory import Directory
from users.settings import DEVELOPMENT_INTERNAL_TOKEN, UsersSettings


class PersonKeyOut(BaseModel):
    user_id: UUID
    key: str = Field(description="The person's 256-bit key, base64url without padding")


class ManyKeysIn(BaseModel):
    user_ids: list[UUID] = Field(min_length=1, max_length=MANY_AT_MOST)


class PersonKeyState(BaseModel):
    user_id: UUID
    state: Literal["live", "erased", "unknown"]
    key: str | None = Field(default=None, description="The person's 256-bit key while they live, base64url")


class ManyKeysOut(BaseModel):
    persons: list[PersonKeyState]


def _b64(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).rstrip(b"=").decode()


def _state(user_id: UUID, key: bytes | None) -> PersonKeyState:
    if key is None:
        return PersonKeyState(user_id=user_id, state="erased")
    if key == UNKNOWN:
        return PersonKeyState(user_id=user_id, state="unknown")
    return PersonKeyState(user_id=user_id, state="live", key=_b64(key))


def internal_token(settings: UsersSettings) -> bytes | None:
    """The token in force; None: the internal API is off (outside the development profile, none configured)."""
    if settings.internal_token is not None and settings.internal_token.get_secret_value():
        return settings.internal_token.get_secret_value().encode()
    return DEVELOPMENT_INTERNAL_TOKEN.encode() if settings.profile == "development" else None


def internal_router(directory: Directory, blocking: WorkerPool, settings: UsersSettings) -> APIRouter:
    expected = internal_token(settings)

    async def service_only(request: Request) -> None:
        if expected is None:
            raise ApiError(
                503, "internal_api_not_configured", "USERS_INTERNAL_TOKEN is not set: the internal API is off."
            )
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected):
            raise ApiError(401, "invalid_internal_token", "The internal API needs the service token.")

    router = APIRouter(prefix="/internal", dependencies=[Depends(service_only)], include_in_schema=False)

    @router.get("/person-keys/{user_id}", response_model=PersonKeyOut)
    async def person_key(user_id: UUID, response: Response) -> PersonKeyOut:
        """404 ``unknown_person``; 410 ``person_erased`` once the person was erased."""
        key = await blocking.run(directory.person_key, user_id)
        response.headers["Cache-Control"] = "no-store"
        return PersonKeyOut(user_id=user_id, key=_b64(key))

    @router.put("/person-keys/{user_id}", response_model=PersonKeyOut)
    async def reserve_person_key(user_id: UUID, response: Response) -> PersonKeyOut:
        """The key of a person who is to become a user with this id (ADR 0040): made now for a person users does
        not know yet (pending: no company until the user is created with this id), else the one they have — so
        repeating the call answers the same key. 410 ``person_erased`` once the id's key was erased."""
        key = await blocking.run(directory.reserve_person_key, user_id)
        response.headers["Cache-Control"] = "no-store"
        return PersonKeyOut(user_id=user_id, key=_b64(key))

    @router.post("/person-keys", response_model=ManyKeysOut)
    async def person_keys(body: ManyKeysIn, response: Response) -> ManyKeysOut:
        """The keys of many persons at once (a consumer's batch): each ``live`` with the key, ``erased`` or
        ``unknown``; 422 for more than 200 ids."""
        keys = await blocking.run(directory.person_keys_of, list(dict.fromkeys(body.user_ids)))
        response.headers["Cache-Control"] = "no-store"
        return ManyKeysOut(persons=[_state(u, key) for u, key in keys.items()])

    return router
