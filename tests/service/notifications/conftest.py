"""Fixtures of the sealing tests (ADR 0035, 0040): users' keys as a dict, the key ring fed by it, and Mails in memory
sealing with that ring. A module that needs other Mails defines its own ``mails``."""

from __future__ import annotations

import pytest

from kc_runtime.sealing import KeyRing
from notifications.application.mails import Mails
from tests.service.notifications.test_sealed_events import MEMORY, Users


@pytest.fixture
def keys() -> Users:
    return Users()


@pytest.fixture
def ring(keys: Users) -> KeyRing:
    return KeyRing(keys.fetch)


@pytest.fixture
def mails(ring: KeyRing) -> Mails:
    return Mails(env=MEMORY, key_ring=ring)
