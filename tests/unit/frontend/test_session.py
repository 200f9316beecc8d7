"""The session sealed into the cookie: only this backend opens it, and only while it is valid."""

import time

import pytest

from frontend.session import Sessions

SECRET = b"0123456789abcdef-test-secret"


def test_a_sealed_session_opens_again_with_the_same_token():
    sessions = Sessions(SECRET, ttl_s=3600, idle_s=600)
    session = sessions.new()
    session.sign_in("the-access-token", 300, {"user": {"language": "en"}})
    opened = sessions.open(sessions.seal(session))
    assert opened is not None
    assert (opened.access_token, opened.csrf, opened.language) == ("the-access-token", session.csrf, "en")


def test_the_cookie_does_not_show_the_token():
    sessions = Sessions(SECRET, ttl_s=3600, idle_s=600)
    session = sessions.new()
    session.sign_in("eyJhbGciOi.the-access-token", 300, {})
    assert "the-access-token" not in sessions.seal(session)


def test_a_changed_cookie_is_no_session():
    sessions = Sessions(SECRET, ttl_s=3600, idle_s=600)
    value = sessions.seal(sessions.new())
    flipped = value[:20] + ("A" if value[20] != "A" else "B") + value[21:]
    assert sessions.open(flipped) is None
    assert sessions.open("not-a-session") is None


def test_a_cookie_sealed_with_another_secret_is_no_session():
    value = Sessions(SECRET, ttl_s=3600, idle_s=600).seal(Sessions(SECRET, 3600, 600).new())
    assert Sessions(b"another-secret-of-16-bytes", ttl_s=3600, idle_s=600).open(value) is None


def test_an_idle_session_ends():
    sessions = Sessions(SECRET, ttl_s=3600, idle_s=60)
    session = sessions.new()
    assert sessions.open(_sealed_at(sessions, session, time.time() - 10)) is not None
    assert sessions.open(_sealed_at(sessions, session, time.time() - 61)) is None


def test_a_session_ends_with_its_token():
    sessions = Sessions(SECRET, ttl_s=3600, idle_s=600)
    session = sessions.new()
    session.sign_in("t", 300, {})
    session.token_expires = time.time() - 1
    assert sessions.open(sessions.seal(session)) is None


def test_signing_in_and_out_gives_a_new_csrf_token():
    sessions = Sessions(SECRET, ttl_s=3600, idle_s=600)
    session = sessions.new()
    before = session.csrf
    session.sign_in("t", 300, {})
    during = session.csrf
    session.sign_out()
    assert len({before, during, session.csrf}) == 3
    assert session.access_token is None


def test_a_short_secret_is_refused():
    with pytest.raises(ValueError):
        Sessions(b"short", ttl_s=3600, idle_s=600)


def _sealed_at(sessions: Sessions, session, seen: float) -> str:
    """A cookie as it was sealed at ``seen`` (seal() stamps now)."""
    import base64
    import json
    import secrets
    from dataclasses import asdict

    from frontend.session import _SEALED, COOKIE

    data = {k: v for k, v in asdict(session).items() if k in _SEALED} | {"seen": seen}
    nonce = secrets.token_bytes(12)
    sealed = sessions._aead.encrypt(nonce, json.dumps(data).encode(), COOKIE.encode())
    return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
