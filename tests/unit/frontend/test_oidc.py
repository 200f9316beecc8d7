"""Signing in through the shop's OpenID Connect provider: authorization code flow with PKCE, state and nonce."""

from __future__ import annotations

import base64
import hashlib
import json
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from frontend.main import create_app
from frontend.settings import FrontendSettings
from tests.unit.frontend.conftest import ME, FakeApi, csrf_of

ISSUER = "https://idp.test/realms/shop"


def id_token(**claims) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part(claims)}.signature"


class Provider(FakeApi):
    """The identity provider and the API behind one fake transport."""

    def __init__(self) -> None:
        super().__init__()
        self.on("GET", "/realms/shop/.well-known/openid-configuration", json={
            "issuer": ISSUER, "authorization_endpoint": f"{ISSUER}/auth", "token_endpoint": f"{ISSUER}/token",
        })  # fmt: skip
        self.nonce = ""
        self.answers[("POST", "/realms/shop/token")] = self.token

    def token(self, request: httpx.Request) -> httpx.Response:
        form = parse_qs(request.content.decode())
        self.exchanged = {k: v[0] for k, v in form.items()}
        token = id_token(iss=ISSUER, aud="kundencenter-frontend", nonce=self.nonce, sub="u1")
        return httpx.Response(200, json={"access_token": "access-of-u1", "id_token": token, "expires_in": 300})


@pytest.fixture
def provider() -> Provider:
    return Provider()


@pytest.fixture
async def browser(provider):
    settings = FrontendSettings(
        auth_mode="oidc", profile="development", oidc_issuer=ISSUER, oidc_client_id="kundencenter-frontend",
        oidc_redirect_url="https://shop.test/kundencenter/auth/callback", oidc_audience="kundencenter",
    )  # fmt: skip
    app = create_app(settings, transport=httpx.MockTransport(provider.handle))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://shop.test") as client:
        yield client


async def start(browser) -> dict[str, str]:
    form = await browser.get("/kundencenter/login")
    answer = await browser.post("/kundencenter/login", data={"csrf": csrf_of(form), "next": "/kundencenter/orders"})
    assert answer.status_code == 303
    url = urlsplit(answer.headers["location"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{ISSUER}/auth"
    return {k: v[0] for k, v in parse_qs(url.query).items()}


async def test_the_sign_in_goes_to_the_provider_with_pkce_state_and_nonce(browser):
    asked = await start(browser)
    assert asked["response_type"] == "code"
    assert asked["client_id"] == "kundencenter-frontend"
    assert asked["redirect_uri"] == "https://shop.test/kundencenter/auth/callback"
    assert asked["code_challenge_method"] == "S256" and len(asked["code_challenge"]) >= 43
    assert asked["state"] and asked["nonce"] and asked["audience"] == "kundencenter"


async def test_the_callback_exchanges_the_code_with_the_verifier_and_signs_in(browser, provider):
    asked = await start(browser)
    provider.nonce = asked["nonce"]
    answer = await browser.get("/kundencenter/auth/callback", params={"code": "the-code", "state": asked["state"]})
    assert answer.status_code == 303 and answer.headers["location"] == "/kundencenter/orders"
    verifier = provider.exchanged["code_verifier"]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    assert challenge == asked["code_challenge"]
    assert provider.exchanged["code"] == "the-code" and provider.exchanged["grant_type"] == "authorization_code"
    assert provider.sent("GET", "/api/me")[-1].headers["Authorization"] == "Bearer access-of-u1"
    assert ME["user"]["first_name"] in (await browser.get("/kundencenter/")).text


async def test_a_callback_with_another_state_is_refused(browser, provider):
    asked = await start(browser)
    provider.nonce = asked["nonce"]
    answer = await browser.get("/kundencenter/auth/callback", params={"code": "c", "state": "forged"})
    assert answer.headers["location"] == "/kundencenter/login"
    assert provider.sent("POST", "/realms/shop/token") == []


async def test_an_id_token_with_another_nonce_is_refused(browser, provider):
    asked = await start(browser)
    provider.nonce = "replayed"
    answer = await browser.get("/kundencenter/auth/callback", params={"code": "c", "state": asked["state"]})
    assert answer.headers["location"] == "/kundencenter/login"
    assert provider.sent("GET", "/api/me") == []


async def test_a_state_is_used_once(browser, provider):
    asked = await start(browser)
    provider.nonce = asked["nonce"]
    await browser.get("/kundencenter/auth/callback", params={"code": "c", "state": asked["state"]})
    again = await browser.get("/kundencenter/auth/callback", params={"code": "c", "state": asked["state"]})
    assert again.headers["location"] == "/kundencenter/login"
