"""The gateway protects the public (token-less) registration endpoint from floods: POSTs per client address are
rate-limited (10/s, bursts of 30) and answered 429 with a JSON error and Retry-After; reading is not limited."""

from __future__ import annotations

import asyncio

import httpx
import pytest

pytestmark = pytest.mark.journey

GATEWAY = "http://127.0.0.1:8080"


def client_from(address: str) -> httpx.AsyncClient:
    """A client whose connections come from ``address`` (any 127.x address reaches the gateway on loopback)."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=GATEWAY, transport=transport, timeout=15)


async def test_a_flood_of_registrations_from_one_address_is_cut_off_by_the_gateway():
    async with client_from("127.0.0.2") as flood, client_from("127.0.0.3") as neighbour:
        answers = await asyncio.gather(*(flood.post("/api/registrations", json={}) for _ in range(80)))
        statuses = [r.status_code for r in answers]
        limited = [r for r in answers if r.status_code == 429]
        assert limited, f"no request was limited: {sorted(set(statuses))}"
        assert set(statuses) <= {422, 429}  # the rest reached the service, which refused the empty body
        assert statuses.count(422) <= 60, "the burst allowance is 30 (plus what the rate refills meanwhile)"
        body = limited[0].json()
        assert body["error"]["code"] == "too_many_requests"
        assert limited[0].headers["Retry-After"] == "1"

        # another address is not affected, and reading (status polling) is never limited
        assert (await neighbour.post("/api/registrations", json={})).status_code == 422
        polled = await flood.get("/api/registrations/00000000-0000-0000-0000-000000000000")
        assert polled.status_code == 404
