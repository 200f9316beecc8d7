"""Sending a mail over SMTP (the standard library's smtplib, called from a worker thread)."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import formatdate

from contracts.limits import unsafe_character
from notifications.adapters.outbound.templates import Rendered


class PermanentMailError(Exception):
    """The server refused the mail for good (5xx): retrying cannot help."""


class SmtpSender:
    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout_s: float = 10.0,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password, self.starttls, self.timeout_s = username, password, starttls, timeout_s

    def send(self, to: str, rendered: Rendered, message_id: str, kind: str) -> None:
        # Nothing reaches a header with a line break or another control character (a header injection): the
        # templates clean what they show, and an address or subject that still holds one is refused for good.
        for name, value in (("To", to), ("Subject", rendered.subject), ("Message-ID", message_id), ("Kind", kind)):
            if unsafe_character(value) is not None:
                raise PermanentMailError(f"{name} holds a control or bidi-formatting character; not sent")
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = to
        msg["Subject"] = rendered.subject
        msg["Message-ID"] = message_id
        msg["Date"] = formatdate(localtime=False)
        msg["Content-Language"] = rendered.language
        msg["X-Kundencenter-Kind"] = kind
        msg.set_content(rendered.text)
        msg.add_alternative(rendered.html, subtype="html")
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentMailError(str(exc)) from exc
        except smtplib.SMTPResponseException as exc:
            if 500 <= exc.smtp_code < 600:
                raise PermanentMailError(f"{exc.smtp_code} {exc.smtp_error!r}") from exc
            raise
