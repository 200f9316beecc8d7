"""Nothing that reaches a mail carries a line break or control character where the mail does not expect one: a
reference or name with CR/LF cannot add a header or a line that looks like ours; comments keep their line breaks."""

from __future__ import annotations

import pytest

from notifications.adapters.outbound.smtp import PermanentMailError, SmtpSender
from notifications.adapters.outbound.templates import Rendered, Templates

APPROVAL = {"order_path": "/orders/1", "total": {"amount": "10", "currency": "EUR"}, "recipient_name": "Anna",
            "exceeded": [{"limit": "max_value", "allowed": "5", "actual": "10", "currency": "EUR"}]}  # fmt: skip
INJECTION = "PO-1\r\nBcc: attacker@example.com\r\n\r\nPlease pay to IBAN X"


@pytest.mark.parametrize("language", ["de", "en"])
def test_a_reference_with_line_breaks_stays_one_line_in_the_subject_and_the_text(language):
    rendered = Templates().render("approval_requested", language, shop_url="https://x", reference=INJECTION, **APPROVAL)
    assert "\r" not in rendered.subject and "\n" not in rendered.subject
    assert "PO-1 Bcc: attacker@example.com Please pay to IBAN X" in rendered.subject
    lines = rendered.text.splitlines()
    assert not any(line.startswith(("Bcc:", "Please pay")) for line in lines)
    assert "\r" not in rendered.text


def test_control_and_bidi_override_characters_never_reach_a_mail():
    name = "Anna\x1b[31m\x07 \u202eevil\u202c"
    data = {**APPROVAL, "recipient_name": name}
    rendered = Templates().render("approval_requested", "en", shop_url="https://x", reference="R\u202e1", **data)
    for part in (rendered.subject, rendered.text, rendered.html):
        assert not any(ch in part for ch in "\x1b\x07\u202e\u202c"), part


def test_a_comment_keeps_its_line_breaks_but_no_other_control_characters():
    data = {"order_path": "/orders/1", "total": {"amount": "10", "currency": "EUR"}, "recipient_name": "Bob",
            "comment": "line one\nline two\x1b"}  # fmt: skip
    rendered = Templates().render("order_rejected", "en", shop_url="https://x", **data)
    assert "line one\nline two" in rendered.text and "\x1b" not in rendered.text


@pytest.mark.parametrize(
    ("to", "subject"), [("a@example.com\r\nBcc: b@example.com", "Hi"), ("a@example.com", "Hi\r\nBcc: b@example.com")]
)
def test_the_sender_refuses_a_header_with_a_line_break_before_connecting(to, subject):
    sender = SmtpSender("127.0.0.1", 1, "shop@example.com")  # port 1: connecting would fail differently
    with pytest.raises(PermanentMailError, match="control"):
        sender.send(to, Rendered(language="en", subject=subject, text="t", html="h"), "<id@x>", "kind")
