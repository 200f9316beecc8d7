"""Nothing internal is open: through the gateway and on each service's own port.

* Operator endpoints (``/ops/…``) answer only with the operator token, on every service, and are not routed by the
  gateway at all.
* A request id is taken only when short and plain; anything else is replaced (never copied into a body or header).
* No redirect takes its host from the request (FastAPI's trailing-slash redirect is off).
"""

from __future__ import annotations

import json

import httpx
import pytest

from tests.support.infra import GATEWAY
from tests.support.ops import ops_headers

pytestmark = pytest.mark.journey

SERVICES = {
    "registration": "http://127.0.0.1:8101",
    "users": "http://127.0.0.1:8102",
    "approval": "http://127.0.0.1:8103",
    "erp-sync": "http://127.0.0.1:8104",
    "notifications": "http://127.0.0.1:8105",
}
INJECTED = 'x","code":"injected'


async def get(url: str, **kwargs) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as c:
        return await c.get(url, **kwargs)


@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_the_operator_api_of_every_service_refuses_a_caller_without_the_operator_token(service):
    url = SERVICES[service] + "/ops/parked"
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic " + ops_headers(service)["Authorization"].split()[1]},
    ):
        r = await get(url, headers=headers)
        assert r.status_code == 401, (headers, r.text)
        assert r.json()["error"]["code"] == "invalid_ops_token"
    allowed = await get(url, headers=ops_headers(service))
    assert allowed.status_code == 200 and isinstance(allowed.json(), list)


async def test_a_paths_under_ops_that_does_not_exist_still_needs_the_token():
    r = await get(SERVICES["users"] + "/ops/anything")
    assert r.status_code == 401


async def test_the_registration_support_view_shows_no_personal_data_without_the_token():
    r = await get(SERVICES["registration"] + "/ops/registrations", params={"customer_number": "10001"})
    assert r.status_code == 401 and "@" not in r.text


async def test_erp_syncs_contact_view_needs_the_token_too():
    r = await get(SERVICES["erp-sync"] + "/ops/contacts/00000000-0000-0000-0000-000000000000")
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_ops_token"


@pytest.mark.parametrize("path", ["/ops/parked", "/ops/registrations", "/metrics", "/_kc_errors/400.json"])
async def test_the_gateway_routes_no_internal_path(path):
    r = await get(GATEWAY + path, headers=ops_headers("registration"))
    assert r.status_code == 404, r.text


async def test_a_request_id_that_is_not_short_and_plain_is_replaced_at_the_gateway():
    for bad in (INJECTED, "a" * 65, "id with spaces"):
        r = await get(GATEWAY + "/no-such-route", headers={"X-Request-ID": bad})
        body = json.loads(r.text)  # the gateway's own JSON error body stays one well-formed document
        assert r.status_code == 404 and body["error"]["code"] == "not_found"
        assert body["error"]["request_id"] != bad and r.headers["X-Request-ID"] != bad
        assert "injected" not in r.text
    kept = await get(GATEWAY + "/no-such-route", headers={"X-Request-ID": "req-42.a_b:c"})
    assert kept.headers["X-Request-ID"] == "req-42.a_b:c" and kept.json()["error"]["request_id"] == "req-42.a_b:c"


async def test_a_correlation_id_that_is_not_short_and_plain_is_replaced_through_the_gateway():
    r = await get(GATEWAY + "/api/registrations/00000000-0000-0000-0000-000000000000",
                  headers={"X-Correlation-ID": INJECTED})  # fmt: skip
    assert r.headers["X-Correlation-ID"] != INJECTED and "injected" not in r.headers["X-Correlation-ID"]


@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_a_service_replaces_a_request_id_that_is_not_short_and_plain(service):
    for header in ("X-Request-ID", "X-Correlation-ID"):
        r = await get(SERVICES[service] + "/healthz", headers={header: INJECTED})
        assert r.headers["X-Correlation-ID"] and "injected" not in r.headers["X-Correlation-ID"]
    kept = await get(SERVICES[service] + "/healthz", headers={"X-Correlation-ID": "corr-7"})
    assert kept.headers["X-Correlation-ID"] == "corr-7"


async def test_no_redirect_through_the_gateway_takes_its_host_from_the_request():
    async with httpx.AsyncClient(base_url=GATEWAY, timeout=10, follow_redirects=False) as c:
        for path in ("/api/users/", "/api/orders/", "/api/registrations/"):
            r = await c.get(path, headers={"Host": "evil.example"})
            assert r.status_code not in (301, 302, 307, 308), (path, r.headers.get("Location"))
            assert "evil.example" not in r.headers.get("Location", "")


@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_no_redirect_on_a_services_own_port_takes_its_host_from_the_request(service):
    async with httpx.AsyncClient(base_url=SERVICES[service], timeout=10, follow_redirects=False) as c:
        r = await c.get("/ops/parked/", headers={"Host": "evil.example", **ops_headers(service)})
        assert r.status_code == 404 and "Location" not in r.headers
        r = await c.get("/healthz/", headers={"Host": "evil.example"})
        assert r.status_code == 404 and "Location" not in r.headers
