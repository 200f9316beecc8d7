"""The issuer's RSA signing key: generated at start, or loaded from (and saved to) a PEM file."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class SigningKey:
    private_key: rsa.RSAPrivateKey
    kid: str
    source: str
    """``generated``, ``loaded`` or ``generated+saved`` (for the start-up log)."""

    @property
    def private_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def public_jwk(self) -> dict[str, str]:
        numbers = self.private_key.public_key().public_numbers()
        return {
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": _b64url_uint(numbers.n),
            "e": _b64url_uint(numbers.e),
        }

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [self.public_jwk()]}


def thumbprint(private_key: rsa.RSAPrivateKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url): stable for the same key across restarts."""
    numbers = private_key.public_key().public_numbers()
    canonical = json.dumps(
        {"e": _b64url_uint(numbers.e), "kty": "RSA", "n": _b64url_uint(numbers.n)},
        separators=(",", ":"),
        sort_keys=True,
    )
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode("ascii")


def generate() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _load(path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{path} holds a {type(key).__name__}, not an RSA private key")
    if key.key_size < 2048:
        raise ValueError(f"{path} holds a {key.key_size}-bit RSA key; at least 2048 bits are required")
    return key


def _save(path: Path, pem: bytes) -> bool:
    """Write the key readable by the owner only; returns False if another process wrote it first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return True


def load_or_create(key_file: Path | None, kid: str | None = None) -> SigningKey:
    if key_file is None:
        key = generate()
        return SigningKey(key, kid or thumbprint(key), "generated")
    if key_file.exists():
        key = _load(key_file)
        return SigningKey(key, kid or thumbprint(key), "loaded")
    key = generate()
    signing = SigningKey(key, kid or thumbprint(key), "generated+saved")
    if not _save(key_file, signing.private_pem):  # lost a race: use the winner's key
        key = _load(key_file)
        return SigningKey(key, kid or thumbprint(key), "loaded")
    return signing
