"""Confirmation tokens: derived from a secret, so the token itself is never stored.

``token = base64url(HMAC-SHA256(secret, registration id | nonce))``. The registration stores the nonce and the
token's SHA-256 hash; the relay derives the clear token again (with the secret) for the one message that
carries it to the mail. Someone who reads the database cannot confirm a registration without the secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True)
class IssuedToken:
    nonce: str
    token: str
    token_hash: str


class TokenIssuer:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the confirmation token secret must have at least 16 bytes")
        self._secret = secret

    def issue(self, registration_id: UUID) -> IssuedToken:
        nonce = secrets.token_hex(16)
        token = self.token_for(registration_id, nonce)
        return IssuedToken(nonce=nonce, token=token, token_hash=hash_token(token))

    def token_for(self, registration_id: UUID, nonce: str) -> str:
        mac = hmac.new(self._secret, f"{registration_id}|{nonce}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", errors="surrogatepass")).hexdigest()
