"""The registration service's public API and its handling of the ERP's answers (in memory)."""

from __future__ import annotations

import asyncio
import json
from uuid import uuid4

import pytest

from contracts.registration.v1 import ConfirmationRequested, RegistrationCompleted, VerificationRequested
from registration.domain.model import company_id_for
from tests.service.registration.conftest import System, body, random_ip
from tests.support.ops import ops_headers


def fresh_number() -> str:
    return "9" + str(uuid4().int)[:8]


async def test_a_submitted_registration_is_accepted_and_asks_the_erp(system: System):
    r = await system.submit(customer_number="10001", invoice="R-10001-1")
    assert r.status_code == 202
    out = r.json()
    assert out["status"] == "verifying" and out["reason"] is None
    assert r.headers["Location"] == f"/api/registrations/{out['id']}"
    (question,) = system.outbox.of_type(VerificationRequested)
    assert (str(question.registration_id), question.customer_number, question.invoice_number) == (
        out["id"],
        "10001",
        "R-10001-1",
    )


async def test_a_verified_registration_sends_one_confirmation_mail_with_an_expiring_token(system: System):
    r = await system.submit(language="en", first_name="Anna", last_name="O'Neill")
    rid = r.json()["id"]
    email = json.loads(r.request.content)["email"]
    await system.erp_says(rid)
    status = await system.status(rid)
    assert status["status"] == "awaiting_confirmation"
    assert status["confirmation_expires_at"] is not None
    (mail,) = system.outbox.of_type(ConfirmationRequested)
    assert mail.email == email
    assert (mail.first_name, mail.last_name, mail.language, mail.company_name) == (
        "Anna",
        "O'Neill",
        "en",
        "Muster GmbH",
    )
    assert str(mail.registration_id) in mail.confirm_path and mail.token in mail.confirm_path
    assert (mail.expires_at - system.clock.now).total_seconds() == system.settings.confirmation_ttl_s
    assert mail.expires_at.isoformat().startswith(status["confirmation_expires_at"][:19])


async def test_the_clear_token_is_never_stored(system: System):
    _, token = await system.verified()
    stored = system.registrations.recorder.select_notifications(start=1, limit=1000)
    assert all(token.encode() not in n.state for n in stored)


async def test_the_right_token_completes_the_registration_for_users_and_the_erp(system: System):
    rid, token = await system.verified(customer_number="10001")
    r = await system.confirm(rid, token)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "completed"
    (done,) = system.outbox.of_type(RegistrationCompleted)
    assert done.company_id == company_id_for("10001")
    assert done.company.name == "Muster GmbH"
    assert done.main_contact.first_name == "Anna"
    assert [c.erp_contact_id for c in done.erp_contacts] == ["C-1"]


async def test_a_token_cannot_be_used_twice(system: System):
    rid, token = await system.verified()
    assert (await system.confirm(rid, token)).status_code == 200
    again = await system.confirm(rid, token)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "confirmation_token_used"
    assert len(system.outbox.of_type(RegistrationCompleted)) == 1


async def test_an_expired_token_is_refused_and_the_registration_shows_as_expired(system: System):
    rid, token = await system.verified()
    system.clock.advance(seconds=system.settings.confirmation_ttl_s)
    assert (await system.status(rid))["reason"] == "confirmation_expired"
    r = await system.confirm(rid, token)
    assert r.status_code == 410
    assert r.json()["error"]["code"] == "confirmation_token_expired"
    status = await system.status(rid)
    assert (status["status"], status["reason"]) == ("rejected", "confirmation_expired")
    assert system.outbox.of_type(RegistrationCompleted) == []


async def test_a_wrong_token_is_refused_and_too_many_reject_the_registration(system: System):
    rid, token = await system.verified()
    for _ in range(system.settings.confirmation_max_failures):
        r = await system.confirm(rid, "A" * 43)
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "invalid_confirmation_token"
    late = await system.confirm(rid, token)
    assert late.status_code == 409
    assert (await system.status(rid))["reason"] == "too_many_confirmation_failures"


async def test_a_registration_still_verifying_cannot_be_confirmed(system: System):
    rid = (await system.submit()).json()["id"]
    r = await system.confirm(rid, "A" * 43)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "not_awaiting_confirmation")


async def test_an_unknown_registration_is_404(system: System):
    async with system.client() as c:
        assert (await c.get(f"/api/registrations/{uuid4()}")).status_code == 404
        r = await c.post(UNKNOWN, json={"token": "abc"})
        assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found")


async def test_unknown_customer_and_wrong_invoice_get_the_same_answer(system: System):
    a = (await system.submit(customer_number="55555")).json()["id"]
    b = (await system.submit(customer_number="10001", invoice="R-99")).json()["id"]
    await system.erp_says(a, "55555", "unknown_customer")
    await system.erp_says(b, "10001", "invoice_mismatch")
    sa, sb = await system.status(a), await system.status(b)
    for s in (sa, sb):
        del s["id"], s["submitted_at"]
    assert (
        sa
        == sb
        == {
            "status": "rejected",
            "reason": "verification_failed",
            "message": sa["message"],
            "confirmation_expires_at": None,
        }
    )
    assert "customer number" in sa["message"] and "invoice" in sa["message"]


async def test_a_customer_the_erp_does_not_allow_is_rejected_as_not_allowed(system: System):
    rid = (await system.submit(customer_number="10003", invoice="R-10003-1")).json()["id"]
    await system.erp_says(rid, "10003", "not_allowed")
    assert (await system.status(rid))["reason"] == "not_allowed"


async def test_an_erp_that_never_answered_rejects_without_counting_as_a_failure(system: System):
    number, ip = fresh_number(), random_ip()
    for _ in range(3):
        rid = (await system.submit(ip, customer_number=number)).json()["id"]
        await system.erp_says(rid, number, "erp_unavailable")
        assert (await system.status(rid))["reason"] == "erp_unavailable"
    assert (await system.submit(ip, customer_number=number)).status_code == 202


async def test_a_strangers_failures_lock_the_stranger_out_and_not_the_customer(system: System):
    number, stranger = fresh_number(), random_ip()
    for _ in range(3):
        rid = (await system.submit(stranger, customer_number=number)).json()["id"]
        await system.erp_says(rid, number, "invoice_mismatch")
    refused = await system.submit(stranger, customer_number=number)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "too_many_attempts"
    assert 0 < int(refused.headers["Retry-After"]) <= system.settings.lockout_duration_s
    # the real customer, from its own address, with the right invoice: through and verified
    real = await system.submit(random_ip(), customer_number=number)
    assert real.status_code == 202
    await system.erp_says(real.json()["id"], number)
    assert (await system.status(real.json()["id"]))["status"] != "rejected"
    system.clock.advance(seconds=system.settings.lockout_duration_s)
    assert (await system.submit(stranger, customer_number=number)).status_code == 202


async def test_guessing_spread_over_many_addresses_leaves_only_fresh_addresses_one_attempt(system: System):
    number = fresh_number()
    guessers = [random_ip() for _ in range(6)]  # the customer-wide limit: 6 failures, one per address
    for ip in guessers:
        rid = (await system.submit(ip, customer_number=number)).json()["id"]
        await system.erp_says(rid, number, "invoice_mismatch")
    again = await system.submit(guessers[0], customer_number=number)
    assert again.status_code == 429 and again.json()["error"]["code"] == "too_many_attempts"
    customer = random_ip()
    first = await system.submit(customer, customer_number=number)
    assert first.status_code == 202  # a correct verification of the real customer gets through
    assert (await system.submit(customer, customer_number=number)).status_code == 429  # one while it holds
    await system.erp_says(first.json()["id"], number)
    assert (await system.status(first.json()["id"]))["status"] != "rejected"
    system.clock.advance(seconds=system.settings.lockout_customer_duration_s)
    assert (await system.submit(guessers[0], customer_number=number)).status_code == 202


async def test_repeated_failures_lock_the_client_address_whatever_the_customer_number(system: System):
    ip = random_ip()
    for _ in range(5):
        number = fresh_number()
        rid = (await system.submit(ip, customer_number=number)).json()["id"]
        await system.erp_says(rid, number, "unknown_customer")
    refused = await system.submit(ip, customer_number=fresh_number())
    assert refused.status_code == 429 and refused.headers["Retry-After"]
    assert (await system.submit(random_ip(), customer_number=fresh_number())).status_code == 202


async def test_a_burst_of_attempts_is_held_back_before_the_erp_answers(system: System):
    number, ip = fresh_number(), random_ip()
    statuses = [(await system.submit(ip, customer_number=number)).status_code for _ in range(5)]
    assert statuses == [202, 202, 202, 429, 429]


async def test_concurrent_attempts_of_one_address_are_all_counted(system: System):
    ip = random_ip()
    responses = await asyncio.gather(*(system.submit(ip, customer_number=fresh_number()) for _ in range(8)))
    assert sorted(r.status_code for r in responses) == [202] * 5 + [429] * 3


async def test_lockouts_and_every_attempt_are_recorded_for_support(system: System):
    number, ip = fresh_number(), random_ip()
    ids = []
    for _ in range(6):  # from one address: that address is locked out; from six: the customer-wide limit
        rid = (await system.submit(ip if len(ids) < 3 else random_ip(), customer_number=number, invoice="R-X")).json()[
            "id"
        ]
        await system.erp_says(rid, number, "invoice_mismatch")
        ids.append(rid)
    assert (await system.submit(ip, customer_number=number)).status_code == 429
    async with system.client() as c:
        r = await c.get(
            "/ops/registrations",
            params={"customer_number": number, "events": "true"},
            headers=ops_headers("registration"),
        )
    assert r.status_code == 200
    out = r.json()
    assert out["lockout"]["locked"] is True and out["lockout"]["lockouts"] == 1
    attempts = out["attempts"]
    assert len(attempts) == 7
    assert attempts[0]["reason"] == "too_many_attempts"  # newest first: the refused one
    assert [a["id"] for a in attempts[1:]] == ids[::-1]
    assert {a["reason"] for a in attempts[1:]} == {"invoice_mismatch"}
    assert {a["public_reason"] for a in attempts[1:]} == {"verification_failed"}
    assert [e["name"] for e in attempts[-1]["events"]] == ["Submitted", "VerificationRequested", "Rejected"]


async def test_a_registered_company_cannot_register_again_and_is_told_to_ask_its_main_contact(system: System):
    number = fresh_number()
    rid, token = await system.verified(customer_number=number)
    assert (await system.confirm(rid, token)).status_code == 200
    second = (await system.submit(customer_number=number)).json()["id"]
    await system.erp_says(second, number)
    status = await system.status(second)
    assert (status["status"], status["reason"]) == ("rejected", "already_registered")
    assert "main contact" in status["message"]
    assert len(system.outbox.of_type(ConfirmationRequested)) == 1


async def test_of_two_pending_registrations_of_one_company_only_the_first_confirmed_completes(system: System):
    number = fresh_number()
    first, first_token = await system.verified(customer_number=number)
    second, second_token = await system.verified(customer_number=number)
    assert (await system.confirm(second, second_token)).status_code == 200
    late = await system.confirm(first, first_token)
    assert (late.status_code, late.json()["error"]["code"]) == (409, "already_registered")
    assert len(system.outbox.of_type(RegistrationCompleted)) == 1


async def test_a_redelivered_answer_is_applied_once(system: System):
    rid = (await system.submit()).json()["id"]
    await system.erp_says(rid)
    await system.erp_says(rid)  # another copy (new notification id): the attempt is no longer verifying
    assert len(system.outbox.of_type(ConfirmationRequested)) == 1


HOSTILE = [
    b"{not json",
    b"\x00\xff\xfe",
    b"[]",
    b"null",
    b"[" * 50_000,
    json.dumps(body(customer_number=12345)).encode(),
    json.dumps(body(customer_number=["10001"])).encode(),
    json.dumps(body(customer_number="1" * 100_000)).encode(),
    json.dumps(body(first_name="A" * 1000)).encode(),
    json.dumps(body(first_name="Anna\u0000")).encode(),
    json.dumps(body(last_name="Mü\r\nBcc: x@example.com")).encode(),
    json.dumps(body(first_name="<script>alert(1)</script>")).encode(),
    json.dumps(body(customer_number="10001' OR '1'='1")).encode(),
    json.dumps(body(invoice="R-1; DROP TABLE registrations;--")).encode(),
    json.dumps(body(email="a@b")).encode(),
    json.dumps(body(email="anna@example.com\r\nBcc: victim@example.com")).encode(),
    json.dumps(body(email="x" * 300 + "@example.com")).encode(),
    json.dumps(body(language="fr")).encode(),
    json.dumps({**body(), "is_admin": True}).encode(),
    json.dumps({k: v for k, v in body().items() if k != "invoice_number"}).encode(),
    json.dumps(body(customer_number="{{7*7}}")).encode(),
    json.dumps(body(first_name="${jndi:ldap://x}")).encode(),
]


@pytest.mark.parametrize("raw", HOSTILE)
async def test_hostile_registrations_get_4xx_with_a_code_and_are_not_recorded(system: System, raw: bytes):
    async with system.client() as c:
        r = await c.post("/api/registrations", content=raw, headers={"Content-Type": "application/json"})
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["error"]["code"]
    assert system.registrations.max_notification_id() == 0


# A registration nobody made; fixed, so every pytest-xdist worker collects the same test ids.
UNKNOWN = "/api/registrations/6f1c9a52-3d4b-4e7f-9a10-2b8c5d7e4f31/confirm"


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/api/registrations/not-a-uuid", None),
        ("/api/registrations/%00", None),
        ("/api/registrations/" + "a" * 5000, None),
        (UNKNOWN, {"token": 123}),
        (UNKNOWN, {"token": "a" * 5000}),
        (UNKNOWN, {"token": "abc' OR 1=1 --"}),
        (UNKNOWN, {"token": "abc\u0000"}),
        (UNKNOWN, {}),
        ("/api/registrations/not-a-uuid/confirm", {"token": "abc"}),
    ],
)
async def test_hostile_reads_and_confirmations_get_4xx_with_a_code(system: System, path, payload):
    async with system.client() as c:
        r = await (c.get(path) if payload is None else c.post(path, json=payload))
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["error"]["code"]


async def test_names_of_any_script_are_welcome(system: System):
    for first, last in [("Zoë", "Ørsted"), ("José María", "D'Angelo"), ("Łukasz", "Żółć"), ("Ann-Kathrin", "St. John")]:
        r = await system.submit(customer_number=fresh_number(), first_name=first, last_name=last)
        assert r.status_code == 202, r.text
