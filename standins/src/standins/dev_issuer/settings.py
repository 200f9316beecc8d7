from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from standins._common import StandinSettings


class DevIssuerSettings(StandinSettings):
    model_config = SettingsConfigDict(env_prefix="DEV_ISSUER_", extra="ignore")

    service_name: str = "dev-issuer"
    http_port: int = 8112
    enabled: bool = Field(
        default=False,
        description="Must be true: a token issuer that signs anything must never start by accident",
    )
    issuer: str = Field(default="http://127.0.0.1:8112", description="The `iss` claim")
    key_file: Path | None = Field(
        default=None,
        description="PEM (PKCS#8) RSA private key; loaded if it exists, else generated and written",
    )
    kid: str | None = Field(default=None, description="Key id; defaults to the key's RFC 7638 thumbprint")
    max_ttl_s: int = Field(default=30 * 24 * 3600, ge=1, description="Longest token lifetime accepted")
