"""Single-use confirmation tokens derived from a secret, so the token itself is never stored.

``token = base64url(HMAC-SHA256(secret, subject id | nonce))``. The aggregate that waits for the confirmation
stores the nonce and the token's SHA-256 hash; the relay derives the clear token again (with the secret) for
the one message that carries it to the mail. Someone who reads the database cannot confirm without the secret.
Used by registration (the applicant's double opt-in) and users (a new e-mail address confirming a change).
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

    def issue(self, subject_id: UUID) -> IssuedToken:
        nonce = secrets.token_hex(16)
        token = self.token_for(subject_id, nonce)
        return IssuedToken(nonce=nonce, token=token, token_hash=hash_token(token))

    def token_for(self, subject_id: UUID, nonce: str) -> str:
        mac = hmac.new(self._secret, f"{subject_id}|{nonce}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", errors="surrogatepass")).hexdigest()


def same_hash(token: str, token_hash: str) -> bool:
    """Whether ``token`` hashes to ``token_hash`` (constant time)."""
    return hmac.compare_digest(hash_token(token), token_hash)
