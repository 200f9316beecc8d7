"""asyncpg pools of a service's own tables (read models, projection stores, the relay's published position).

asyncpg resets a connection on its way back into a pool with a query of four statements (release advisory locks,
close cursors, unlisten, reset every setting): one more round trip per use, and at 50 orders/s most of approval's
pool queries. These pools never leave such session state behind — no advisory locks (followers lock on connections
of their own), no LISTEN, no cursor outside a transaction, settings only ``SET LOCAL`` — so their connections go
back as they are. asyncpg still rolls back a transaction left open and drops listeners itself (``Connection._reset``,
no query unless a transaction is open)."""

from __future__ import annotations

from typing import Any

import asyncpg


async def _as_it_is(_: asyncpg.Connection) -> None:
    """Nothing to undo (see the module)."""


async def create_pool(dsn: str, *, min_size: int, max_size: int, **kwargs: Any) -> asyncpg.Pool:
    """``asyncpg.create_pool`` without the reset query on release."""
    return await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, reset=_as_it_is, **kwargs)
