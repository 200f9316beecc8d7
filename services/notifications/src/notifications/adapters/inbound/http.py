"""The caller's own notification preferences (``/api/me/notification-preferences``) and the operator's view of
digests and mails (``/ops/…``, never routed by the gateway). ADR 0027.

Whose preferences: always the caller's, as the token names them — there is no user id in the path, and a body
that names anything but the kinds and their delivery is refused (``invalid_request``)."""

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from kc_runtime.auth import Caller
from kc_runtime.errors import ApiError
from kc_runtime.eventstore import WorkerPool
from kc_runtime.fence import ReadFence
from notifications.adapters.outbound.digests import DigestScheduler, NotTheLeader
from notifications.application.mails import Mails
from notifications.domain.preferences import CATALOGUE, DEFAULT, Preferences
from notifications.domain.recipients import Recipient

DeliveryName = Literal["immediately", "digest", "none"]
KIND_MAX = 64


class KindPreference(BaseModel):
    kind: str = Field(description="The kind of mail (the catalogue's name)")
    action_needed: bool = Field(description="The mail asks you to do something: it cannot be switched off")
    delivery: DeliveryName = Field(description="immediately, digest (once a day) or none")
    allowed: list[DeliveryName] = Field(description="What may be chosen for this kind")


class DigestSchedule(BaseModel):
    hour: int = Field(description="The hour of the day at which the digest is sent")
    timezone: str = Field(description="The time zone of that hour and of the digest's day (IANA name)")


class PreferencesOut(BaseModel):
    user_id: UUID
    preferences: list[KindPreference]
    digest: DigestSchedule
    changed_at: datetime | None = Field(default=None, description="When the caller last changed a choice")
    changed_by: UUID | None = Field(default=None, description="Who made that change (always the caller)")


class PreferencesIn(BaseModel):
    """The kinds named are set; kinds not named keep their delivery."""

    model_config = ConfigDict(extra="forbid")

    preferences: dict[Annotated[str, Field(max_length=KIND_MAX)], DeliveryName] = Field(
        max_length=len(CATALOGUE) + 8, description="kind → immediately, digest or none"
    )


def _out(user_id: UUID, prefs: Preferences | None, schedule: DigestSchedule) -> PreferencesOut:
    items = []
    for kind in CATALOGUE.values():
        delivery = prefs.delivery(kind.name) if prefs is not None else DEFAULT
        items.append(
            KindPreference.model_validate(
                {"kind": kind.name, "action_needed": kind.action_needed, "delivery": delivery.value,
                 "allowed": [d.value for d in kind.allowed]}
            )
        )  # fmt: skip
    return PreferencesOut(
        user_id=user_id,
        preferences=items,
        digest=schedule,
        changed_at=prefs.changed_at if prefs is not None else None,
        changed_by=prefs.changed_by if prefs is not None else None,
    )


def preferences_router(
    mails: Mails, blocking: WorkerPool, caller: Any, schedule: DigestSchedule, fence: ReadFence | None = None
) -> APIRouter:
    """``caller``: the dependency that verifies the JWT; ``fence``: wait for the users topic before judging the
    caller (ADR 0012)."""
    router = APIRouter(tags=["notification preferences"])

    async def me(request: Request) -> Recipient:
        who: Caller = await caller(request)
        if fence is not None:
            await fence.before((who.issuer, who.subject))
        return await blocking.run(mails.caller, who)

    Me = Annotated[Recipient, Depends(me)]

    @router.get("/api/me/notification-preferences", response_model=PreferencesOut)
    async def get_preferences(recipient: Me) -> PreferencesOut:
        """The caller's delivery of every kind of mail (immediately unless they chose otherwise)."""
        prefs = await blocking.run(mails.preferences, recipient.id)
        return _out(recipient.id, prefs, schedule)

    @router.put(
        "/api/me/notification-preferences",
        response_model=PreferencesOut,
        responses={422: {"description": "`unknown_kind`, `action_mail_cannot_be_off` or `invalid_request`"}},
    )
    async def put_preferences(body: PreferencesIn, recipient: Me) -> PreferencesOut:
        """Choose, per kind of mail, immediately, a daily digest or none (not for mails that need action from the
        caller: `action_mail_cannot_be_off`). Only the caller's own: no user id is taken from the request."""
        prefs = await blocking.run(mails.choose, recipient.id, body.preferences, recipient.id)
        return _out(recipient.id, prefs, schedule)

    return router


class SendDigests(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: UUID | None = Field(default=None, description="Only this user's digests")
    include_not_due: bool = Field(default=False, description="Also digests whose hour has not come yet")


def ops_router(scheduler: DigestScheduler | None) -> APIRouter:
    """Operators (and the tests): the digests and each user's mails, and "send the due digests now". Mounted
    under /ops (the operator token, in every profile)."""
    router = APIRouter()

    def active() -> DigestScheduler:
        if scheduler is None:
            raise ApiError(409, "not_the_leader", "This process does not run the digest scheduler (relay role).")
        return scheduler

    @router.get("/ops/digests")
    async def digests(user_id: UUID | None = None, pending: bool = False) -> dict[str, Any]:
        return {"items": await active().digests(user_id, pending_only=pending)}

    @router.post("/ops/digests/send")
    async def send(body: SendDigests | None = None) -> dict[str, Any]:
        body = body or SendDigests()
        try:
            sent = await active().sweep(include_not_due=body.include_not_due, user_id=body.user_id)
        except NotTheLeader as exc:
            raise ApiError(409, "not_the_leader", str(exc)) from exc
        return {"sent": sent}

    @router.get("/ops/mails")
    async def mail_log(user_id: UUID) -> dict[str, Any]:
        """What became of each mail to a user: sent, failed, suppressed (their choice: none), deferred (digest)."""
        return {"items": await active().mail_log(user_id)}

    return router
