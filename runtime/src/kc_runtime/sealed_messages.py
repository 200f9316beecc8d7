"""Personal fields of messages sealed on the wire (ADR 0035 decision 6).

A message class declares which of its fields hold whose personal data (``Message.personal``: ``(field, owner
field)`` pairs). The relay validates a message with its plain values, then seals those fields in the JSON it
publishes, each with its owner's key (:func:`seal_body`); a consumer opens them before it validates the body
(:func:`open_body`), so handlers and the contracts' validators only ever see plain values, and a topic read after
the person's erasure shows ciphertext only. Values of a person users does not know stay plain; a value whose
person was erased by the time it is consumed opens to null where the message allows null, and a message that cannot
be without it (a user's own name) is not handled (its ``UserErased`` follows).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from contracts import Message
from kc_runtime.sealing import VERSION, KeyRing, Personal, Unreadable, person_of, value_at

MARK = f'"{VERSION}:'.encode()
"""How a sealed value starts inside a JSON body (a quick test before a body is parsed)."""


@cache
def specs(message_type: type[Message]) -> tuple[Personal, ...]:
    """The message type's personal fields, one :class:`Personal` per owner (place ``msg/<event type>``)."""
    by_owner: dict[str, list[str]] = {}
    for field, owner in getattr(message_type, "personal", ()):
        by_owner.setdefault(owner, []).append(field)
    place = f"msg/{message_type.event_type}"
    return tuple(Personal(place, tuple(fields), owner=owner) for owner, fields in by_owner.items())


def seal_body(message: Message, ring: KeyRing | None) -> bytes:
    """The message's JSON, its personal fields sealed with their owners' keys (blocking: a key may be fetched)."""
    personal = specs(type(message))
    if ring is None or not personal:
        return message.model_dump_json().encode()
    state: dict[str, Any] = message.model_dump(mode="json")
    for spec in personal:
        spec.seal(ring, state)
    return json.dumps(state, ensure_ascii=False, separators=(",", ":")).encode()


def needs_opening(message_type: type[Message] | None, body: bytes) -> bool:
    return message_type is not None and bool(specs(message_type)) and MARK in body


def open_body(message_type: type[Message], body: bytes, ring: KeyRing) -> bytes | None:
    """``body`` with its sealed personal fields opened (blocking: a key may be fetched). A value whose person is
    erased opens to null where the message allows it (an erased approver's comment); where the message cannot be
    without it (a user's own name), ``None``: the message is not handled."""
    return _open_state(message_type, json.loads(body), ring)


def open_bodies(bodies: Sequence[tuple[type[Message], bytes]], ring: KeyRing) -> list[bytes | None]:
    """Each body opened as by :func:`open_body`, the keys of all persons named in them asked for at once first
    (:meth:`KeyRing.prefetch`): a consumer's batch of many people's messages costs one round trip to users."""
    states: list[dict[str, Any]] = [json.loads(body) for _, body in bodies]
    persons: set[UUID] = set()
    for (message_type, _), state in zip(bodies, states, strict=True):
        for spec in specs(message_type):
            for name in spec.fields:
                value = value_at(state, name)
                if _is_sealed_text(value):
                    try:
                        persons.add(person_of(value))
                    except Unreadable:
                        pass  # refused when opened, as by open_body
    ring.prefetch(persons)
    return [_open_state(t, state, ring) for (t, _), state in zip(bodies, states, strict=True)]


def _open_state(message_type: type[Message], state: dict[str, Any], ring: KeyRing) -> bytes | None:
    for spec in specs(message_type):
        sealed = [f for f in spec.fields if _is_sealed_text(value_at(state, f))]
        spec.open(ring, state)
        if any(value_at(state, f) is None and _required(message_type, f) for f in sealed):
            return None
    return json.dumps(state, ensure_ascii=False, separators=(",", ":")).encode()


def _is_sealed_text(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(f"{VERSION}:")


@cache
def _required(message_type: type[BaseModel], field: str) -> bool:
    """Whether the message cannot be without ``field`` (``"main_contact.email"``: the field of a nested model,
    required where the model itself is)."""
    head, _, leaf = field.partition(".")
    info = message_type.model_fields.get(head)
    if info is None or not info.is_required():
        return False
    if not leaf:
        return True
    inner = info.annotation
    return isinstance(inner, type) and issubclass(inner, BaseModel) and _required(inner, leaf)


__all__ = ["needs_opening", "open_bodies", "open_body", "seal_body", "specs"]
