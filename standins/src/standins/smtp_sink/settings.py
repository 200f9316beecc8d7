from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from standins._common import StandinSettings


class SmtpSinkSettings(StandinSettings):
    model_config = SettingsConfigDict(env_prefix="SMTP_SINK_", extra="ignore")

    service_name: str = "smtp-sink"
    http_port: int = 8113
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    smtp_hostname: str = Field(default="smtp-sink.local", description="Name in the SMTP greeting")
    store_file: Path | None = Field(default=None, description="JSON lines file the mails are appended to")
    max_message_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
