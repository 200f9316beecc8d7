"""asyncpg connection pools without the per-release reset round trip.

asyncpg's pool resets every connection it takes back with ``SELECT pg_advisory_unlock_all(); CLOSE ALL;
UNLISTEN *; RESET ALL`` — one more round trip and four statements for the server on every ``acquire``, whatever the
connection did. Measured on the development machine: ~0.15–0.35 ms of the client's CPU and ~0.15 ms of
PostgreSQL's per acquisition, as much as the query it was taken for. Our pools' connections hold no session
state: they take transaction-scoped advisory locks only (``pg_advisory_xact_lock``), never ``LISTEN`` (followers
listen on connections of their own), ``SET`` (only ``SET LOCAL``) or cursors ``WITH HOLD``. So the reset query is
skipped; what asyncpg does on every release anyway stays (an open transaction is rolled back, listeners added
with ``add_listener`` are removed). A pool whose users need session state must use asyncpg's own reset.
"""

from __future__ import annotations

from typing import Any

import asyncpg


async def keep_session(conn: asyncpg.Connection) -> None:
    """A pool ``reset`` that sends nothing (see the module's docstring)."""


async def create_pool(dsn: str, **kwargs: Any) -> asyncpg.Pool:
    """``asyncpg.create_pool`` with :func:`keep_session` as its reset."""
    pool = await asyncpg.create_pool(dsn, reset=keep_session, **kwargs)
    assert pool is not None
    return pool
