"""Who is calling (approval): the member users bound to the token's (issuer, subject); a member users has not
bound yet only by the token's verified e-mail."""

from __future__ import annotations

import pytest

from approval.application.orders import CallerInactive, EmailNotVerified, IdentityMismatch, Orders, UnknownCaller
from tests.support.users import TEST_ISSUER, signed_in


def bind(orders: Orders, member, subject: str) -> None:
    orders.save(*orders.member_signed_in(member.id, TEST_ISSUER, subject))


def test_a_bound_member_is_found_by_subject_whatever_the_email_claim(orders, company):
    buyer = company.buyer()
    bind(orders, buyer, "idp|bea")
    assert orders.caller(signed_in("other@example.org", subject="idp|bea")).id == buyer.id
    assert orders.caller(signed_in(None, subject="idp|bea")).id == buyer.id


def test_a_bound_members_email_with_another_subject_is_identity_mismatch(orders, company):
    buyer = company.buyer()
    bind(orders, buyer, "idp|bea")
    with pytest.raises(IdentityMismatch) as refused:
        orders.caller(signed_in(buyer.email, subject="idp|mallory"))
    assert refused.value.code == "identity_mismatch"


def test_a_member_not_bound_yet_is_found_by_a_verified_email_only(orders, company):
    buyer = company.buyer()
    assert orders.caller(signed_in(buyer.email, subject="idp|bea")).id == buyer.id
    with pytest.raises(EmailNotVerified) as refused:
        orders.caller(signed_in(buyer.email, subject="idp|bea", verified=False))
    assert refused.value.code == "email_not_verified"


@pytest.mark.parametrize("claim", [None, "", 42, ["a@example.com"]])
def test_an_unbound_subject_without_a_usable_email_is_unknown(orders, company, claim):
    with pytest.raises(UnknownCaller) as refused:
        orders.caller(signed_in(claim, subject="idp|nobody"))
    assert refused.value.code == "unknown_user"


def test_a_deactivated_bound_member_is_refused(orders, company):
    buyer = company.buyer()
    bind(orders, buyer, "idp|bea")
    orders.save(*orders.member_changed(buyer.id, active=False))
    with pytest.raises(CallerInactive):
        orders.caller(signed_in(buyer.email, subject="idp|bea"))


def test_the_binding_is_applied_once(orders, company):
    buyer = company.buyer()
    bind(orders, buyer, "idp|bea")
    assert orders.member_signed_in(buyer.id, TEST_ISSUER, "idp|bea") == []
