"""The SMTP sink: a mail sent with smtplib shows up, decoded, over HTTP; the store file survives a restart."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx


def _sink(standin: Any, smtp_port: int, store_file: Path | None = None) -> Any:
    env = {"SMTP_SINK_SMTP_HOST": "127.0.0.1", "SMTP_SINK_SMTP_PORT": str(smtp_port)}
    if store_file is not None:
        env["SMTP_SINK_STORE_FILE"] = str(store_file)
    return standin("standins.smtp_sink", "SMTP_SINK_", env)


def _send(smtp_port: int, to: str, subject: str, text: str, html: str | None = None) -> None:
    mail = EmailMessage()
    mail["From"] = "Kundencenter <noreply@kundencenter.example>"
    mail["To"] = f"Jürgen Müller <{to}>"
    mail["Subject"] = subject
    mail["X-Correlation-ID"] = "corr-123"
    mail.set_content(text)
    if html is not None:
        mail.add_alternative(html, subtype="html")
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as smtp:
        smtp.send_message(mail)


def test_received_mail_is_shown_over_http(standin: Any, free_port: Any) -> None:
    smtp_port = free_port()
    sink = _sink(standin, smtp_port)
    client = httpx.Client(base_url=sink.url, timeout=5)

    _send(
        smtp_port,
        "juergen@example.com",
        "Ihre Registrierung: Bestätigung ✓",
        "Hallo Jürgen,\nbitte bestätigen Sie.",
        "<p>Hallo J&uuml;rgen, <a href='https://x.example/confirm'>bestätigen</a></p>",
    )
    _send(smtp_port, "other@example.com", "Something else", "plain only")

    mails = client.get("/messages", params={"to": "JUERGEN@example.com"}).json()
    assert len(mails) == 1
    mail = mails[0]
    assert mail["subject"] == "Ihre Registrierung: Bestätigung ✓"
    assert mail["mail_from"] == "noreply@kundencenter.example"
    assert mail["rcpt_tos"] == ["juergen@example.com"]
    assert mail["text"] == "Hallo Jürgen,\nbitte bestätigen Sie.\n"
    assert "https://x.example/confirm" in mail["html"]
    assert mail["headers"]["X-Correlation-ID"] == "corr-123"
    assert mail["headers"]["To"] == "Jürgen Müller <juergen@example.com>"
    assert mail["id"] and mail["received_at"]
    assert client.get(f"/messages/{mail['id']}").json() == mail

    assert [m["subject"] for m in client.get("/messages", params={"subject_contains": "bestätigung"}).json()] == [
        "Ihre Registrierung: Bestätigung ✓"
    ]
    plain = client.get("/messages", params={"to": "other@example.com"}).json()[0]
    assert plain["text"] == "plain only\n" and plain["html"] is None
    assert len(client.get("/messages").json()) == 2

    assert client.delete("/messages").json() == {"deleted": 2}
    assert client.get("/messages").json() == []
    sink.stop_cleanly()


def test_mails_survive_a_restart_with_a_store_file(standin: Any, free_port: Any, tmp_path: Path) -> None:
    smtp_port = free_port()
    store_file = tmp_path / "mails.jsonl"
    first = _sink(standin, smtp_port, store_file)
    _send(smtp_port, "keep@example.com", "Kept", "still here")
    first.stop_cleanly()

    second = _sink(standin, smtp_port, store_file)
    mails = httpx.get(f"{second.url}/messages", params={"to": "keep@example.com"}, timeout=5).json()
    assert [m["subject"] for m in mails] == ["Kept"]
    assert mails[0]["text"] == "still here\n"
