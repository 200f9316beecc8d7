"""Confirmation tokens of registrations: the shared derivation in :mod:`kc_runtime.tokens` (HMAC of the
registration id and a nonce; only the nonce and the token's hash are stored)."""

from kc_runtime.tokens import IssuedToken, TokenIssuer, hash_token

__all__ = ["IssuedToken", "TokenIssuer", "hash_token"]
