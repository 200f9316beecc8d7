"""Each person's key from users, for a service's :class:`~kc_runtime.sealing.KeyRing` (ADR 0035, decision 2).

Keys live in users' database only. The other services ask users' internal endpoint
(``GET /internal/person-keys/{user_id}`` on users' own port, never routed by the gateway) with the service token
``<PREFIX>USERS_INTERNAL_TOKEN`` (the value of users' ``USERS_INTERNAL_TOKEN``) and keep what they get in their
key ring's memory for its ttl only — never on disk, never in a log line.

:meth:`PersonKeyClient.fetch` is the ring's ``fetch`` and keeps its contract:

- the key (32 bytes) while the person lives;
- ``None`` once users says the person was erased (``410 person_erased``) — or that it never knew them
  (``404 unknown_person``: nobody can open a value sealed for an id users does not know, either); callers that must
  tell the two apart (e.g. before dropping a mail for good) ask :meth:`PersonKeyClient.lookup`;
- :class:`PersonKeysUnavailable` when users cannot say (unreachable, timeouts, 5xx, an answer that is not a key),
  after a few quick retries with the runtime's back-off; the ring caches nothing then, and the caller shows the
  value as unavailable (or, for a mail, tries again later). A refusal that retrying cannot cure — a wrong token
  (401) or users without a token (503 ``internal_api_not_configured``) — is :class:`PersonKeysRefused`, at once.

:meth:`PersonKeyClient.reserve` (``PUT /internal/person-keys/{user_id}``, ADR 0040) has users make a key for a
person who is no user yet — registration's future main contact, under the id registration minted — or answers the
one they have; :class:`PersonErasedError` once that id's key was erased, the outage and refusal errors as above.

The client is synchronous, as the ring is: call it where blocking is fine (the event store's worker threads, a
consumer's handler run through the service's worker pool), never on the event loop itself.
"""

from __future__ import annotations

import base64
import binascii
import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, NoReturn, TypeVar
from uuid import UUID

import httpx
import structlog
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, stop_after_delay

from kc_runtime.retrying import backoff
from kc_runtime.sealing import KEY_BYTES, UNKNOWN, KeyRing
from kc_runtime.settings import ServiceSettings

log = structlog.get_logger("kc.person_keys")

DEVELOPMENT_USERS_INTERNAL_TOKEN = "development-only-users-internal-token"  # noqa: S105  # local stack and tests only
"""The token users accepts in the development profile when ``USERS_INTERNAL_TOKEN`` is unset (users' settings)."""

PATH = "/internal/person-keys/{user_id}"
"""``GET``: a person's key (404 ``unknown_person``, 410 ``person_erased``); ``PUT``: reserve one (ADR 0040)."""
MANY_PATH = "/internal/person-keys"
"""``POST {"user_ids": [...]}`` → ``{"persons": [{"user_id", "state": "live"|"erased"|"unknown", "key"?}]}``."""
MANY_AT_MOST = 200
"""Ids per request for many keys (users refuses more with 422)."""

_T = TypeVar("_T")


class PersonKeysUnavailable(ConnectionError):
    """users could not tell this process a person's key now (the value is shown as unavailable, a mail waits).

    A ``ConnectionError``: like a database that is away, an outage of the machinery, never the fault of the
    message or event being handled — consumers and followers wait it out (never a dead letter, never parked) and a
    request answers ``503 service_unavailable``."""


class PersonKeysRefused(PersonKeysUnavailable):
    """users refused the call for a reason that retrying does not cure: the token (or its absence) is wrong."""


class PersonErasedError(LookupError):
    """users answered ``410 person_erased`` to a reservation: the id's key was destroyed, and nothing can be sealed
    for that person any more (a definite answer, not an outage: never retried; mint another id)."""

    def __init__(self, user_id: UUID) -> None:
        super().__init__(f"person {user_id} was erased: users keeps no key for them")
        self.user_id = user_id


class UsersInternalTokenMissing(SystemExit):
    """A service outside the development profile would fetch keys without ``<PREFIX>USERS_INTERNAL_TOKEN``."""


class KeyState(Enum):
    LIVE = "live"
    ERASED = "erased"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class PersonKeyAnswer:
    """What users said about a person: their key while they live, none once erased or when never known."""

    user_id: UUID
    state: KeyState
    key: bytes | None = None

    def for_ring(self) -> bytes | None:
        """As a :class:`KeyRing` takes it: the key, ``None`` once erased, :data:`UNKNOWN` for a stranger."""
        return UNKNOWN if self.state is KeyState.UNKNOWN else self.key

    def __repr__(self) -> str:  # never a key in a log line or a traceback
        return f"PersonKeyAnswer(user_id={self.user_id}, state={self.state.value})"


def users_internal_token(settings: ServiceSettings) -> str:
    """The token this service presents to users: the configured one; in the development profile users' development
    token; elsewhere none, and the service refuses to start (:class:`UsersInternalTokenMissing`)."""
    token = settings.users_internal_token
    if token is not None and token.get_secret_value():
        return token.get_secret_value()
    if settings.profile == "development":
        return DEVELOPMENT_USERS_INTERNAL_TOKEN
    prefix = settings.model_config.get("env_prefix", "")
    raise UsersInternalTokenMissing(
        f"{settings.service_name}: {prefix}USERS_INTERNAL_TOKEN is not set and the profile is {settings.profile!r}. "
        f"Fetching persons' keys from users needs the token users knows as USERS_INTERNAL_TOKEN; set "
        f"{prefix}USERS_INTERNAL_TOKEN (a secret), or KC_PROFILE=development on a developer's machine."
    )


class _Transient(Exception):
    """An attempt that may succeed when repeated (carries the reason for the log, never the answer's body)."""


def _error_code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error.get("code") if isinstance(error, dict) else None


def _decode_key(response: httpx.Response, user_id: UUID) -> bytes:
    try:
        body = response.json()
        if str(body["user_id"]) != str(user_id):
            raise ValueError("another person's answer")
        text = body["key"]
    except (ValueError, KeyError, TypeError):
        # from None: the decoding error could quote the answer, and the answer is a key
        raise PersonKeysUnavailable(f"users answered for person {user_id} with something that is not a key") from None
    return _key_of(text, user_id)


def _key_of(text: object, user_id: UUID) -> bytes:
    """The key in its base64url text, or :class:`PersonKeysUnavailable` (never quoting the text)."""
    try:
        if not isinstance(text, str):
            raise ValueError("not a text")
        key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, binascii.Error):
        raise PersonKeysUnavailable(f"users answered for person {user_id} with something that is not a key") from None
    if len(key) != KEY_BYTES:
        raise PersonKeysUnavailable(f"users answered for person {user_id} with something that is not a key")
    return key


class PersonKeyClient:
    """users' internal endpoint for persons' keys. ``fetch`` plugs into :class:`KeyRing` (see :meth:`key_ring`)."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout_s: float = 2.0,
        attempts: int = 3,
        retry_within_s: float = 5.0,
        backoff_initial_s: float = 0.1,
        backoff_max_s: float = 1.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=timeout_s,
            transport=transport,
            follow_redirects=False,
        )
        self._attempts = attempts
        self._retry_within_s = retry_within_s
        self._backoff = (backoff_initial_s, backoff_max_s)
        self._sleep = sleep

    @classmethod
    def from_settings(cls, settings: ServiceSettings, **kwargs: Any) -> PersonKeyClient:
        """The client for a service: ``<PREFIX>USERS_INTERNAL_URL`` and ``<PREFIX>USERS_INTERNAL_TOKEN``."""
        return cls(settings.users_internal_url, users_internal_token(settings), **kwargs)

    def key_ring(self, ttl_s: float = 600.0) -> KeyRing:
        """A key ring fed by this client (ADR 0035: keys kept at most 10 minutes): a person users does not know
        answers :data:`~kc_runtime.sealing.UNKNOWN` (their values stay plain), an erased one ``None``."""
        return KeyRing(self.fetch_for_ring, ttl_s=ttl_s, fetch_many=self.fetch_many_for_ring)

    def fetch_for_ring(self, user_id: UUID) -> bytes | None:
        return self.lookup(user_id).for_ring()

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> PersonKeyClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def fetch(self, user_id: UUID) -> bytes | None:
        """The person's key; ``None`` once erased (or never known to users); :class:`PersonKeysUnavailable`."""
        return self.lookup(user_id).key

    def lookup(self, user_id: UUID) -> PersonKeyAnswer:
        """What users says about the person (live with the key, erased, unknown), or :class:`PersonKeysUnavailable`
        when it cannot say now (retried a few times first)."""
        return self._with_retries(lambda: self._ask(user_id), f"person {user_id}", user_id=str(user_id))

    def reserve(self, user_id: UUID) -> bytes:
        """The key of a person who is to become a user with ``user_id`` (ADR 0040): users makes it now if it knows
        no key for that id, else answers the one it has (so a repeated call — a retry, a redelivery — gets the same
        key). Raises :class:`PersonErasedError` when users answers 410 (the id's key was erased: raised rather than
        returning None, so no caller seals with nothing), :class:`PersonKeysRefused` for a wrong or missing token,
        and :class:`PersonKeysUnavailable` when users cannot answer now (retried a few times first, as
        :meth:`lookup`)."""
        return self._with_retries(lambda: self._reserve(user_id), f"person {user_id}", user_id=str(user_id))

    def lookup_many(self, user_ids: Sequence[UUID]) -> dict[UUID, PersonKeyAnswer]:
        """What users says about each of ``user_ids``, in one request per :data:`MANY_AT_MOST` of them (a consumer's
        batch of many people's values costs one round trip, not one per person); :class:`PersonKeysUnavailable` as
        for :meth:`lookup`."""
        wanted = list(dict.fromkeys(user_ids))
        answers: dict[UUID, PersonKeyAnswer] = {}
        for start in range(0, len(wanted), MANY_AT_MOST):
            chunk = wanted[start : start + MANY_AT_MOST]
            answers.update(
                self._with_retries(
                    functools.partial(self._ask_many, chunk), f"{len(chunk)} persons", persons=len(chunk)
                )
            )
        return answers

    def fetch_many_for_ring(self, user_ids: Sequence[UUID]) -> dict[UUID, bytes | None]:
        return {user_id: answer.for_ring() for user_id, answer in self.lookup_many(user_ids).items()}

    def _with_retries(self, ask: Callable[[], _T], what: str, **context: Any) -> _T:
        retrying = Retrying(
            wait=backoff(*self._backoff),
            retry=retry_if_exception_type(_Transient),
            stop=stop_after_attempt(self._attempts) | stop_after_delay(self._retry_within_s),
            sleep=self._sleep,
            before_sleep=lambda state: log.warning(
                "person key fetch failed, retrying",
                **context,
                attempt=state.attempt_number,
                reason=str(state.outcome.exception()) if state.outcome is not None else None,
                wait_s=round(state.upcoming_sleep, 3),
            ),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return ask()
        except _Transient as exc:
            log.error("person key unavailable", **context, reason=str(exc))
            raise PersonKeysUnavailable(f"users did not give the key of {what}: {exc}") from None
        raise AssertionError("unreachable")  # pragma: no cover  # tenacity either returns or raises

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._client.request(method, path, **kwargs)
        except httpx.TransportError as exc:  # connection refused or reset, DNS, timeouts
            raise _Transient(f"{type(exc).__name__}") from exc

    def _ask_many(self, user_ids: Sequence[UUID]) -> dict[UUID, PersonKeyAnswer]:
        response = self._send("POST", MANY_PATH, json={"user_ids": [str(u) for u in user_ids]})
        if response.status_code != 200:
            self._refused_or_transient(response, f"{len(user_ids)} persons")
        try:
            persons = response.json()["persons"]
            answers = {UUID(str(p["user_id"])): p for p in persons}
        except (ValueError, KeyError, TypeError):
            raise PersonKeysUnavailable(
                "users answered a request for many keys with something that is not keys"
            ) from None
        result: dict[UUID, PersonKeyAnswer] = {}
        for user_id in user_ids:
            person = answers.get(user_id)
            person = person if isinstance(person, dict) else {}
            state = person.get("state")
            if state == KeyState.LIVE.value:
                result[user_id] = PersonKeyAnswer(user_id, KeyState.LIVE, _key_of(person.get("key"), user_id))
            elif state == KeyState.ERASED.value:
                result[user_id] = PersonKeyAnswer(user_id, KeyState.ERASED)
            elif state == KeyState.UNKNOWN.value:
                log.warning("person unknown to users", user_id=str(user_id))
                result[user_id] = PersonKeyAnswer(user_id, KeyState.UNKNOWN)
            else:
                raise PersonKeysUnavailable(f"users left person {user_id} out of its answer for many keys")
        return result

    def _refused_or_transient(self, response: httpx.Response, what: str) -> NoReturn:
        """Raise what a non-200 answer means: refused (401, no token), transient (408, 429, 5xx), or unavailable."""
        status = response.status_code
        code = _error_code(response)
        if status == 401 or (status == 503 and code == "internal_api_not_configured"):
            log.error("users refused the person key fetch", what=what, status=status, code=code)
            raise PersonKeysRefused(
                f"users refused the key fetch ({status} {code}): check <PREFIX>USERS_INTERNAL_TOKEN against "
                "users' USERS_INTERNAL_TOKEN"
            )
        if status in (408, 429) or status >= 500:
            raise _Transient(f"{status} {code or ''}".strip())
        # any other answer (a 404 from something that is not users' endpoint, a redirect, …): not a key, not an
        # erasure; nothing to cache, nothing that a retry now would change
        log.error("unexpected answer to a person key fetch", what=what, status=status, code=code)
        raise PersonKeysUnavailable(f"users answered {status} {code or ''} for the key of {what}".strip())

    def _reserve(self, user_id: UUID) -> bytes:
        response = self._send("PUT", PATH.format(user_id=user_id))
        if response.status_code == 200:
            return _decode_key(response, user_id)
        if response.status_code == 410:
            raise PersonErasedError(user_id)
        self._refused_or_transient(response, f"person {user_id}")

    def _ask(self, user_id: UUID) -> PersonKeyAnswer:
        response = self._send("GET", PATH.format(user_id=user_id))
        status = response.status_code
        if status == 200:
            return PersonKeyAnswer(user_id, KeyState.LIVE, _decode_key(response, user_id))
        if status == 410:
            return PersonKeyAnswer(user_id, KeyState.ERASED)
        if status == 404 and _error_code(response) == "unknown_person":
            log.warning("person unknown to users", user_id=str(user_id))
            return PersonKeyAnswer(user_id, KeyState.UNKNOWN)
        self._refused_or_transient(response, f"person {user_id}")


__all__ = [
    "DEVELOPMENT_USERS_INTERNAL_TOKEN",
    "KeyState",
    "PersonErasedError",
    "PersonKeyAnswer",
    "PersonKeyClient",
    "PersonKeysRefused",
    "PersonKeysUnavailable",
    "UsersInternalTokenMissing",
    "users_internal_token",
]
