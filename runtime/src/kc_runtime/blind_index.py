"""Blind indexes (ADR 0035, decision 4): the id of an index aggregate that finds something by a personal value (an
e-mail address) is a keyed hash of the value, not its ``uuid5``.

A ``uuid5`` of an address can be computed by anyone: whoever holds an event store (a backup, a copy made for
support) could confirm a guessed address of an erased person by looking for its id. An HMAC-SHA256 under a secret
only the service knows gives ids that tell nothing without the secret. The secret is ``<PREFIX>INDEX_SECRET``:
one per service, never changed (an index written under one secret is not found under another), a development
secret in the development profile, and no start without it anywhere else.
"""

from __future__ import annotations

import hashlib
import hmac
from uuid import UUID

from kc_runtime.settings import ServiceSettings

MIN_SECRET_BYTES = 32
DEVELOPMENT_INDEX_SECRET = b"development-only-blind-index-secret-0123456789"  # local stack and tests only


class IndexSecretMissing(SystemExit):
    """A service outside the development profile was started without its index secret."""


def blind_id(secret: bytes, namespace: str, value: str) -> UUID:
    """The id of ``value`` in the index ``namespace``: the first 128 bits of HMAC-SHA256(secret, namespace NUL
    value), marked as a version 8 (custom) UUID. The same for the same three, unrelated for another secret or
    namespace; the caller normalises ``value`` (e.g. an address stripped and lower-cased)."""
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"an index secret has at least {MIN_SECRET_BYTES} bytes")
    if "\x00" in namespace:
        raise ValueError("an index namespace contains no NUL character")
    digest = bytearray(hmac.new(secret, f"{namespace}\x00{value}".encode(), hashlib.sha256).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x80  # version 8 (RFC 9562: custom)
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122/9562 variant
    return UUID(bytes=bytes(digest))


class BlindIndex:
    """One index's ids under the service's secret: ``index.id(value)``. Never shows the secret (repr, logs)."""

    def __init__(self, secret: bytes, namespace: str) -> None:
        blind_id(secret, namespace, "")  # refuse a short secret or a bad namespace now, not at the first lookup
        self._secret = secret
        self.namespace = namespace

    def id(self, value: str) -> UUID:
        return blind_id(self._secret, self.namespace, value)

    def __repr__(self) -> str:
        return f"BlindIndex(namespace={self.namespace!r})"


def index_secret(settings: ServiceSettings) -> bytes:
    """The secret in force: the configured one (at least :data:`MIN_SECRET_BYTES` bytes); in the development profile
    the development secret; elsewhere none, and the service refuses to start (:class:`IndexSecretMissing`)."""
    prefix = settings.model_config.get("env_prefix", "")
    configured = settings.index_secret.get_secret_value().encode() if settings.index_secret is not None else b""
    if configured:
        if len(configured) < MIN_SECRET_BYTES:
            raise IndexSecretMissing(
                f"{settings.service_name}: {prefix}INDEX_SECRET has fewer than {MIN_SECRET_BYTES} bytes; set a random "
                "one (openssl rand -base64 48), and never change it afterwards."
            )
        return configured
    if settings.profile == "development":
        return DEVELOPMENT_INDEX_SECRET
    raise IndexSecretMissing(
        f"{settings.service_name}: {prefix}INDEX_SECRET is not set and the profile is {settings.profile!r}. The "
        "indexes that find people by their e-mail address are keyed with it (ADR 0035); set "
        f"{prefix}INDEX_SECRET (a secret of at least {MIN_SECRET_BYTES} bytes, never changed afterwards), or "
        "KC_PROFILE=development on a developer's machine."
    )
