"""Request bodies refuse unknown fields and NUL characters (kc_runtime.models.Strict)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from kc_runtime.models import Strict


class Body(Strict):
    name: str
    tags: list[str] = []
    note: str | None = None


def test_a_body_with_plain_texts_is_taken():
    assert Body(name="Anna", tags=["a", "b"], note="ok").name == "Anna"


@pytest.mark.parametrize(
    "fields", [{"name": "An\x00na"}, {"name": "A", "tags": ["ok", "b\x00"]}, {"name": "A", "note": "\x00"}]
)
def test_a_nul_character_in_any_text_is_refused(fields):
    with pytest.raises(ValidationError, match="NUL"):
        Body(**fields)


def test_an_unknown_field_is_refused():
    with pytest.raises(ValidationError, match="extra"):
        Body(name="A", nmae="typo")
