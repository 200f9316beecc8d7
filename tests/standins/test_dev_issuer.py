"""The development token issuer: its tokens verify with the services' own verifier against its JWKS."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from kc_runtime.auth import TokenVerifier
from kc_runtime.errors import ApiError

ISSUER = "http://issuer.test"


def _token(url: str, **body: object) -> dict:
    response = httpx.post(f"{url}/dev-auth/token", json=body, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def test_token_verifies_against_jwks(standin: Any) -> None:
    issuer = standin("standins.dev_issuer", "DEV_ISSUER_", {"DEV_ISSUER_ENABLED": "true", "DEV_ISSUER_ISSUER": ISSUER})
    answer = _token(issuer.url, sub="user-1", email="anna@example.com", company_id="c-42", ttl_s=600)
    assert answer["token_type"] == "Bearer"
    assert answer["expires_in"] == 600

    verifier = TokenVerifier(f"{issuer.url}/.well-known/jwks.json", issuer=ISSUER, audience="kundencenter")
    caller = verifier.verify(answer["access_token"])
    assert caller.subject == "user-1"
    assert caller.email == "anna@example.com"
    claims = caller.claims
    assert claims["company_id"] == "c-42"
    assert claims["aud"] == "kundencenter"
    assert claims["iss"] == ISSUER
    assert claims["exp"] - claims["iat"] == 600
    assert claims["jti"]

    jwks = httpx.get(f"{issuer.url}/.well-known/jwks.json", timeout=5).json()
    header = jwt.get_unverified_header(answer["access_token"])
    assert header["alg"] == "RS256"
    assert header["kid"] in {key["kid"] for key in jwks["keys"]}

    # Another audience is not accepted by a verifier expecting "kundencenter".
    other = _token(issuer.url, sub="user-1", audience="someone-else")
    with pytest.raises(ApiError) as error:
        verifier.verify(other["access_token"])
    assert error.value.status == 401

    # Without email and company_id the claims are simply absent.
    bare = verifier.verify(_token(issuer.url, sub="user-2")["access_token"])
    assert "company_id" not in bare.claims and bare.email is None


def test_key_file_keeps_the_key_across_restarts(standin: Any, tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "dev-issuer.pem"
    env = {"DEV_ISSUER_ENABLED": "true", "DEV_ISSUER_KEY_FILE": str(key_file)}
    first = standin("standins.dev_issuer", "DEV_ISSUER_", env)
    kid = httpx.get(f"{first.url}/.well-known/jwks.json", timeout=5).json()["keys"][0]["kid"]
    token = _token(first.url, sub="user-1")["access_token"]
    assert key_file.exists()
    first.stop_cleanly()

    second = standin("standins.dev_issuer", "DEV_ISSUER_", env)
    assert httpx.get(f"{second.url}/.well-known/jwks.json", timeout=5).json()["keys"][0]["kid"] == kid
    # A token of the first run still verifies against the second run's key set.
    verifier = TokenVerifier(f"{second.url}/.well-known/jwks.json", "http://127.0.0.1:8112", "kundencenter")
    assert verifier.verify(token).subject == "user-1"


def test_refuses_to_start_unless_enabled(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "DEV_ISSUER_HTTP_PORT": "1", "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "standins.dev_issuer"], env=env, capture_output=True, timeout=60, check=False
    )
    assert result.returncode != 0
    assert b"DEV_ISSUER_ENABLED" in result.stderr
    log_line = json.loads(result.stdout.decode().strip().splitlines()[-1])
    assert log_line["level"] == "error"


def test_an_email_gets_the_same_subject_every_time_and_is_verified_by_default(standin: Any) -> None:
    issuer = standin("standins.dev_issuer", "DEV_ISSUER_", {"DEV_ISSUER_ENABLED": "true", "DEV_ISSUER_ISSUER": ISSUER})
    verifier = TokenVerifier(f"{issuer.url}/.well-known/jwks.json", issuer=ISSUER, audience="kundencenter")
    first = verifier.verify(_token(issuer.url, email="anna@example.com")["access_token"])
    again = verifier.verify(_token(issuer.url, email="ANNA@example.com")["access_token"])
    other = verifier.verify(_token(issuer.url, email="otto@example.com")["access_token"])
    assert first.subject == again.subject != other.subject
    assert first.email_verified is True


def test_a_token_with_a_given_subject_and_unverified_email(standin: Any) -> None:
    issuer = standin("standins.dev_issuer", "DEV_ISSUER_", {"DEV_ISSUER_ENABLED": "true", "DEV_ISSUER_ISSUER": ISSUER})
    verifier = TokenVerifier(f"{issuer.url}/.well-known/jwks.json", issuer=ISSUER, audience="kundencenter")
    body = {"sub": "attacker-1", "email": "anna@example.com", "email_verified": False}
    caller = verifier.verify(_token(issuer.url, **body)["access_token"])
    assert (caller.subject, caller.email, caller.email_verified) == ("attacker-1", "anna@example.com", False)


def test_an_added_key_signs_and_once_removed_leaves_the_jwks(standin: Any) -> None:
    issuer = standin("standins.dev_issuer", "DEV_ISSUER_", {"DEV_ISSUER_ENABLED": "true", "DEV_ISSUER_ISSUER": ISSUER})
    kid = httpx.post(f"{issuer.url}/admin/keys", timeout=5).json()["kid"]
    jwks = httpx.get(f"{issuer.url}/.well-known/jwks.json", timeout=5).json()
    assert kid in {k["kid"] for k in jwks["keys"]} and len(jwks["keys"]) == 2
    signed = _token(issuer.url, sub="user-1", kid=kid)["access_token"]
    assert jwt.get_unverified_header(signed)["kid"] == kid
    assert (
        TokenVerifier(f"{issuer.url}/.well-known/jwks.json", ISSUER, "kundencenter").verify(signed).subject == "user-1"
    )
    assert httpx.delete(f"{issuer.url}/admin/keys/{kid}", timeout=5).status_code == 204
    jwks = httpx.get(f"{issuer.url}/.well-known/jwks.json", timeout=5).json()
    assert kid not in {k["kid"] for k in jwks["keys"]} and len(jwks["keys"]) == 1
    assert httpx.post(f"{issuer.url}/dev-auth/token", json={"sub": "x", "kid": kid}, timeout=5).status_code == 422
