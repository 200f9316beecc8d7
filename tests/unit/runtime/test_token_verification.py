"""kc_runtime.auth: malformed claims are a 401 invalid_token; a key removed from the JWKS stops being trusted
within the configured age; an unknown key id costs at most one JWKS fetch per interval."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from kc_runtime.auth import TokenVerifier, caller_from_claims
from kc_runtime.errors import ApiError
from tests.conftest import eventually

ISSUER = "https://idp.test"
AUDIENCE = "kundencenter"


class Jwks:
    """A JWKS endpoint whose key set the test changes; it counts the fetches."""

    def __init__(self) -> None:
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.fetches = 0
        jwks = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                jwks.fetches += 1
                body = json.dumps(jwks.document()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"

    def add(self, kid: str) -> None:
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def document(self) -> dict[str, Any]:
        out = []
        for kid, key in self.keys.items():
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            out.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return {"keys": out}

    def token(self, kid: str, key: rsa.RSAPrivateKey | None = None, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "s-1", "iat": now, "exp": now + 300, **claims}
        return jwt.encode(body, key or self.keys[kid], algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def jwks() -> Iterator[Jwks]:
    j = Jwks()
    j.add("k1")
    # A short poll interval: shutdown() waits up to one interval, and this fixture runs for 60 tests.
    thread = threading.Thread(target=j.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield j
    j.server.shutdown()
    j.server.server_close()


def refused(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(ApiError) as error:
        verifier.verify(token)
    assert error.value.status == 401
    return error.value.code


@pytest.mark.parametrize(
    "claims",
    [
        {"email": ["a@example.com", "b@example.com"]},
        {"email": 42},
        {"email": {"address": "a@example.com"}},
        {"email": "not-an-address"},
        {"email": "a@example.com\n"},
        {"email_verified": "true"},
        {"email_verified": 1},
        {"sub": 42},
        {"sub": ["s-1"]},
        {"sub": ""},
        {"sub": "x" * 256},
    ],
    ids=lambda c: f"{next(iter(c))}={json.dumps(c[next(iter(c))])[:20]}",
)
def test_a_malformed_claim_is_invalid_token(jwks: Jwks, claims: dict[str, Any]) -> None:
    verifier = TokenVerifier(jwks.url, ISSUER, AUDIENCE)
    assert refused(verifier, jwks.token("k1", **claims)) == "invalid_token"


def test_a_well_formed_token_names_issuer_subject_and_verified_email(jwks: Jwks) -> None:
    verifier = TokenVerifier(jwks.url, ISSUER, AUDIENCE)
    caller = verifier.verify(jwks.token("k1", email="Anna@Example.com", email_verified=True))
    assert (caller.issuer, caller.subject, caller.email, caller.email_verified) == (
        ISSUER,
        "s-1",
        "Anna@Example.com",
        True,
    )
    assert caller.verified_email == "Anna@Example.com"


def test_an_email_without_email_verified_is_not_verified() -> None:
    caller = caller_from_claims({"iss": ISSUER, "sub": "s", "email": "a@example.com"})
    assert caller.email_verified is False and caller.verified_email is None


async def test_a_key_removed_from_the_jwks_stops_being_trusted_within_the_max_age(jwks: Jwks) -> None:
    verifier = TokenVerifier(jwks.url, ISSUER, AUDIENCE, keys_max_age_s=0.5, unknown_kid_refresh_s=0)
    jwks.add("k2")
    old = jwks.token("k1")
    assert verifier.verify(old).subject == "s-1"
    del jwks.keys["k1"]  # the provider rotates k1 out
    removed_at = time.monotonic()

    async def refused() -> bool:
        try:
            verifier.verify(old)
        except ApiError as error:
            assert error.code == "invalid_token"
            return True
        return False

    await eventually(refused, timeout=5, interval=0.05, what="the removed key to stop being trusted")
    assert time.monotonic() - removed_at < 0.5 + 1.0
    assert verifier.verify(jwks.token("k2")).subject == "s-1"


def test_unknown_key_ids_cause_at_most_one_refresh_per_interval(jwks: Jwks) -> None:
    verifier = TokenVerifier(jwks.url, ISSUER, AUDIENCE, keys_max_age_s=300, unknown_kid_refresh_s=60)
    verifier.verify(jwks.token("k1"))
    fetched = jwks.fetches
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for i in range(50):
        assert refused(verifier, jwks.token(f"unknown-{i}", key=stranger)) == "invalid_token"
    assert jwks.fetches - fetched <= 1


def test_a_new_key_is_found_by_one_refresh_after_the_interval(jwks: Jwks) -> None:
    verifier = TokenVerifier(jwks.url, ISSUER, AUDIENCE, keys_max_age_s=300, unknown_kid_refresh_s=0)
    verifier.verify(jwks.token("k1"))
    jwks.add("k3")
    assert verifier.verify(jwks.token("k3")).subject == "s-1"


def _counting_decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every signature check kc_runtime.auth makes (jwt.decode) is recorded."""
    calls: list[str] = []
    decode = jwt.decode

    def counted(token: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(token)
        return decode(token, *args, **kwargs)

    monkeypatch.setattr("kc_runtime.auth.jwt.decode", counted)
    return calls


def test_a_verified_token_is_answered_from_memory_while_it_is_valid(
    jwks: Jwks, monkeypatch: pytest.MonkeyPatch
) -> None:
    decodes = _counting_decodes(monkeypatch)
    verifier = TokenVerifier(jwks.url, ISSUER, AUDIENCE)
    token = jwks.token("k1", email="a@example.com", email_verified=True)
    first = verifier.verify(token)
    again = [verifier.verify(token) for _ in range(5)]
    assert decodes == [token]
    assert all(c == first and c.email_verified for c in again) and verifier.cached(token) == first


def test_a_refused_token_is_not_remembered(jwks: Jwks, monkeypatch: pytest.MonkeyPatch) -> None:
    decodes = _counting_decodes(monkeypatch)
    verifier = TokenVerifier(jwks.url, "https://another-issuer.test", AUDIENCE)
    token = jwks.token("k1")
    for _ in range(3):
        assert refused(verifier, token) == "invalid_token"
    assert len(decodes) == 3 and verifier.cached(token) is None


async def test_a_remembered_token_is_forgotten_when_it_expires(jwks: Jwks, monkeypatch: pytest.MonkeyPatch) -> None:
    decodes = _counting_decodes(monkeypatch)
    verifier = TokenVerifier(jwks.url, ISSUER, AUDIENCE)
    exp = int(time.time()) + 1
    token = jwks.token("k1", exp=exp)
    verifier.verify(token)
    assert verifier.cached(token) is not None

    async def forgotten() -> bool:
        return verifier.cached(token) is None

    await eventually(forgotten, timeout=5, interval=0.05, what="the token to be forgotten at its exp")
    assert time.time() >= exp
    verifier.verify(token)  # PyJWT's leeway still accepts it for a moment, but only after a full check
    assert decodes == [token, token]


def test_a_new_fetch_of_the_key_set_forgets_the_tokens_verified_with_the_one_before(jwks: Jwks) -> None:
    verifier = TokenVerifier(jwks.url, ISSUER, AUDIENCE, keys_max_age_s=300, unknown_kid_refresh_s=0)
    token = jwks.token("k1")
    verifier.verify(token)
    assert verifier.cached(token) is not None
    jwks.add("k2")
    verifier.verify(jwks.token("k2"))  # an unknown key id: the key set is fetched again
    assert verifier.cached(token) is None
    del jwks.keys["k1"]
    refused(verifier, jwks.token("k3-unknown", key=jwks.keys["k2"]))  # … and again, now without k1
    assert refused(verifier, token) == "invalid_token"


def test_the_remembered_tokens_are_bounded_least_recently_used_first(jwks: Jwks) -> None:
    verifier = TokenVerifier(jwks.url, ISSUER, AUDIENCE, remembered_tokens=2)
    a, b, c = (jwks.token("k1", sub=f"s-{n}") for n in "abc")
    verifier.verify(a)
    verifier.verify(b)
    verifier.verify(a)  # a used again: b is now the oldest
    verifier.verify(c)
    assert verifier.cached(a) is not None and verifier.cached(c) is not None and verifier.cached(b) is None
