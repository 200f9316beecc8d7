"""users' persons' keys as registration sees them (ADR 0035, 0040), in memory: ``reserve`` makes a new applicant's
key (``PersonKeyClient.reserve``), ``fetch`` is a key ring's fetch; an erased person answers None, users away
raises ``PersonKeysUnavailable``."""

from __future__ import annotations

from uuid import UUID

from kc_runtime.person_keys import PersonKeysUnavailable
from kc_runtime.sealing import UNKNOWN, KeyRing, new_key


class UsersKeys:
    def __init__(self) -> None:
        self.keys: dict[UUID, bytes | None] = {}
        self.reserved: list[UUID] = []
        self.available = True

    def reserve(self, person_id: UUID) -> bytes:
        self._answering()
        self.reserved.append(person_id)
        key = self.keys.setdefault(person_id, new_key())
        assert key is not None, "an erased person is never reserved again"
        return key

    def fetch(self, person_id: UUID) -> bytes | None:
        self._answering()
        return self.keys.get(person_id, UNKNOWN)

    def erase(self, person_id: UUID) -> None:
        self.keys[person_id] = None

    def ring(self) -> KeyRing:
        return KeyRing(self.fetch)

    def _answering(self) -> None:
        if not self.available:
            raise PersonKeysUnavailable("users is away (test)")
