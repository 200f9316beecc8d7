"""The SMTP server and the HTTP inspection API of the SMTP sink."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import structlog
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session
from fastapi import FastAPI, HTTPException

from standins._common import add_health_routes, serve, setup_logging
from standins.smtp_sink.settings import SmtpSinkSettings
from standins.smtp_sink.store import MailStore, parse_mail

log = structlog.get_logger("standins.smtp_sink")


class SinkHandler:
    """aiosmtpd handler: every recipient is accepted and every mail is kept."""

    def __init__(self, store: MailStore) -> None:
        self.store = store

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", errors="surrogateescape")
        mail_from = envelope.mail_from or ""
        try:
            record = parse_mail(raw, mail_from, list(envelope.rcpt_tos))
        except Exception as exc:  # keep the mail even if it cannot be decoded
            log.warning("mail could not be decoded", error=repr(exc))
            record = parse_mail(b"", mail_from, list(envelope.rcpt_tos))
            record["text"] = raw.decode("utf-8", errors="replace")
        self.store.add(record)
        log.info(
            "mail received",
            id=record["id"],
            mail_from=mail_from,
            rcpt_tos=record["rcpt_tos"],
            subject=record["subject"],
            size=record["size"],
        )
        return "250 Message accepted for delivery"


def _accept_any_login(*_args: Any) -> AuthResult:
    """A client configured with credentials may log in with any; the sink is no security boundary."""
    return AuthResult(success=True)


async def smtp_answers(host: str, port: int, wait_s: float = 1.0) -> bool:
    """True when the SMTP port accepts a connection and greets with 220."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), wait_s)
    except (OSError, TimeoutError):
        return False
    try:
        greeting = await asyncio.wait_for(reader.readline(), wait_s)
        writer.write(b"QUIT\r\n")
        await writer.drain()
        return greeting.startswith(b"220")
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()
        with suppress(OSError, TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), wait_s)


def create_app(settings: SmtpSinkSettings | None = None) -> FastAPI:
    settings = settings or SmtpSinkSettings()
    store = MailStore(settings.store_file)
    handler = SinkHandler(store)
    probe_host = "127.0.0.1" if settings.smtp_host in ("0.0.0.0", "") else settings.smtp_host

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loaded = store.load()
        loop = asyncio.get_running_loop()

        def protocol() -> SMTP:
            return SMTP(
                handler,
                hostname=settings.smtp_hostname,
                ident="kundencenter smtp-sink (stand-in)",
                enable_SMTPUTF8=True,
                data_size_limit=settings.max_message_bytes,
                auth_require_tls=False,
                authenticator=_accept_any_login,
                timeout=60,
                loop=loop,
            )

        try:
            server = await loop.create_server(protocol, host=settings.smtp_host, port=settings.smtp_port)
        except OSError as exc:
            log.error("cannot listen for SMTP", host=settings.smtp_host, port=settings.smtp_port, error=str(exc))
            raise
        app.state.smtp_server = server
        log.info(
            "smtp sink started",
            smtp=f"{settings.smtp_host}:{settings.smtp_port}",
            store_file=str(settings.store_file) if settings.store_file else None,
            reloaded_messages=loaded,
        )
        try:
            yield
        finally:
            app.state.smtp_server = None
            server.close()
            with suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 5)
            log.info("smtp sink stopped")

    app = FastAPI(
        title="smtp-sink (stand-in)",
        description="SMTP server that keeps every mail for inspection. Local stack and tests only.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.smtp_server = None
    app.state.store = store

    async def readiness() -> dict[str, str]:
        server = app.state.smtp_server
        if server is None or not server.is_serving():
            return {"smtp": "not started"}
        ok = await smtp_answers(probe_host, settings.smtp_port)
        return {"smtp": "ok" if ok else "not answering"}

    add_health_routes(app, readiness)

    @app.get("/messages", summary="Received mails, oldest first")
    async def list_messages(to: str | None = None, subject_contains: str | None = None) -> list[dict[str, Any]]:
        return store.find(to=to, subject_contains=subject_contains)

    @app.get("/messages/{message_id}", summary="One received mail")
    async def get_message(message_id: str) -> dict[str, Any]:
        record = store.get(message_id)
        if record is None:
            raise HTTPException(404, "no such message")
        return record

    @app.delete("/messages", summary="Forget every received mail (memory and store file)")
    async def clear_messages() -> dict[str, int]:
        deleted = store.clear()
        log.info("messages cleared", deleted=deleted)
        return {"deleted": deleted}

    return app


def run() -> None:
    settings = SmtpSinkSettings()
    setup_logging(settings)
    # aiosmtpd logs every connection (and so every readiness probe) at INFO; we log each mail ourselves.
    mail_log = logging.getLogger("mail.log")
    mail_log.setLevel(logging.WARNING)
    # ... and warns on every AUTH that its own Session.login_data is deprecated; nothing we can change.
    mail_log.addFilter(lambda record: "login_data is deprecated" not in record.getMessage())
    serve(create_app(settings), settings)
