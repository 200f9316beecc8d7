"""The buyer's approval mail says when their order went to the ERP in a bundle with others (ADR 0034), in both
languages — and says nothing of bundles when it went on its own."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

import pytest

from contracts.approval import v1 as approval
from contracts.base import Money
from notifications.adapters.inbound.kafka import approved
from notifications.adapters.outbound.templates import Templates

SAID = {"de": "Sammelbestellung gebündelt", "en": "bundled with other orders of your company"}


def approval_of(bundle_id) -> approval.OrderApproved:
    return approval.OrderApproved(
        order_id=uuid4(), company_id=uuid4(), buyer_id=uuid4(), approver_id=uuid4(), comment="Passt",
        total=Money(amount=Decimal("120.00"), currency="EUR"), approved_at=datetime(2026, 12, 1, 9, tzinfo=UTC),
        bundle_id=bundle_id,
    )  # fmt: skip


@pytest.mark.parametrize("language", ["de", "en"])
@pytest.mark.parametrize("bundled", [True, False])
def test_the_approval_mail_says_whether_the_order_went_out_in_a_bundle(language, bundled):
    m = approval_of(uuid4() if bundled else None)
    (mail,) = approved(m)
    assert mail.to_user_id == m.buyer_id
    r = Templates().render(mail.kind, language, shop_url="https://shop", recipient_name="Anna", **mail.data)
    for text in (r.text, r.html):
        assert (SAID[language] in text) is bundled
