"""The frontend in process, against a fake Kundencenter API (httpx.MockTransport): what the pages send and show."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from frontend.main import create_app
from frontend.settings import FrontendSettings

ME = {
    "user": {"id": "0b6e7f3a-1c1d-4a86-9d4e-000000000001", "first_name": "Martha", "last_name": "Main",
             "email": "main@example.com", "language": "de", "status": "active"},
    "company": {"id": "c0", "name": "Muster GmbH", "customer_number": "K-1", "currency": "EUR", "approver_ids": []},
    "permissions": ["manage_users", "place_orders", "approve_orders"], "roles": ["main_contact"],
    "is_main_contact": True, "is_approver": True, "budget": {},
}  # fmt: skip


class FakeApi:
    """Answers of the API by (method, path); records every request."""

    def __init__(self) -> None:
        self.answers: dict[tuple[str, str], Callable[[httpx.Request], httpx.Response]] = {}
        self.requests: list[httpx.Request] = []
        self.on("POST", "/dev-auth/token", json={"access_token": "token-of-martha", "expires_in": 3600})
        self.on("GET", "/api/me", json=ME)
        self.on("GET", "/api/approvals", json={"items": [], "total": 0, "limit": 1, "offset": 0})

    def on(self, method: str, path: str, status: int = 200, json: Any = None) -> None:
        self.answers[(method, path)] = lambda _request: httpx.Response(status, json=json)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.get((request.method, request.url.path))
        if answer is None:
            return httpx.Response(404, json={"error": {"code": "not_found", "message": "Not found."}})
        return answer(request)

    def sent(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if (r.method, r.url.path) == (method, path)]


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


@pytest.fixture
def settings() -> FrontendSettings:
    return FrontendSettings(auth_mode="dev", profile="development")


@pytest.fixture
async def browser(api: FakeApi, settings: FrontendSettings) -> AsyncIterator[httpx.AsyncClient]:
    """A client that keeps cookies like a browser does (https, so the Secure cookie comes back)."""
    app = create_app(settings, transport=httpx.MockTransport(api.handle))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://shop.test") as client:
        yield client


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, "the page has no CSRF field"
    return found.group(1)


async def sign_in(browser: httpx.AsyncClient, email: str = "main@example.com") -> httpx.Response:
    form = await browser.get("/kundencenter/login")
    return await browser.post(
        "/kundencenter/login", data={"csrf": csrf_of(form), "email": email, "next": "/kundencenter/"}
    )
