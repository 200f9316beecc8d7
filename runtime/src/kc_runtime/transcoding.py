"""JSON transcodings for the domain's frozen dataclasses (value objects inside events)."""

from __future__ import annotations

import dataclasses
from typing import Any

from eventsourcing.persistence import Transcoding


def dataclass_transcoding(cls: type[Any]) -> Transcoding:
    """A transcoding that stores a dataclass as a dict of its fields (nested values transcoded as usual)."""
    name = f"{cls.__module__}.{cls.__qualname__}"

    class _DataclassTranscoding(Transcoding):
        type = cls

        def encode(self, obj: Any) -> dict[str, Any]:
            return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}

        def decode(self, data: dict[str, Any]) -> Any:
            return cls(**data)

    _DataclassTranscoding.name = name
    return _DataclassTranscoding()
