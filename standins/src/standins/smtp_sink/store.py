"""Received mails: MIME decoding and the store (memory plus an optional JSON lines file)."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage, Message, MIMEPart
from email.parser import BytesParser
from email.utils import getaddresses
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger("standins.smtp_sink")


def _text_of(part: Message) -> str | None:
    """The part's text; a part the modern API cannot decode (unknown charset, broken encoding) as UTF-8 bytes."""
    try:
        if not isinstance(part, MIMEPart):
            raise ValueError("a part of the legacy API")
        content = part.get_content()
    except (LookupError, KeyError, ValueError, AttributeError):
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            return None
        content = payload.decode("utf-8", errors="replace")
    if isinstance(content, bytes):
        content = content.decode("utf-8", errors="replace")
    if not isinstance(content, str):
        return None
    return content.replace("\r\n", "\n")  # the SMTP wire's line ends are not part of the text


def _header_str(value: Any) -> str:
    try:
        return str(value)
    except Exception:  # a header the parser could not make sense of
        return repr(value)


def parse_mail(raw: bytes, mail_from: str, rcpt_tos: list[str]) -> dict[str, Any]:
    """Decode one mail into the record the HTTP API shows."""
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    headers: dict[str, str] = {}
    for name, value in msg.items():
        text = _header_str(value)
        headers[name] = f"{headers[name]}, {text}" if name in headers else text

    text_body: str | None = None
    html_body: str | None = None
    attachments: list[dict[str, Any]] = []
    if isinstance(msg, EmailMessage):
        plain = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
        text_body = _text_of(plain) if plain is not None else None
        html_body = _text_of(html) if html is not None else None
        for part in msg.iter_attachments():
            payload = part.get_payload(decode=True)
            attachments.append(
                {
                    "filename": part.get_filename(),
                    "content_type": part.get_content_type(),
                    "size": len(payload) if isinstance(payload, bytes) else None,
                }
            )
    if text_body is None and html_body is None and not msg.is_multipart():
        text_body = _text_of(msg)  # e.g. a body of an unusual type

    subject = msg.get("Subject")
    return {
        "id": uuid.uuid4().hex,
        "received_at": datetime.now(UTC).isoformat(),
        "mail_from": mail_from,
        "rcpt_tos": list(rcpt_tos),
        "subject": _header_str(subject) if subject is not None else None,
        "headers": headers,
        "text": text_body,
        "html": html_body,
        "attachments": attachments,
        "size": len(raw),
    }


def _header(record: dict[str, Any], name: str) -> str:
    lowered = name.lower()
    return ", ".join(v for k, v in record.get("headers", {}).items() if k.lower() == lowered)


def recipients(record: dict[str, Any]) -> set[str]:
    """Envelope recipients and the addresses in the To and Cc headers, lower-cased."""
    found = {addr.lower() for addr in record.get("rcpt_tos", [])}
    for _name, addr in getaddresses([_header(record, "To"), _header(record, "Cc")]):
        if addr:
            found.add(addr.lower())
    return found


class MailStore:
    def __init__(self, store_file: Path | None) -> None:
        self.store_file = store_file
        self._records: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def load(self) -> int:
        """Reload the records of an earlier run from the store file; returns how many."""
        if self.store_file is None or not self.store_file.exists():
            return 0
        loaded: list[dict[str, Any]] = []
        with self.store_file.open(encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:  # e.g. a line cut short by a crash
                    log.warning("skipping an unreadable line of the store file", line=number)
                    continue
                if isinstance(record, dict) and "id" in record:
                    loaded.append(record)
        with self._lock:
            self._records = loaded
        return len(loaded)

    def add(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._records.append(record)
            if self.store_file is not None:
                self.store_file.parent.mkdir(parents=True, exist_ok=True)
                with self.store_file.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(record, ensure_ascii=False) + "\n")

    def clear(self) -> int:
        with self._lock:
            count = len(self._records)
            self._records = []
            if self.store_file is not None and self.store_file.exists():
                self.store_file.write_text("", encoding="utf-8")
        return count

    def get(self, message_id: str) -> dict[str, Any] | None:
        with self._lock:
            return next((r for r in self._records if r.get("id") == message_id), None)

    def find(self, to: str | None = None, subject_contains: str | None = None) -> list[dict[str, Any]]:
        """Oldest first. ``to`` matches a recipient exactly, ``subject_contains`` a part of the subject; both
        case-insensitively."""
        with self._lock:
            records = list(self._records)
        if to:
            wanted = to.strip().lower()
            records = [r for r in records if wanted in recipients(r)]
        if subject_contains:
            needle = subject_contains.lower()
            records = [r for r in records if needle in (r.get("subject") or "").lower()]
        return records

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)
