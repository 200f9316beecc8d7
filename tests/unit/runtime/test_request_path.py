"""kc_runtime.service.RequestPath: the one middleware every request passes through (operator token on /ops,
correlation id, last-resort 500, latency histogram by route template)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import UUID

import httpx
import pytest
import structlog
from fastapi import APIRouter
from pydantic import SecretStr

from kc_runtime import context, metrics, service
from kc_runtime.eventstore import ServiceApplication
from kc_runtime.service import HttpApi, ServiceRuntime
from kc_runtime.settings import ServiceSettings

OPS_TOKEN = "s3cret-operator-token"


def _runtime() -> ServiceRuntime:
    app = ServiceApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    runtime = ServiceRuntime(
        ServiceSettings(
            service_name="svc-path",
            database_url=SecretStr("memory://"),
            process_roles=["api"],
            profile="production",
            ops_token=SecretStr(OPS_TOKEN),
        ),
        app=app,
        api=HttpApi("svc"),
    )
    router = APIRouter()

    @router.get("/api/things/{thing_id}")
    async def thing(thing_id: UUID) -> dict[str, str | None]:
        return {"id": str(thing_id), "correlation_id": context.correlation_id.get()}

    @router.get("/api/broken")
    async def broken() -> None:
        raise RuntimeError("a bug")

    runtime.include_router(router)
    return runtime


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    # raise_app_exceptions off: the test sees the 500 the service answers, as a client would
    transport = httpx.ASGITransport(app=_runtime().http, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as c:
        yield c


def _observed(route: str, status: str) -> float:
    value = metrics.HTTP_REQUESTS.labels("svc-path", "GET", route, status)._sum.get()  # type: ignore[attr-defined]
    return float(value)


async def test_a_plain_correlation_id_is_used_for_the_request_and_echoed(client: httpx.AsyncClient) -> None:
    r = await client.get(f"/api/things/{UUID(int=1)}", headers={"X-Correlation-ID": "shop-42.a_b:c"})
    assert r.status_code == 200
    assert r.json()["correlation_id"] == "shop-42.a_b:c" and r.headers["X-Correlation-ID"] == "shop-42.a_b:c"


async def test_a_request_id_stands_in_for_a_missing_correlation_id(client: httpx.AsyncClient) -> None:
    r = await client.get(f"/api/things/{UUID(int=1)}", headers={"X-Request-ID": "req-7"})
    assert r.json()["correlation_id"] == "req-7" and r.headers["X-Correlation-ID"] == "req-7"


@pytest.mark.parametrize("bad", [b'a"b', b"x" * 65, b"line\tbreak", "ümlaut".encode(), b""])
async def test_a_correlation_id_that_is_not_short_and_plain_is_replaced(client: httpx.AsyncClient, bad: bytes) -> None:
    r = await client.get(f"/api/things/{UUID(int=1)}", headers={"X-Correlation-ID": bad})
    echoed = r.headers["X-Correlation-ID"]
    assert echoed.encode() != bad and r.json()["correlation_id"] == echoed
    assert UUID(echoed)  # a fresh one


async def test_without_any_id_a_fresh_correlation_id_is_made_and_echoed(client: httpx.AsyncClient) -> None:
    r = await client.get(f"/api/things/{UUID(int=1)}")
    assert UUID(r.headers["X-Correlation-ID"]) and r.json()["correlation_id"] == r.headers["X-Correlation-ID"]


async def test_the_correlation_id_is_echoed_on_error_answers_too(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/things/not-a-uuid", headers={"X-Correlation-ID": "c-422"})
    assert r.status_code == 422 and r.headers["X-Correlation-ID"] == "c-422"
    assert r.json()["error"]["code"] == "invalid_request"


async def test_an_unhandled_error_is_logged_and_answered_500_with_the_correlation_id(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    with structlog.testing.capture_logs() as logs:
        # a logger cached by an earlier test would write past the capture: a fresh one binds under it
        monkeypatch.setattr(service, "log", structlog.get_logger("kc.service"))
        r = await client.get("/api/broken", headers={"X-Correlation-ID": "c-500"})
    assert r.status_code == 500 and r.headers["X-Correlation-ID"] == "c-500"
    assert r.json()["error"]["code"] == "internal_error" and "a bug" not in r.text
    assert any(e["event"] == "unhandled error" and "a bug" in e["error"] for e in logs)


@pytest.mark.parametrize("path", ["/ops", "/ops/parked", "/ops/no-such-view"])
async def test_every_path_under_ops_needs_the_operator_token(client: httpx.AsyncClient, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {OPS_TOKEN}"}):
        r = await client.get(path, headers={**headers, "X-Correlation-ID": "c-ops"})
        assert r.status_code == 401 and r.headers["X-Correlation-ID"] == "c-ops"
        assert r.json() == {
            "error": {
                "code": "invalid_ops_token",
                "message": "The operator API needs the operator token (KC_OPS_TOKEN).",
            }
        }


async def test_the_operator_token_opens_the_operator_api(client: httpx.AsyncClient) -> None:
    r = await client.get("/ops/parked", headers={"Authorization": f"bearer  {OPS_TOKEN} "})
    assert r.status_code == 200 and r.json() == []


async def test_a_path_that_only_starts_like_ops_is_not_the_operator_api(client: httpx.AsyncClient) -> None:
    r = await client.get("/opsx")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


async def test_the_latency_histogram_names_the_route_template_not_the_path(client: httpx.AsyncClient) -> None:
    before = _observed("/api/things/{thing_id}", "200"), _observed("unmatched", "404"), _observed("unmatched", "401")
    await client.get(f"/api/things/{UUID(int=2)}")
    await client.get("/no/such/path")
    await client.get("/ops/parked")
    after = _observed("/api/things/{thing_id}", "200"), _observed("unmatched", "404"), _observed("unmatched", "401")
    assert all(a > b for a, b in zip(after, before, strict=True))
