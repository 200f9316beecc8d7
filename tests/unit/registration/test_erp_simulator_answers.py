"""The ERP simulator answers verifications in the contract's order: customer, invoice, permission."""

from datetime import UTC, datetime
from uuid import uuid4

from contracts.erp.v1 import CustomerVerificationRequested
from standins.erp_simulator.seed import SEED_CUSTOMERS
from standins.erp_simulator.verification import answer

NOW = datetime.now(UTC)
SEED = {c["customer_number"]: c for c in SEED_CUSTOMERS}


def ask(customer_number: str, invoice: str) -> CustomerVerificationRequested:
    rid = uuid4()
    return CustomerVerificationRequested(
        idempotency_key=f"customer-verification/{rid}",
        verification_id=rid,
        customer_number=customer_number,
        invoice_number=invoice,
        requested_at=NOW,
    )


def test_a_known_allowed_customer_with_its_invoice_is_verified_with_master_data_and_contacts():
    a = answer(ask("10001", "r-10001-2"), SEED["10001"], NOW)
    assert a.outcome == "verified"
    assert a.customer is not None and a.customer.name == "Muster Maschinenbau GmbH"
    assert a.customer.billing_address is not None and a.customer.billing_address.city == "Stuttgart"
    assert len(a.contacts) == 2


def test_an_unknown_customer_is_unknown():
    assert answer(ask("99999", "R-10001-1"), None, NOW).outcome == "unknown_customer"


def test_another_customers_invoice_is_a_mismatch():
    assert answer(ask("10001", "R-10002-1"), SEED["10001"], NOW).outcome == "invoice_mismatch"


def test_a_customer_not_allowed_is_told_so_only_with_a_matching_invoice():
    assert answer(ask("10003", "R-10003-1"), SEED["10003"], NOW).outcome == "not_allowed"
    assert answer(ask("10003", "R-10001-1"), SEED["10003"], NOW).outcome == "invoice_mismatch"


def test_the_answer_echoes_the_question():
    q = ask("10002", "R-10002-1")
    a = answer(q, SEED["10002"], NOW)
    assert (a.verification_id, a.idempotency_key, a.customer_number) == (
        q.verification_id,
        q.idempotency_key,
        "10002",
    )


def test_the_seed_has_allowed_and_not_allowed_customers_with_invoices():
    assert {c["customer_center_allowed"] for c in SEED_CUSTOMERS} == {True, False}
    assert all(c["invoices"] for c in SEED_CUSTOMERS)
