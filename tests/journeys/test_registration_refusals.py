"""What the ERP refuses, and what the registration refuses on its own: never saying which input was wrong,
locking out guessers, and sending a registered company to its main contact."""

from __future__ import annotations

import pytest

from tests.journeys.test_registration_support import (
    Registrar,
    confirmation_token,
    new_customer,
    random_ip,
    support_view,
    unique_email,
)

pytestmark = pytest.mark.journey


async def test_a_wrong_invoice_is_refused_without_saying_which_input_was_wrong(gateway, erp_simulator):
    mine, other = await new_customer(erp_simulator), await new_customer(erp_simulator)
    registrar = Registrar(gateway, random_ip())
    decided = await registrar.decided(await registrar.started(mine, other["invoices"][0]))
    assert (decided["status"], decided["reason"]) == ("rejected", "verification_failed")
    assert "customer number" in decided["message"] and "invoice number" in decided["message"]
    (attempt,) = (await support_view(mine["customer_number"]))["attempts"]
    assert attempt["reason"] == "invoice_mismatch"  # support sees the whole truth


async def test_an_unknown_customer_gets_the_same_answer_as_a_wrong_invoice(gateway, erp_simulator):
    registrar = Registrar(gateway, random_ip())
    known = await new_customer(erp_simulator)
    wrong_invoice = await registrar.decided(await registrar.started(known, "R-NOT-THEIRS"))
    unknown = await registrar.decided(await registrar.started("8" + known["customer_number"], "R-1"))
    for answer in (wrong_invoice, unknown):
        del answer["id"], answer["submitted_at"]
    assert unknown == wrong_invoice
    assert unknown["reason"] == "verification_failed"


async def test_a_customer_the_erp_does_not_allow_is_refused(gateway, erp_simulator):
    customer = await new_customer(erp_simulator, customer_center_allowed=False)
    registrar = Registrar(gateway, random_ip())
    decided = await registrar.decided(await registrar.started(customer))
    assert (decided["status"], decided["reason"]) == ("rejected", "not_allowed")


async def test_a_strangers_failures_lock_the_stranger_out_while_the_real_customer_gets_through(gateway, erp_simulator):
    customer = await new_customer(erp_simulator)
    stranger = Registrar(gateway, random_ip())
    for attempt in range(5):  # the default limit per customer number from one address
        decided = await stranger.decided(await stranger.started(customer, f"R-GUESS-{attempt}"))
        assert decided["reason"] == "verification_failed"
    locked = await stranger.submit(customer)  # even with the right invoice: this address is locked for it
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "too_many_attempts"
    assert 0 < int(locked.headers["Retry-After"]) <= 900
    real = Registrar(gateway, random_ip())  # the customer, from its own address, with its invoice
    decided = await real.decided(await real.started(customer))
    assert decided["status"] != "rejected", decided
    view = await support_view(customer["customer_number"])
    reasons = [a["reason"] for a in view["attempts"]]
    assert reasons[1:] == ["too_many_attempts"] + ["invoice_mismatch"] * 5  # newest first, after the real one


async def test_repeated_failures_lock_the_client_address_out_whatever_it_tries(gateway, erp_simulator):
    registrar = Registrar(gateway, random_ip())
    for attempt in range(20):  # the default limit per client address
        decided = await registrar.decided(await registrar.started(f"6{attempt:02d}{random_ip().replace('.', '')}"))
        assert decided["reason"] == "verification_failed"
    real = await new_customer(erp_simulator)
    locked = await registrar.submit(real)
    assert (locked.status_code, locked.json()["error"]["code"]) == (429, "too_many_attempts")
    assert int(locked.headers["Retry-After"]) > 0
    elsewhere = await Registrar(gateway, random_ip()).submit(real)
    assert elsewhere.status_code == 202


async def test_a_registered_company_cannot_register_again_and_is_sent_to_its_main_contact(gateway, erp_simulator):
    customer = await new_customer(erp_simulator)
    registrar = Registrar(gateway, random_ip())
    email = unique_email("first")
    first = await registrar.started(customer, email=email)
    assert (await registrar.decided(first))["status"] == "awaiting_confirmation"
    assert (await registrar.confirm(first, await confirmation_token(first, email))).status_code == 200

    second = await Registrar(gateway, random_ip()).started(customer, customer["invoices"][2], email=unique_email())
    decided = await registrar.decided(second)
    assert (decided["status"], decided["reason"]) == ("rejected", "already_registered")
    assert "main contact" in decided["message"]
