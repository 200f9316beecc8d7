"""Personal data sealed with its person's key, so that destroying the key erases it everywhere (ADR 0035).

A sealed value is text: ``kc1:<person id>:<nonce>:<ciphertext>`` (base64url without padding) — AES-256-GCM under
the person's 256-bit key, a fresh 96-bit nonce per value, and the value's *place* (``<service>/<aggregate or
table>/<field>``) with the person's id as associated data, so a value copied to another field or presented as
another person's does not open. A sealed value names the person whose key opens it (a comment is sealed with its
author's key).

:class:`KeyRing` holds the keys a process has been given, for a while: keys live in users' database only and are
fetched through ``fetch`` (users' internal endpoint); a person whose key is gone (erased) opens to ``None``, the
value every view shows as "an erased user". Nothing here logs or stores a key or an opened value.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = "kc1"
KEY_BYTES = 32
NONCE_BYTES = 12


class Unreadable(ValueError):
    """A sealed value that does not open with the key it names: altered, moved to another place, or not ours."""


def new_key() -> bytes:
    """A random 256-bit key for a new person."""
    return os.urandom(KEY_BYTES)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _associated(person: UUID, place: str) -> bytes:
    return f"{VERSION}|{person}|{place}".encode()


def seal(key: bytes, person: UUID, place: str, text: str) -> str:
    """``text`` sealed under ``person``'s ``key`` for ``place``."""
    if len(key) != KEY_BYTES:
        raise ValueError("a person's key has 32 bytes")
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, text.encode(), _associated(person, place))
    return f"{VERSION}:{person}:{_b64(nonce)}:{_b64(sealed)}"


@dataclass(frozen=True)
class Sealed:
    """The parts of a sealed value."""

    person: UUID
    nonce: bytes
    ciphertext: bytes

    @classmethod
    def parse(cls, value: str) -> Sealed:
        parts = value.split(":")
        if len(parts) != 4 or parts[0] != VERSION:
            raise Unreadable("not a sealed value")
        try:
            person = UUID(parts[1])
            nonce, ciphertext = _unb64(parts[2]), _unb64(parts[3])
        except ValueError as exc:
            raise Unreadable("not a sealed value") from exc
        if len(nonce) != NONCE_BYTES:
            raise Unreadable("not a sealed value")
        return cls(person, nonce, ciphertext)


def is_sealed(value: object) -> bool:
    """Whether ``value`` has the form of a sealed value (it is not opened)."""
    if not isinstance(value, str) or not value.startswith(VERSION + ":"):
        return False
    try:
        Sealed.parse(value)
    except Unreadable:
        return False
    return True


def person_of(value: str) -> UUID:
    """The person whose key opens ``value``."""
    return Sealed.parse(value).person


def unseal(key: bytes, place: str, value: str) -> str:
    """The text of ``value`` sealed for ``place``; :class:`Unreadable` when it does not open with ``key`` there."""
    parts = Sealed.parse(value)
    try:
        opened = AESGCM(key).decrypt(parts.nonce, parts.ciphertext, _associated(parts.person, place))
    except (InvalidTag, ValueError) as exc:
        raise Unreadable("the value does not open with its person's key at this place") from exc
    return opened.decode()


KeyFetch = Callable[[UUID], "bytes | None"]
"""A person's key from where keys are kept; ``None``: the person was erased (or never had one); :data:`UNKNOWN`:
users knows no such person (a key ring that seals keeps their values plain: no key, nobody to erase)."""

KeyFetchMany = Callable[[Sequence[UUID]], "dict[UUID, bytes | None]"]
"""The keys of several persons at once, each answered as :data:`KeyFetch` would (a person left out is fetched alone
when needed)."""

UNKNOWN = b""
"""What a :data:`KeyFetch` answers for an id users does not know as a person (test data, an ERP contact)."""


class KeyRing:
    """The keys this process was given, each kept for ``ttl_s`` at most (so an erasure elsewhere takes effect here
    within that time even if its message is late), and dropped at once by :meth:`forget` (on ``UserErased``)."""

    def __init__(
        self,
        fetch: KeyFetch,
        ttl_s: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        fetch_many: KeyFetchMany | None = None,
    ) -> None:
        self.fetch = fetch
        self.fetch_many = fetch_many
        self.ttl_s = ttl_s
        self.clock = clock
        self._keys: dict[UUID, tuple[bytes | None, float]] = {}
        self._lock = threading.Lock()

    def key(self, person: UUID) -> bytes | None:
        now = self.clock()
        with self._lock:
            known = self._keys.get(person)
        if known is not None and known[1] > now:
            return known[0]
        key = self.fetch(person)
        with self._lock:
            self._keys[person] = (key, now + self.ttl_s)
        return key

    def prefetch(self, persons: Iterable[UUID]) -> None:
        """Fetch the keys of ``persons`` this ring does not hold now in one call (``fetch_many``), so that a batch of
        values of many people costs one round trip, not one per person. Without ``fetch_many``, nothing: each key is
        fetched when first needed."""
        if self.fetch_many is None:
            return
        now = self.clock()
        with self._lock:
            missing = sorted({p for p in persons if (known := self._keys.get(p)) is None or known[1] <= now}, key=str)
        if not missing:
            return
        keys = self.fetch_many(missing)
        with self._lock:
            for person in missing:
                if person in keys:
                    self._keys[person] = (keys[person], now + self.ttl_s)

    def give(self, person: UUID, key: bytes) -> None:
        """A key made here (users, when it creates a person), so values can be sealed with it before it is stored."""
        with self._lock:
            self._keys[person] = (key, self.clock() + self.ttl_s)

    def forget(self, person: UUID) -> None:
        with self._lock:
            self._keys.pop(person, None)

    def seal(self, person: UUID, place: str, text: str) -> str:
        key = self.key(person)
        if not key:
            raise Unreadable(f"person {person} has no key (erased or not known)")
        return seal(key, person, place, text)

    def reveal(self, place: str, value: str | None) -> str | None:
        """The text of a sealed ``value`` (a plain one as it is); ``None`` once its person is erased."""
        if value is None or not is_sealed(value):
            return value
        key = self.key(person_of(value))
        if not key:  # erased (or, for a value sealed by nobody we know, never had a key)
            return None
        return unseal(key, place, value)


@dataclass(frozen=True)
class Personal:
    """The fields of an event class that hold a person's personal data (ADR 0035), declared by the application
    (``ServiceApplication.personal_data = {User.Created: Personal("users/user", ("email", "first_name"))}``).

    When a service's event store has a :class:`KeyRing` (``ServiceApplication.key_ring``), these fields are stored
    sealed with the key of the person that the ``owner`` field names (the aggregate's own id by default), for the
    place ``<place>/<field>``, and opened again when the event is read — to ``None`` once the person is erased.
    ``place`` is a stable name, not the class's topic, so a moved or renamed class still opens what it stored.
    ``owner`` and the fields may name a field of a value object or dict in the event (``"request.buyer_id"``); an
    event whose values belong to several people declares one :class:`Personal` per person (a tuple)."""

    place: str
    fields: tuple[str, ...]
    owner: str = "originator_id"

    def owner_of(self, state: dict[str, Any]) -> UUID | None:
        """The person the ``owner`` field names (an id, or its text inside a dict: a message kept as it was sent);
        None where it names nobody."""
        owner = value_at(state, self.owner)
        if isinstance(owner, str):
            try:
                return UUID(owner)
            except ValueError:
                return None
        return owner if isinstance(owner, UUID) else None

    def seal(self, ring: KeyRing, state: dict[str, Any]) -> None:
        """Seal this spec's fields of an event's ``state`` in place (text only: ``None`` and empty values stay as
        they are; a text that merely looks sealed — typed by someone — is sealed like any other). A person without a
        key (erased) keeps nothing: the field becomes ``None``. A value whose owner field names nobody stays plain
        (it is no one's personal data). A field ``"content.comment"`` is the field ``comment`` of the value (a
        dataclass or a dict) in ``content``, replaced by a copy."""
        owner = self.owner_of(state)
        if owner is None:
            return
        key: bytes | None = None
        asked = False
        for name in self.fields:
            value = value_at(state, name)
            if not isinstance(value, str) or not value:
                continue
            if not asked:
                key, asked = ring.key(owner), True
            if key == UNKNOWN:
                continue  # not a person users knows: nobody whose erasure would have to reach it
            _set(state, name, None if key is None else seal(key, owner, f"{self.place}/{name}", value))

    def open(self, ring: KeyRing, state: dict[str, Any]) -> None:
        """Open this spec's sealed fields of an event's ``state`` in place (``None`` once the person is erased;
        plain values stored before sealing stay as they are). :class:`Unreadable` for a value that was altered."""
        for name in self.fields:
            value = value_at(state, name)
            if isinstance(value, str) and value.startswith(VERSION + ":"):
                _set(state, name, ring.reveal(f"{self.place}/{name}", value))


def value_at(state: dict[str, Any], name: str) -> Any:
    """The field ``name`` of an event's or message's ``state``; ``"a.b"``: the field ``b`` of the value (a dict or
    an object) in ``a`` — one level: ``"a.b.c"`` is the field ``"b.c"`` of ``a`` (what a :class:`Personal` names);
    ``None`` where there is none."""
    head, _, leaf = name.partition(".")
    value = state.get(head)
    if not leaf or value is None:
        return value
    return value.get(leaf) if isinstance(value, dict) else getattr(value, leaf, None)


def deep_value_at(state: Any, path: str) -> Any:
    """The value at a dotted ``path`` through dicts and objects, to any depth (``"request.buyer.email"``: what a
    :class:`Personal` subclass reaching deeper names); ``None`` where there is none."""
    value = state
    for part in path.split("."):
        if value is None:
            return None
        value = value.get(part) if isinstance(value, dict) else getattr(value, part, None)
    return value


def specs_of(personal: Personal | tuple[Personal, ...]) -> tuple[Personal, ...]:
    """An event class's declaration (one :class:`Personal`, or one per person) as a tuple."""
    return personal if isinstance(personal, tuple) else (personal,)


def _set(state: dict[str, Any], name: str, value: Any) -> None:
    head, _, leaf = name.partition(".")
    if not leaf:
        state[head] = value
        return
    inner = state[head]
    if isinstance(inner, dict):
        state[head] = {**inner, leaf: value}
    elif dataclasses.is_dataclass(inner) and not isinstance(inner, type):
        state[head] = dataclasses.replace(inner, **{leaf: value})
    else:
        raise TypeError(f"{name}: a personal field inside a {type(inner).__name__} (a dataclass or a dict only)")


__all__ = [
    "UNKNOWN",
    "KeyFetch",
    "KeyFetchMany",
    "KeyRing",
    "Personal",
    "Sealed",
    "Unreadable",
    "deep_value_at",
    "is_sealed",
    "new_key",
    "person_of",
    "seal",
    "specs_of",
    "unseal",
    "value_at",
]
