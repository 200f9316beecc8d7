"""The base of every request body a service accepts.

``Strict``: an unknown field is a 422 (a typo in a field name never passes silently as "not given"), and no text
holds a NUL character, which PostgreSQL, mail and the ERP cannot take — a 422 like any bad input, never a 500
from the database. Field limits and patterns come on top, per field.

    class RegistrationIn(Strict):
        customer_number: CustomerNumber
        language: Literal["de", "en"] = "de"
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        """No NUL character in any text, nor in a list of texts (422 like any bad input)."""
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(t, str) and "\x00" in t for t in texts):
            raise ValueError("must not contain a NUL character")
        return value
