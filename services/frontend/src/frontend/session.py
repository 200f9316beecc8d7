"""The backend-for-frontend's sessions: sealed into an httpOnly cookie that only this backend can open.

The session (the access token, the CSRF token, the language, a sign-in under way) is encrypted and authenticated
with AES-GCM under a key derived from ``FRONTEND_SESSION_SECRET``: the browser stores it but can neither read nor
change it, and page scripts never see it (httpOnly). Any replica opens any session, so the frontend scales like
the services (ADR 0016). The cookie is SameSite=Lax and Secure (a setting, for plain-HTTP test hosts), scoped to
the frontend's path. Every state-changing request must carry the session's CSRF token in its form (synchronizer
token) and, when the browser sends one, an Origin of this site.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

COOKIE = "kc_session"
_SEALED = (
    "id",
    "csrf",
    "created",
    "seen",
    "language",
    "access_token",
    "token_expires",
    "signed_in_at",
    "flash",
    "oidc",
)


@dataclass
class Session:
    id: str
    csrf: str
    created: float
    seen: float
    language: str | None = None
    access_token: str | None = None
    token_expires: float | None = None
    signed_in_at: float | None = None
    flash: list[tuple[str, str]] = field(default_factory=list)  # (kind, message key or text)
    oidc: dict[str, str] = field(default_factory=dict)  # state, nonce, verifier of a sign-in under way
    me: dict[str, Any] | None = None  # the caller's /api/me, read afresh on every signed-in page (never sealed)

    @property
    def signed_in(self) -> bool:
        return self.access_token is not None

    def sign_in(self, token: str, expires_in: float, me: dict[str, Any]) -> None:
        self.id = secrets.token_urlsafe(16)
        self.access_token = token
        self.token_expires = time.time() + expires_in
        self.signed_in_at = time.time()
        self.me = me
        self.language = me.get("user", {}).get("language") or self.language
        self.csrf = secrets.token_urlsafe(32)  # a new token with a new privilege level

    def sign_out(self) -> None:
        self.id = secrets.token_urlsafe(16)
        self.access_token = None
        self.token_expires = None
        self.signed_in_at = None
        self.me = None
        self.csrf = secrets.token_urlsafe(32)

    def check_csrf(self, sent: str | None) -> bool:
        return sent is not None and hmac.compare_digest(sent.encode(), self.csrf.encode())


class Sessions:
    """Seals sessions into cookie values and opens them; a session past its lifetime, idle time or token expiry,
    or a value that was not sealed with our key, is no session (a new, anonymous one is started)."""

    def __init__(self, secret: bytes, ttl_s: float, idle_s: float) -> None:
        if len(secret) < 16:
            raise ValueError("the session secret must have at least 16 bytes")
        self._aead = AESGCM(hashlib.sha256(b"kundencenter-frontend-session\0" + secret).digest())
        self.ttl_s = ttl_s
        self.idle_s = idle_s

    def new(self) -> Session:
        now = time.time()
        return Session(id=secrets.token_urlsafe(16), csrf=secrets.token_urlsafe(32), created=now, seen=now)

    def seal(self, session: Session) -> str:
        session.seen = time.time()
        data = {k: v for k, v in asdict(session).items() if k in _SEALED}
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, json.dumps(data, separators=(",", ":")).encode(), COOKIE.encode())
        return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")

    def open(self, value: str | None) -> Session | None:
        if not value or len(value) > 8000:
            return None
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            data = json.loads(self._aead.decrypt(raw[:12], raw[12:], COOKIE.encode()))
            session = Session(**{k: data[k] for k in _SEALED})
        except (ValueError, InvalidTag, KeyError, TypeError):
            return None
        session.flash = [(str(kind), str(text)) for kind, text in session.flash]
        now = time.time()
        if now - session.seen > self.idle_s or now - session.created > self.ttl_s:
            return None
        if session.token_expires is not None and now >= session.token_expires:
            return None
        return session
