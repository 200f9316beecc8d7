"""The mails of an order waiting for credit (ADR 0026): the buyer learns why, never the company's figures; the main
contact gets the figures, formatted for their language; a main contact who is the buyer gets the one with figures."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

import pytest

from contracts.approval import v1 as approval
from contracts.base import Money
from notifications.adapters.inbound.kafka import credit_held
from notifications.adapters.outbound.templates import Templates


def held(reason: str = "credit_limit", main_contact=None, buyer=None) -> approval.OrderCreditHeld:
    return approval.OrderCreditHeld(
        order_id=uuid4(), company_id=uuid4(), buyer_id=buyer or uuid4(), main_contact_id=main_contact,
        reason=reason, total=Money(amount=Decimal("1234.50"), currency="EUR"),
        figures=approval.CreditFigures(
            currency="EUR", credit_limit=Decimal("5000"), open_receivables=Decimal("3000.25"),
            open_orders=Decimal("1000"), released_unconfirmed=Decimal("500"), available=Decimal("499.75"),
            as_of=datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
        ),
        held_at=datetime(2026, 12, 1, 9, 5, tzinfo=UTC),
    )  # fmt: skip


def render(kind: str, language: str, data: dict) -> str:
    r = Templates().render(kind, language, shop_url="https://shop", recipient_name="Anna", **data)
    return r.subject + "\n" + r.text + "\n" + r.html


def test_the_buyer_is_told_why_and_the_main_contact_gets_the_figures():
    m = held(main_contact=uuid4())
    to_buyer, to_main = credit_held(m)
    assert (to_buyer.kind, to_buyer.to_user_id) == ("order_credit_hold", m.buyer_id)
    assert (to_main.kind, to_main.to_user_id) == ("order_credit_hold_figures", m.main_contact_id)
    assert "figures" not in to_buyer.data and to_main.data["figures"]["available"] == "499.75"


def test_a_main_contact_who_ordered_gets_one_mail_with_the_figures():
    me = uuid4()
    (only,) = credit_held(held(main_contact=me, buyer=me))
    assert (only.kind, only.to_user_id) == ("order_credit_hold_figures", me)


@pytest.mark.parametrize("language", ["de", "en"])
@pytest.mark.parametrize("reason", ["credit_limit", "credit_blocked", "credit_queue", "credit_currency"])
def test_both_mails_render_in_both_languages_and_only_the_main_contacts_has_figures(language, reason):
    to_buyer, to_main = credit_held(held(reason, main_contact=uuid4()))
    buyer_text, main_text = render(to_buyer.kind, language, to_buyer.data), render(to_main.kind, language, to_main.data)
    receivables = "3.000,25" if language == "de" else "3,000.25"
    available = "499,75" if language == "de" else "499.75"  # (a bare "499" may be part of an order's random id)
    assert receivables not in buyer_text and available not in buyer_text
    assert receivables in main_text and available in main_text
    assert ("1.234,50" if language == "de" else "1,234.50") in buyer_text
