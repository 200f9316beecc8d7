"""The approval-request mail's one-click links (ADR 0031): signed for its recipient, the order at the version of the
request, one decision each; absent where the request carries no version, and from every other kind of mail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit
from uuid import uuid4

import pytest

from kc_runtime.decision_links import verify
from notifications.adapters.outbound.dispatcher import DecisionLinkSigner
from notifications.adapters.outbound.templates import Templates

SECRET = "a-test-secret-of-at-least-thirty-two-bytes!"
QUEUED = datetime(2026, 12, 6, 9, tzinfo=UTC)
SIGNER = DecisionLinkSigner(SECRET, timedelta(days=7), "/kundencenter/decision?token={token}")
DATA = {"order_path": "/orders/1", "total": {"amount": "10", "currency": "EUR"}, "reference": "",
        "exceeded": [{"limit": "max_value", "allowed": "5", "actual": "10", "currency": "EUR"}]}  # fmt: skip


def mail(kind: str = "approval_requested", **data):  # the fields of a Mail the signer reads
    order_id = uuid4()
    return SimpleNamespace(kind=kind, to_user_id=uuid4(), queued_at=QUEUED,
                           data={**DATA, "order_id": str(order_id), **data})  # fmt: skip


def token(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def test_each_link_names_the_recipient_the_order_its_version_and_one_decision():
    m = mail(version=3)
    urls = SIGNER.urls(m, "https://shop.example")  # type: ignore[arg-type]
    for action in ("approve", "reject"):
        assert urls[f"{action}_url"].startswith("https://shop.example/kundencenter/decision?token=")
        link = verify(SECRET, token(urls[f"{action}_url"]), now=QUEUED)
        assert (link.approver_id, str(link.order_id), link.version, link.action) == (
            m.to_user_id, m.data["order_id"], 3, action,
        )  # fmt: skip
        assert link.expires_at == QUEUED + timedelta(days=7)
    assert SIGNER.urls(m, "https://shop.example") == urls  # the same links however often the mail is rendered


@pytest.mark.parametrize("m", [mail(), mail("order_rejected", version=3), mail(version="3")])
def test_no_links_without_a_version_or_in_other_mails(m):
    assert SIGNER.urls(m, "https://shop.example") == {}  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("language", "words"), [("de", ("Freigeben: ", "Ablehnen: ")), ("en", ("Approve: ", "Reject: "))]
)
def test_the_mail_shows_both_links_in_text_and_html(language, words):
    urls = SIGNER.urls(mail(version=2), "https://shop.example")  # type: ignore[arg-type]
    rendered = Templates().render("approval_requested", language, shop_url="https://shop.example",
                                  recipient_name="Anna", **DATA, **urls)  # fmt: skip
    assert f"{words[0]}{urls['approve_url']}" in rendered.text and f"{words[1]}{urls['reject_url']}" in rendered.text
    assert f'href="{urls["approve_url"]}"' in rendered.html and f'href="{urls["reject_url"]}"' in rendered.html


def test_a_mail_without_links_still_renders():
    rendered = Templates().render("approval_requested", "de", shop_url="https://x", recipient_name="Anna", **DATA)
    assert "Freigeben:" not in rendered.text
