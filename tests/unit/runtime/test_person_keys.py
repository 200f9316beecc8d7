"""The client of users' internal endpoint for persons' keys (ADR 0035): the key while the person lives, ``None`` in
the key ring once users says they were erased, and an error — never a cached answer — while users cannot say."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from uuid import UUID, uuid4

import httpx
import pytest
import structlog
from structlog.testing import capture_logs

from kc_runtime import person_keys
from kc_runtime.person_keys import (
    DEVELOPMENT_USERS_INTERNAL_TOKEN,
    KeyState,
    PersonErasedError,
    PersonKeyClient,
    PersonKeysRefused,
    PersonKeysUnavailable,
    UsersInternalTokenMissing,
    users_internal_token,
)
from kc_runtime.sealing import KeyRing, new_key, seal
from kc_runtime.settings import ServiceSettings

TOKEN = "the-service-token"
PLACE = "approval/member/email"


def b64(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).rstrip(b"=").decode()


def error(status: int, code: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": "…"}})


class FakeUsers:
    """users' internal endpoint in process: the keys it holds, the erased, and scripted failures per call; ``PUT``
    reserves a key (made for an id it holds none for)."""

    def __init__(self) -> None:
        self.keys: dict[UUID, bytes] = {}
        self.erased: set[UUID] = set()
        self.failures: list[Callable[[], httpx.Response]] = []
        self.requests: list[httpx.Request] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.failures:
            return self.failures.pop(0)()
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return error(401, "invalid_internal_token")
        if request.method == "POST":
            return httpx.Response(
                200, json={"persons": [self.state(UUID(u)) for u in json.loads(request.content)["user_ids"]]}
            )
        user_id = UUID(request.url.path.rsplit("/", 1)[1])
        if user_id in self.erased:
            return error(410, "person_erased")
        if request.method == "PUT":
            self.keys.setdefault(user_id, new_key())
        if user_id not in self.keys:
            return error(404, "unknown_person")
        return httpx.Response(200, json={"user_id": str(user_id), "key": b64(self.keys[user_id])})

    def state(self, user_id: UUID) -> dict[str, str]:
        if user_id in self.erased:
            return {"user_id": str(user_id), "state": "erased"}
        if user_id not in self.keys:
            return {"user_id": str(user_id), "state": "unknown"}
        return {"user_id": str(user_id), "state": "live", "key": b64(self.keys[user_id])}


@pytest.fixture
def users() -> FakeUsers:
    return FakeUsers()


def client_of(users: FakeUsers, token: str = TOKEN, **kwargs) -> PersonKeyClient:
    waits: list[float] = []
    client = PersonKeyClient(
        "http://users.test", token, transport=httpx.MockTransport(users.handle), sleep=waits.append, **kwargs
    )
    client.waits = waits  # type: ignore[attr-defined]
    return client


def test_a_living_persons_key_is_fetched_from_users_internal_endpoint_with_the_service_token(users):
    person, key = uuid4(), new_key()
    users.keys[person] = key
    assert client_of(users).fetch(person) == key
    (request,) = users.requests
    assert request.method == "GET" and request.url.path == f"/internal/person-keys/{person}"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_an_erased_person_is_none_for_the_key_ring_and_erased_for_a_lookup(users):
    person = uuid4()
    users.erased.add(person)
    client = client_of(users)
    assert client.fetch(person) is None
    assert client.lookup(person).state is KeyState.ERASED and client.lookup(person).key is None


def test_a_person_users_never_knew_opens_nothing_but_a_lookup_tells_it_from_an_erasure(users):
    client = client_of(users)
    assert client.fetch(uuid4()) is None
    assert client.lookup(uuid4()).state is KeyState.UNKNOWN


def test_transient_failures_are_retried_with_back_off_until_users_answers(users):
    person, key = uuid4(), new_key()
    users.keys[person] = key
    users.failures = [lambda: httpx.Response(502), lambda: error(503, "not_ready")]
    client = client_of(users)
    assert client.fetch(person) == key
    assert len(users.requests) == 3 and len(client.waits) == 2 and all(w > 0 for w in client.waits)


def test_a_connection_that_fails_is_retried(users):
    person, key = uuid4(), new_key()
    users.keys[person] = key

    def refused() -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    users.failures = [refused]
    assert client_of(users).fetch(person) == key


def test_users_unreachable_for_every_attempt_is_unavailable_not_erased(users):
    users.failures = [lambda: httpx.Response(503)] * 10
    client = client_of(users, attempts=3)
    with pytest.raises(PersonKeysUnavailable):
        client.fetch(uuid4())
    assert len(users.requests) == 3


def test_a_wrong_token_or_users_without_one_is_refused_at_once_without_retries(users):
    with pytest.raises(PersonKeysRefused):
        client_of(users, token="wrong").fetch(uuid4())
    assert len(users.requests) == 1
    users.failures = [lambda: error(503, "internal_api_not_configured")]
    with pytest.raises(PersonKeysRefused):
        client_of(users).fetch(uuid4())
    assert len(users.requests) == 2


@pytest.mark.parametrize(
    "answer",
    [
        lambda person: httpx.Response(200, json={"user_id": str(person), "key": b64(b"short")}),
        lambda person: httpx.Response(200, json={"user_id": str(uuid4()), "key": b64(new_key())}),
        lambda person: httpx.Response(200, text="<html>a login page</html>"),
        lambda person: httpx.Response(404, text="Not Found"),  # not users' endpoint (a proxy, another service)
        lambda person: httpx.Response(302, headers={"Location": "http://elsewhere.test/"}),
    ],
    ids=["short key", "another person", "not json", "plain 404", "redirect"],
)
def test_an_answer_that_is_not_a_key_nor_an_erasure_is_unavailable(users, answer):
    person = uuid4()
    users.failures = [lambda: answer(person)]
    with pytest.raises(PersonKeysUnavailable):
        client_of(users).fetch(person)


def test_the_key_ring_opens_values_with_fetched_keys_and_shows_none_once_users_says_erased(users):
    person, key = uuid4(), new_key()
    users.keys[person] = key
    now = [0.0]
    ring = KeyRing(client_of(users).fetch, ttl_s=600, clock=lambda: now[0])
    sealed = ring.seal(person, PLACE, "anna@example.com")
    assert ring.reveal(PLACE, sealed) == "anna@example.com"
    assert len(users.requests) == 1  # kept for the ttl

    users.erased.add(person)
    ring.forget(person)  # UserErased arrived
    assert ring.reveal(PLACE, sealed) is None


def test_while_users_is_unavailable_the_ring_keeps_no_answer_and_asks_again(users):
    person, key = uuid4(), new_key()
    users.keys[person] = key
    sealed = seal(key, person, PLACE, "anna@example.com")
    users.failures = [lambda: httpx.Response(503)] * 3
    ring = client_of(users, attempts=3).key_ring()
    with pytest.raises(PersonKeysUnavailable):
        ring.reveal(PLACE, sealed)
    assert ring.reveal(PLACE, sealed) == "anna@example.com"


def test_no_key_reaches_a_log_line_or_an_error(users, caplog, monkeypatch):
    person, key = uuid4(), new_key()
    users.keys[person] = key
    users.failures = [lambda: httpx.Response(500), lambda: httpx.Response(200, json={"user_id": "x", "key": b64(key)})]
    with capture_logs() as seen, caplog.at_level(logging.DEBUG), pytest.raises(PersonKeysUnavailable) as raised:
        # a logger cached by an earlier test would write past the capture: a fresh one binds under it
        monkeypatch.setattr(person_keys, "log", structlog.get_logger("kc.person_keys"))
        client_of(users).lookup(person)
    answer = client_of(users).lookup(person)
    assert [e["event"] for e in seen] == ["person key fetch failed, retrying"]  # the retry was logged
    text = json.dumps(seen, default=str) + caplog.text + str(raised.value) + repr(raised.value.__cause__) + repr(answer)
    assert b64(key) not in text and key.hex() not in text and TOKEN not in text


def test_the_token_is_the_configured_one_else_users_development_token_in_development_only():
    configured = ServiceSettings(users_internal_token="from-the-secret", profile="production")  # type: ignore[arg-type]
    assert users_internal_token(configured) == "from-the-secret"
    assert users_internal_token(ServiceSettings(profile="development")) == DEVELOPMENT_USERS_INTERNAL_TOKEN
    with pytest.raises(UsersInternalTokenMissing, match="USERS_INTERNAL_TOKEN"):
        users_internal_token(ServiceSettings(profile="production"))


def test_the_development_token_is_the_one_users_accepts_in_development():
    from users.settings import DEVELOPMENT_INTERNAL_TOKEN

    assert DEVELOPMENT_USERS_INTERNAL_TOKEN == DEVELOPMENT_INTERNAL_TOKEN


def test_each_service_reads_the_users_address_and_token_under_its_own_prefix(monkeypatch):
    monkeypatch.setenv("APPROVAL_USERS_INTERNAL_URL", "http://users")
    monkeypatch.setenv("APPROVAL_USERS_INTERNAL_TOKEN", "s3cret")
    settings = ServiceSettings.under("APPROVAL_")
    assert settings.users_internal_url == "http://users"
    assert users_internal_token(settings) == "s3cret"
    assert ServiceSettings().users_internal_url == "http://127.0.0.1:8102"  # users on the local stack


def test_keys_that_cannot_be_had_now_are_an_outage_waited_out_never_a_dead_letter_nor_a_parked_event() -> None:
    """A consumer or follower that seals or opens a person's values while users is away must wait, as for a
    database that is away: the message is not at fault (ADR 0035)."""
    from kc_runtime.consumer import TRANSIENT_ERRORS
    from kc_runtime.parking import is_infrastructure

    for error in (PersonKeysUnavailable("users away"), PersonKeysRefused("wrong token")):
        assert isinstance(error, TRANSIENT_ERRORS)
        assert is_infrastructure(error)


def test_a_request_that_needs_a_key_users_cannot_give_now_answers_503() -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from kc_runtime.errors import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/needs-a-key")
    def needs_a_key() -> None:
        raise PersonKeysUnavailable("users away")

    answer = TestClient(app).get("/needs-a-key")
    assert answer.status_code == 503 and answer.json()["error"]["code"] == "service_unavailable"
    assert answer.headers["Retry-After"]


def test_many_persons_keys_come_in_one_request_each_as_live_erased_or_unknown(users):
    living, erased, stranger = uuid4(), uuid4(), uuid4()
    users.keys[living] = key = new_key()
    users.erased.add(erased)
    answers = client_of(users).lookup_many([living, erased, stranger, living])
    (request,) = users.requests
    assert request.method == "POST" and request.url.path == "/internal/person-keys"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert json.loads(request.content) == {"user_ids": [str(living), str(erased), str(stranger)]}
    assert (answers[living].state, answers[living].key) == (KeyState.LIVE, key)
    assert (answers[erased].state, answers[erased].key) == (KeyState.ERASED, None)
    assert answers[stranger].state is KeyState.UNKNOWN


def test_more_persons_than_one_request_takes_are_asked_for_in_several(users):
    persons = [uuid4() for _ in range(person_keys.MANY_AT_MOST + 1)]
    answers = client_of(users).lookup_many(persons)
    assert [len(json.loads(r.content)["user_ids"]) for r in users.requests] == [person_keys.MANY_AT_MOST, 1]
    assert set(answers) == set(persons)


def test_a_key_ring_fetches_what_a_batch_needs_at_once_and_then_asks_for_nothing_it_holds(users):
    living, erased, stranger = uuid4(), uuid4(), uuid4()
    users.keys[living] = key = new_key()
    users.erased.add(erased)
    ring = client_of(users).key_ring()
    ring.prefetch([living, erased, stranger])
    assert len(users.requests) == 1
    value = seal(key, living, PLACE, "anna@example.com")
    assert ring.reveal(PLACE, value) == "anna@example.com"
    assert ring.key(erased) is None and ring.key(stranger) == b""
    ring.prefetch([living, erased, stranger])
    assert len(users.requests) == 1  # all held: no request


def test_many_keys_are_retried_while_users_fails_and_then_unavailable_never_erased(users):
    person = uuid4()
    users.keys[person] = new_key()
    users.failures = [lambda: error(503, "service_unavailable"), lambda: httpx.Response(502)]
    client = client_of(users)
    assert client.lookup_many([person])[person].state is KeyState.LIVE
    assert len(users.requests) == 3 and len(client.waits) == 2
    users.failures = [lambda: error(503, "service_unavailable")] * 3
    ring = client.key_ring()
    with pytest.raises(PersonKeysUnavailable):
        ring.prefetch([person])
    assert ring.key(person) == users.keys[person]  # nothing was cached for the outage: asked again


@pytest.mark.parametrize(
    "answer",
    [
        lambda: httpx.Response(200, json={"persons": []}),
        lambda: httpx.Response(200, json={"persons": [{"user_id": "x", "state": "live"}]}),
        lambda: httpx.Response(200, text="not json"),
        lambda: httpx.Response(404),
    ],
)
def test_an_answer_for_many_that_leaves_a_person_out_or_is_not_keys_is_unavailable(users, answer):
    users.failures = [answer]
    with pytest.raises(PersonKeysUnavailable):
        client_of(users).lookup_many([uuid4()])


def test_a_wrong_token_for_many_keys_is_refused_at_once(users):
    client = client_of(users, token="wrong")
    with pytest.raises(PersonKeysRefused):
        client.lookup_many([uuid4()])
    assert len(users.requests) == 1


# ---- reserving a key for a person who is no user yet (ADR 0040) ----------------------------------------------


def test_reserving_puts_to_users_internal_endpoint_with_the_service_token_and_answers_the_key(users):
    person = uuid4()
    key = client_of(users).reserve(person)
    assert key == users.keys[person] and len(key) == 32
    (request,) = users.requests
    assert request.method == "PUT" and request.url.path == f"/internal/person-keys/{person}"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_reserving_again_answers_the_key_users_holds(users):
    person, key = uuid4(), new_key()
    users.keys[person] = key
    client = client_of(users)
    assert client.reserve(person) == key and client.reserve(person) == key


def test_reserving_an_erased_persons_id_raises_at_once_never_retried(users):
    person = uuid4()
    users.erased.add(person)
    with pytest.raises(PersonErasedError) as erased:
        client_of(users).reserve(person)
    assert erased.value.user_id == person and not isinstance(erased.value, PersonKeysUnavailable)
    assert len(users.requests) == 1


def test_reserving_is_retried_while_users_fails_and_then_unavailable(users):
    person = uuid4()

    def refused() -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    users.failures = [refused, lambda: httpx.Response(502)]
    client = client_of(users)
    assert client.reserve(person) == users.keys[person]
    assert len(users.requests) == 3 and len(client.waits) == 2
    users.failures = [lambda: error(503, "service_unavailable")] * 3
    with pytest.raises(PersonKeysUnavailable) as unavailable:
        client_of(users, attempts=3).reserve(uuid4())
    assert not isinstance(unavailable.value, PersonKeysRefused) and len(users.requests) == 6


def test_reserving_with_a_wrong_token_or_at_users_without_one_is_refused_at_once(users):
    with pytest.raises(PersonKeysRefused):
        client_of(users, token="wrong").reserve(uuid4())
    assert len(users.requests) == 1
    users.failures = [lambda: error(503, "internal_api_not_configured")]
    with pytest.raises(PersonKeysRefused):
        client_of(users).reserve(uuid4())
    assert len(users.requests) == 2 and users.keys == {}


@pytest.mark.parametrize(
    "answer",
    [
        lambda person: httpx.Response(200, json={"user_id": str(person), "key": b64(b"short")}),
        lambda person: httpx.Response(200, json={"user_id": str(uuid4()), "key": b64(new_key())}),
        lambda person: httpx.Response(200, text="<html>a login page</html>"),
        lambda person: httpx.Response(404, text="Not Found"),
        lambda person: httpx.Response(405),  # a users that knows no PUT yet
    ],
    ids=["short key", "another person", "not json", "plain 404", "no PUT yet"],
)
def test_a_reservation_answered_with_something_that_is_not_a_key_is_unavailable(users, answer):
    person = uuid4()
    users.failures = [lambda: answer(person)]
    with pytest.raises(PersonKeysUnavailable):
        client_of(users).reserve(person)
    assert len(users.requests) == 1


def test_no_reserved_key_reaches_a_log_line_or_an_error(users, caplog, monkeypatch):
    person, key = uuid4(), new_key()
    users.failures = [lambda: httpx.Response(500), lambda: httpx.Response(200, json={"user_id": "x", "key": b64(key)})]
    with capture_logs() as seen, caplog.at_level(logging.DEBUG), pytest.raises(PersonKeysUnavailable) as raised:
        monkeypatch.setattr(person_keys, "log", structlog.get_logger("kc.person_keys"))
        client_of(users).reserve(person)
    assert [e["event"] for e in seen] == ["person key fetch failed, retrying"]  # the retry was logged
    text = json.dumps(seen, default=str) + caplog.text + str(raised.value) + repr(raised.value.__cause__)
    assert b64(key) not in text and key.hex() not in text and TOKEN not in text
