"""How approval's views show a person: id and name, or an erased user (ADR 0035) whose name is gone for good."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Self
from uuid import UUID

from pydantic import BaseModel, Field


class PersonOut(BaseModel):
    id: UUID
    name: str | None = Field(description="Null: not known here, or erased")
    erased: bool = Field(
        default=False,
        description="The users service erased the person (ADR 0035): the audit keeps their id, never again their name",
    )

    @classmethod
    def of(cls, i: UUID, names: Mapping[UUID, str | None]) -> Self:
        """``names``: :meth:`Orders.names` (a plain mapping: nobody erased)."""
        erased: set[UUID] = getattr(names, "erased", set())
        return cls(id=i, name=names.get(i), erased=i in erased)
