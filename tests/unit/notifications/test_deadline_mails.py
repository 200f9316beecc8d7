"""The mails of the deadlines of waiting orders (ADR 0033): a reminder is the approval request again, marked as such,
with how long the order has waited, to each approver reminded; the expiry goes to the buyer, who may send the order
again. Both render in both languages."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

import pytest

from contracts.approval import v1 as approval
from contracts.base import Money
from notifications.adapters.inbound.kafka import expired, reminded
from notifications.adapters.outbound.templates import Templates
from notifications.domain.preferences import CATALOGUE

TOTAL = Money(amount=Decimal("1234.50"), currency="EUR")
SINCE = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def render(kind: str, language: str, data: dict) -> tuple[str, str]:
    r = Templates().render(kind, language, shop_url="https://shop", recipient_name="Anna", **data)
    return r.subject, r.text + "\n" + r.html


def test_a_reminder_is_the_approval_request_again_to_each_approver_reminded():
    m = approval.OrderApprovalReminded(
        order_id=uuid4(), company_id=uuid4(), buyer_id=uuid4(), approver_ids=[uuid4(), uuid4()], exceeded_limits=[],
        total=TOTAL, total_quantity=3, reference="PO-1", waiting_since=SINCE,
        reminded_at=datetime(2026, 12, 1, 13, 0, tzinfo=UTC), version=4,
    )  # fmt: skip
    mails = reminded(m)
    assert [(x.kind, x.to_user_id) for x in mails] == [("approval_requested", a) for a in m.approver_ids]
    assert (mails[0].data["reminder"], mails[0].data["version"]) == (True, 4)  # its one-click links (ADR 0031)
    assert CATALOGUE["approval_requested"].action_needed  # a reminder cannot be switched off


@pytest.mark.parametrize(
    ("language", "prefix", "since"),
    [("de", "Erinnerung: ", "1. Dezember 2026"), ("en", "Reminder: ", "has been waiting since 1 December 2026")],
)
def test_the_reminder_says_so_and_since_when(language, prefix, since):
    m = approval.OrderApprovalReminded(
        order_id=uuid4(), company_id=uuid4(), buyer_id=uuid4(), approver_ids=[uuid4()], exceeded_limits=[],
        total=TOTAL, total_quantity=3, waiting_since=SINCE, reminded_at=SINCE, version=2,
    )  # fmt: skip
    subject, body = render("approval_requested", language, reminded(m)[0].data)
    assert subject.startswith(prefix)
    assert since in body
    plain = {k: v for k, v in reminded(m)[0].data.items() if k not in ("reminder", "waiting_since")}
    assert not render("approval_requested", language, plain)[0].startswith(prefix)  # a first request is no reminder


@pytest.mark.parametrize("language", ["de", "en"])
def test_the_expiry_goes_to_the_buyer_and_invites_to_send_it_again(language):
    m = approval.OrderExpired(
        order_id=uuid4(), company_id=uuid4(), buyer_id=uuid4(), total=TOTAL, waiting_since=SINCE,
        expired_at=datetime(2026, 12, 4, 9, 0, tzinfo=UTC),
    )  # fmt: skip
    (mail,) = expired(m)
    assert (mail.kind, mail.to_user_id) == ("order_expired", m.buyer_id)
    subject, body = render(mail.kind, language, mail.data)
    assert ("abgelaufen" if language == "de" else "expired") in subject
    assert ("1.234,50" if language == "de" else "1,234.50") in subject
    assert f"https://shop/orders/{m.order_id}" in body
    assert not CATALOGUE["order_expired"].action_needed
