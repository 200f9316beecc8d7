"""Journey fixtures: the whole local stack (`make up`), used through the gateway as the shop would."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from uuid import uuid4

import httpx
import pytest

from tests.conftest import eventually
from tests.support.infra import GATEWAY
from tests.support.ops import ops_headers
from tests.support.shop import Shop
from tests.support.users import UsersApi, journey_fixtures

pytestmark = pytest.mark.journey

ERP_SIMULATOR = os.environ.get("KC_TEST_ERP_SIMULATOR", "http://127.0.0.1:8111")
ERP_SYNC = os.environ.get("KC_TEST_ERP_SYNC", "http://127.0.0.1:8104")


@pytest.fixture(scope="session")
async def gateway() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=GATEWAY, timeout=30) as client:
        try:
            ready = await client.get("/healthz")
        except httpx.HTTPError as exc:
            pytest.fail(f"gateway at {GATEWAY} unreachable ({exc!r}): run `make up` or `make test`")
        assert ready.status_code == 200
        yield client


@pytest.fixture(scope="session")
async def erp_simulator() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=ERP_SIMULATOR, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
async def erp_sync() -> AsyncIterator[httpx.AsyncClient]:
    # erp-sync's operator API (every /ops/ route needs the operator token)
    async with httpx.AsyncClient(base_url=ERP_SYNC, timeout=30, headers=ops_headers("erp-sync")) as client:
        yield client


TokenFactory = Callable[..., Awaitable[str]]

# The session's registration publisher and the users API (companies come from a registration over Kafka).
registrar, users_api = journey_fixtures()


@pytest.fixture
async def shop(users_api: UsersApi) -> Shop:
    company = await users_api.company()
    s = Shop(users_api, company)
    await eventually(lambda: s.known_to_approval(company.main), what="approval to know the main contact")
    return s


@pytest.fixture(scope="session")
def token(gateway: httpx.AsyncClient) -> TokenFactory:
    """``await token(email=..., sub=..., email_verified=..., company_id=...)``: a token from the development
    issuer, through the gateway. Without ``sub`` the issuer gives the e-mail's stable subject (one account per
    address, as at a real identity provider); without ``email`` a random address."""

    async def make(sub: str | None = None, company_id: str | None = None, **extra: object) -> str:
        body: dict[str, object] = {"email": f"{uuid4().hex[:8]}@example.test", **extra}
        if sub is not None:
            body["sub"] = sub
        if company_id:
            body["company_id"] = company_id
        response = await gateway.post("/dev-auth/token", json=body)
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    return make


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
